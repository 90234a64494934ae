// The exact split DP: the least server workload whose placement meets the SLA, with no time
// discretisation. Instead of a table over time steps (dp.ts, which rounds every cost up and can
// miss a plan that fits), every (unit, location) state keeps its Pareto frontier of
// (server workload, latency) pairs: the placements of units 1..u ending at that location that no
// other such placement beats on both. Why this is exact (docs/split-planner.md):
//
// - Everything after unit u depends only on where unit u ran, so two partial placements ending
//   at the same (u, loc) get the same additions from then on. If A has no more workload and no
//   more latency than B, every completion of B is matched by the same completion of A, which is
//   no worse on either. Dropping B loses nothing.
// - The arithmetic is the one the plan is judged by: evaluatePlacement accumulates latency in
//   execution order (each unit's compute plus the transfer into it, then the final transfer)
//   and workload in unit order, and so does the DP, with the same operands in the same order.
//   Floating-point addition is monotone (a <= b implies fl(a + x) <= fl(b + x)), so the
//   dominance argument holds for the computed numbers too, and the DP's latency of its plan is
//   bit for bit evaluatePlacement's: an SLA equal to the optimum's latency is met, not missed by
//   rounding.
// - A partial placement whose latency plus the least latency any completion adds exceeds the
//   SLA is dropped (with 1e-9 relative slack, so float order never drops a feasible one).
//
// Each frontier is sorted by workload with latency strictly falling, so a state's frontier is
// the merge of its two predecessors' (each shifted by one transition) in linear time. The cost
// is O(U * F) for frontiers of at most F entries; F is at most the number of distinct workload
// sums, which is U + 1 when every unit carries the same workload (the analytic profile: every
// layer has the same FLOPs) and (L + 1)^2 for attention/FFN units.
import type { Endpoints } from './evaluate.js';
import { LOC_CLIENT, LOC_SERVER, OUTPUT_AT, type SplitProfile } from './types.js';

export interface ExactDpResult {
  /** The placement (0 = client, 1 = server), or null when no placement meets the SLA. */
  readonly codes: Uint8Array | null;
  /** Least server workload (Infinity when infeasible). */
  readonly serverWorkload: number;
  /** The returned placement's latency (evaluatePlacement's), Infinity when infeasible. */
  readonly latencySeconds: number;
  /** Frontier entries kept over all states (the DP's work). */
  readonly entries: number;
  /** The largest frontier of one state. */
  readonly peakFrontier: number;
}

/** Relative slack of the feasibility pruning (sums taken in another order differ by ulps). */
const PRUNE_SLACK = 1e-9;

/**
 * Scratch memory the exact DP may reuse between calls. Owned by one caller at a time; its
 * contents never affect the result.
 */
export class FrontierWorkspace {
  workload = new Float64Array(256);
  latency = new Float64Array(256);
  parent = new Int32Array(256);
  location = new Uint8Array(256);

  /** Makes room for `size` entries, keeping the first `used`. */
  ensure(size: number, used: number): void {
    if (size <= this.workload.length) return;
    let capacity = this.workload.length;
    while (capacity < size) capacity *= 2;
    const grow = <T extends Float64Array | Int32Array | Uint8Array>(old: T, make: () => T): T => {
      const next = make();
      next.set(old.subarray(0, used));
      return next;
    };
    this.workload = grow(this.workload, () => new Float64Array(capacity));
    this.latency = grow(this.latency, () => new Float64Array(capacity));
    this.parent = grow(this.parent, () => new Int32Array(capacity));
    this.location = grow(this.location, () => new Uint8Array(capacity));
  }
}

/**
 * Least latency from "unit u-1 has run at loc" to the end (units u..U-1 and the final
 * transfer), for u = 0..U: togo[2u + loc]. Only a pruning bound.
 */
function leastLatencyToGo(profile: SplitProfile, ends: Endpoints): Float64Array {
  const U = profile.clientSeconds.length;
  const togo = new Float64Array(2 * (U + 1));
  togo[2 * U + LOC_CLIENT] =
    ends.outputAt === OUTPUT_AT.server ? (profile.uploadSeconds[U] ?? 0) : 0;
  togo[2 * U + LOC_SERVER] =
    ends.outputAt === OUTPUT_AT.client ? (profile.downloadSeconds[U] ?? 0) : 0;
  for (let u = U - 1; u >= 0; u--) {
    const tc = profile.clientSeconds[u] ?? 0;
    const ts = profile.serverSeconds[u] ?? 0;
    const nextC = togo[2 * (u + 1) + LOC_CLIENT] ?? 0;
    const nextS = togo[2 * (u + 1) + LOC_SERVER] ?? 0;
    const viaClient = tc + nextC;
    const viaServer = ts + nextS;
    togo[2 * u + LOC_CLIENT] = Math.min(viaClient, ts + (profile.uploadSeconds[u] ?? 0) + nextS);
    togo[2 * u + LOC_SERVER] = Math.min(viaServer, tc + (profile.downloadSeconds[u] ?? 0) + nextC);
  }
  return togo;
}

export function solveSplitExact(
  profile: SplitProfile,
  slaSeconds: number,
  ends: Endpoints,
  workspace: FrontierWorkspace = new FrontierWorkspace(),
): ExactDpResult {
  const U = profile.clientSeconds.length;
  const none: ExactDpResult = {
    codes: null,
    serverWorkload: Infinity,
    latencySeconds: Infinity,
    entries: 0,
    peakFrontier: 0,
  };
  if (!(slaSeconds >= 0)) return none;
  const togo = leastLatencyToGo(profile, ends);
  /** Whether a partial placement at state (u, loc) with this latency can still meet the SLA. */
  const canFinish = (u: number, loc: number, latency: number): boolean =>
    (latency + (togo[2 * u + loc] ?? 0)) * (1 - PRUNE_SLACK) <= slaSeconds;

  const ws = workspace;
  // The frontiers of the previous state: [start, end) ranges per location.
  const start = ends.inputAtClient ? LOC_CLIENT : LOC_SERVER;
  ws.ensure(1, 0);
  ws.workload[0] = 0;
  ws.latency[0] = 0;
  ws.parent[0] = -1;
  ws.location[0] = start;
  let used = 1;
  const prevFrom = [0, 0];
  const prevTo = [0, 0];
  prevFrom[start] = 0;
  prevTo[start] = 1;
  let peakFrontier = 1;

  for (let u = 0; u < U; u++) {
    const tc = profile.clientSeconds[u] ?? 0;
    const ts = profile.serverSeconds[u] ?? 0;
    const w = profile.serverWorkload[u] ?? 0;
    // The same expressions evaluatePlacement uses: compute, plus the transfer into the unit.
    const intoClient = tc + (profile.downloadSeconds[u] ?? 0);
    const intoServer = ts + (profile.uploadSeconds[u] ?? 0);
    const from = [0, 0];
    const to = [0, 0];
    for (const loc of [LOC_CLIENT, LOC_SERVER] as const) {
      const other = loc === LOC_CLIENT ? LOC_SERVER : LOC_CLIENT;
      const stay = loc === LOC_CLIENT ? tc : ts;
      const move = loc === LOC_CLIENT ? intoClient : intoServer;
      const addWorkload = loc === LOC_SERVER;
      let a = prevFrom[loc] ?? 0;
      const aEnd = prevTo[loc] ?? 0;
      let b = prevFrom[other] ?? 0;
      const bEnd = prevTo[other] ?? 0;
      ws.ensure(used + (aEnd - a) + (bEnd - b), used);
      const W = ws.workload;
      const L = ws.latency;
      const P = ws.parent;
      const X = ws.location;
      const frontierStart = used;
      from[loc] = frontierStart;
      let lastLatency = Infinity;
      // Merge the two shifted frontiers by workload (ties: latency), keeping strict latency drops.
      while (a < aEnd || b < bEnd) {
        let source: number;
        let workload: number;
        let latency: number;
        const wa = a < aEnd ? (addWorkload ? (W[a] ?? 0) + w : (W[a] ?? 0)) : Infinity;
        const wb = b < bEnd ? (addWorkload ? (W[b] ?? 0) + w : (W[b] ?? 0)) : Infinity;
        const la = a < aEnd ? (L[a] ?? 0) + stay : Infinity;
        const lb = b < bEnd ? (L[b] ?? 0) + move : Infinity;
        if (wa < wb || (wa === wb && la <= lb)) {
          source = a++;
          workload = wa;
          latency = la;
        } else {
          source = b++;
          workload = wb;
          latency = lb;
        }
        if (!(latency < lastLatency) || !canFinish(u + 1, loc, latency)) continue;
        W[used] = workload;
        L[used] = latency;
        P[used] = source;
        X[used] = loc;
        used++;
        lastLatency = latency;
      }
      to[loc] = used;
      peakFrontier = Math.max(peakFrontier, used - frontierStart);
    }
    prevFrom[0] = from[0] ?? 0;
    prevFrom[1] = from[1] ?? 0;
    prevTo[0] = to[0] ?? 0;
    prevTo[1] = to[1] ?? 0;
  }

  // The final transfer to where the output must be, added as evaluatePlacement adds it.
  const finalTransfer = [
    ends.outputAt === OUTPUT_AT.server ? (profile.uploadSeconds[U] ?? 0) : 0,
    ends.outputAt === OUTPUT_AT.client ? (profile.downloadSeconds[U] ?? 0) : 0,
  ] as const;
  let best = -1;
  let bestWorkload = Infinity;
  let bestLatency = Infinity;
  for (const loc of [LOC_CLIENT, LOC_SERVER] as const) {
    for (let e = prevFrom[loc] ?? 0; e < (prevTo[loc] ?? 0); e++) {
      const latency = (ws.latency[e] ?? 0) + finalTransfer[loc];
      if (!(latency <= slaSeconds)) continue;
      // Workload rises along the frontier: the first that fits is this location's best.
      const workload = ws.workload[e] ?? 0;
      if (workload < bestWorkload || (workload === bestWorkload && latency < bestLatency)) {
        best = e;
        bestWorkload = workload;
        bestLatency = latency;
      }
      break;
    }
  }
  if (best < 0) return { ...none, entries: used, peakFrontier };
  const codes = new Uint8Array(U);
  for (let e = best, u = U - 1; u >= 0; u--) {
    codes[u] = ws.location[e] ?? 0;
    e = ws.parent[e] ?? 0;
  }
  return {
    codes,
    serverWorkload: bestWorkload,
    latencySeconds: bestLatency,
    entries: used,
    peakFrontier,
  };
}
