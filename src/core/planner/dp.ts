// The split DP of spec/split.md as the spec writes it (algorithm `dp-steps`, kept for reference;
// the planner's `dp` is the exact frontier DP of frontier.ts). Time is discretised in steps of
// `delta`; every cost is rounded UP to whole steps, so any plan the DP accepts has a real latency
// within K*delta <= SLA, but a plan that fits only by less than the rounding is missed.
//
//   V[u][loc][k] = least server workload of units 1..u, unit u at loc, using at most k steps
//   V[0][input][k] = 0, V[0][other][k] = +inf
//   V[u][client][k] = min(V[u-1][client][k - q(tc_u)], V[u-1][server][k - q(tc_u + dn_{u-1})])
//   V[u][server][k] = w_u + min(V[u-1][server][k - q(ts_u)], V[u-1][client][k - q(ts_u + up_{u-1})])
//   answer = min over loc of V[U][loc][K - q(final transfer from loc)]
//
// V is kept for two consecutive units only (Float64Arrays of 2*(K+1)); the back-pointers (the
// previous location of each state, two bits per (unit, k)) are a Uint8Array of (U+1)*(K+1).
// O(U*K) time and memory. Among placements of least workload the
// DP returns one that uses the fewest steps (the least discretised latency).
import { budgetSteps, quantiseUp, type Endpoints } from './evaluate.js';
import { LOC_CLIENT, LOC_SERVER, OUTPUT_AT, SplitPlanError, type SplitProfile } from './types.js';

export interface DpResult {
  /** The placement (0 = client, 1 = server), or null when nothing fits in K steps. */
  readonly codes: Uint8Array | null;
  /** Least server workload (Infinity when infeasible). */
  readonly serverWorkload: number;
  /** Steps the returned placement uses (its discretised latency is steps * delta). */
  readonly stepsUsed: number;
  /** K = floor(SLA / delta). */
  readonly budgetSteps: number;
  readonly timeStepSeconds: number;
}

/**
 * Scratch memory the DP may reuse between calls (to plan many requests without allocating).
 * Owned by one caller at a time; its contents never affect the result.
 */
export class DpWorkspace {
  private values = new Float64Array(0);
  private values2 = new Float64Array(0);
  private pointers = new Uint8Array(0);

  /** Two V buffers of `valueLength` and a back-pointer buffer of `backLength` entries. */
  take(valueLength: number, backLength: number): [Float64Array, Float64Array, Uint8Array] {
    if (this.values.length < valueLength) {
      this.values = new Float64Array(valueLength);
      this.values2 = new Float64Array(valueLength);
    }
    if (this.pointers.length < backLength) this.pointers = new Uint8Array(backLength);
    return [
      this.values.subarray(0, valueLength),
      this.values2.subarray(0, valueLength),
      this.pointers.subarray(0, backLength),
    ];
  }
}

export function solveSplitDp(
  profile: SplitProfile,
  slaSeconds: number,
  timeStepSeconds: number,
  ends: Endpoints,
  maxSteps: number,
  workspace?: DpWorkspace,
): DpResult {
  if (!(timeStepSeconds > 0 && Number.isFinite(timeStepSeconds))) {
    throw new SplitPlanError(`timeStepSeconds must be positive, got ${timeStepSeconds}`);
  }
  const K = budgetSteps(slaSeconds, timeStepSeconds);
  const none: DpResult = {
    codes: null,
    serverWorkload: Infinity,
    stepsUsed: 0,
    budgetSteps: Math.max(K, 0),
    timeStepSeconds,
  };
  if (K < 0) return none;
  if (K > maxSteps) {
    throw new SplitPlanError(
      `SLA / timeStepSeconds = ${K} steps exceeds the limit of ${maxSteps}; use a coarser time step`,
    );
  }
  const U = profile.clientSeconds.length;
  const S = K + 1;
  const cap = S; // any cost of more than K steps can never fit
  // V rolls over two layers (previous and current). Each holds a client row and a server row,
  // each preceded by S entries of +inf, so that reading k - q < 0 needs no branch (q <= S).
  // The back-pointers of every layer are kept, packed: bit 0 = previous location of the client
  // state, bit 1 = previous location of the server state.
  const C = S; // offset of the client row
  const SV = 3 * S; // offset of the server row
  const inf = Infinity;
  const [bufA, bufB, back] = (workspace ?? new DpWorkspace()).take(4 * S, (U + 1) * S);
  let prev = bufA.fill(inf);
  let cur = bufB.fill(inf);
  // Transition costs in steps, per unit: [stay client, switch server->client, stay server,
  // switch client->server]. Kept so that backtracking uses exactly the same numbers.
  const qStayC = new Int32Array(U);
  const qSwC = new Int32Array(U);
  const qStayS = new Int32Array(U);
  const qSwS = new Int32Array(U);

  const start = ends.inputAtClient ? C : SV;
  prev.fill(0, start, start + S);

  for (let u = 1; u <= U; u++) {
    const i = u - 1;
    const tc = profile.clientSeconds[i] ?? 0;
    const ts = profile.serverSeconds[i] ?? 0;
    const w = profile.serverWorkload[i] ?? 0;
    const qc = quantiseUp(tc, timeStepSeconds, cap);
    const qcs = quantiseUp(tc + (profile.downloadSeconds[i] ?? 0), timeStepSeconds, cap);
    const qs = quantiseUp(ts, timeStepSeconds, cap);
    const qsc = quantiseUp(ts + (profile.uploadSeconds[i] ?? 0), timeStepSeconds, cap);
    qStayC[i] = qc;
    qSwC[i] = qcs;
    qStayS[i] = qs;
    qSwS[i] = qsc;
    const row = u * S;
    // unit u on the client comes from the client row (stay) or the server row (switch);
    // unit u on the server from the server row (stay) or the client row (switch)
    const fromCC = C - qc;
    const fromSC = SV - qcs;
    const fromSS = SV - qs;
    const fromCS = C - qsc;
    for (let k = 0; k < S; k++) {
      const a = prev[fromCC + k] as number;
      const b = prev[fromSC + k] as number;
      const c = prev[fromSS + k] as number;
      const d = prev[fromCS + k] as number;
      let bits = 0;
      if (a <= b) {
        cur[C + k] = a;
      } else {
        cur[C + k] = b;
        bits = 1;
      }
      if (c <= d) {
        cur[SV + k] = w + c;
        bits |= 2;
      } else {
        cur[SV + k] = w + d;
      }
      back[row + k] = bits;
    }
    const t = prev;
    prev = cur;
    cur = t;
  }
  const last = prev;

  // Final transfer to where the output must be.
  const finalDown = quantiseUp(profile.downloadSeconds[U] ?? 0, timeStepSeconds, cap);
  const finalUp = quantiseUp(profile.uploadSeconds[U] ?? 0, timeStepSeconds, cap);
  const qEnd = [
    ends.outputAt === OUTPUT_AT.server ? finalUp : 0,
    ends.outputAt === OUTPUT_AT.client ? finalDown : 0,
  ] as const;

  let best = inf;
  for (const loc of [LOC_CLIENT, LOC_SERVER] as const) {
    const k = K - qEnd[loc];
    if (k < 0) continue;
    const v = last[(loc === LOC_CLIENT ? C : SV) + k] as number;
    if (v < best) best = v;
  }
  if (best === inf) return none;

  // The fewest steps reaching the least workload (V is non-increasing in k).
  let endLoc: number = LOC_CLIENT;
  let endK = -1;
  let endTotal = Infinity;
  for (const loc of [LOC_CLIENT, LOC_SERVER] as const) {
    const row = loc === LOC_CLIENT ? C : SV;
    const limit = K - qEnd[loc];
    if (limit < 0 || (last[row + limit] as number) !== best) continue;
    let lo = 0;
    let hi = limit;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((last[row + mid] as number) === best) hi = mid;
      else lo = mid + 1;
    }
    if (lo + qEnd[loc] < endTotal) {
      endTotal = lo + qEnd[loc];
      endLoc = loc;
      endK = lo;
    }
  }

  const codes = new Uint8Array(U);
  let loc = endLoc;
  let k = endK;
  for (let u = U; u >= 1; u--) {
    const i = u - 1;
    codes[i] = loc;
    const bits = back[u * S + k] as number;
    const from = loc === LOC_CLIENT ? bits & 1 : (bits >> 1) & 1;
    const cost =
      loc === LOC_CLIENT
        ? from === LOC_CLIENT
          ? qStayC[i]
          : qSwC[i]
        : from === LOC_SERVER
          ? qStayS[i]
          : qSwS[i];
    k -= cost ?? 0;
    loc = from;
  }
  return {
    codes,
    serverWorkload: best,
    stepsUsed: endTotal,
    budgetSteps: K,
    timeStepSeconds,
  };
}
