// The exhaustive oracle and the baselines. All of them judge feasibility on real
// (undiscretised) latency, except the oracle when it is given a time step: then it uses exactly
// the DP's rounded costs, which is what makes "DP equals the oracle" an exact statement.
// The greedy baselines are ours: the paper's greedy method could not be read.
import {
  budgetSteps,
  evaluatePlacement,
  meetsSla,
  placementSteps,
  type Endpoints,
} from './evaluate.js';
import {
  DEFAULT_SPLIT_OPTIONS,
  LOC_CLIENT,
  LOC_SERVER,
  SplitPlanError,
  type SplitProfile,
} from './types.js';

/** A baseline's answer: the placement it settles on and whether that meets the SLA. */
export interface BaselineResult {
  readonly codes: Uint8Array;
  readonly feasible: boolean;
}

export interface ExhaustiveResult {
  /** The best feasible placement, or null when none is feasible. */
  readonly codes: Uint8Array | null;
  readonly serverWorkload: number;
  /** Placements evaluated (2^U). */
  readonly evaluated: number;
}

/**
 * Tries all 2^U placements; returns the least server workload among those that meet the SLA
 * (ties: lower latency). With `timeStepSeconds`, "meets the SLA" means "fits in K steps with
 * every transition rounded up", as in the DP; without it, real latency <= SLA.
 */
export function solveExhaustive(
  profile: SplitProfile,
  slaSeconds: number,
  ends: Endpoints,
  timeStepSeconds?: number,
  maxUnits: number = DEFAULT_SPLIT_OPTIONS.maxExhaustiveUnits,
): ExhaustiveResult {
  const U = profile.clientSeconds.length;
  if (U > maxUnits) {
    throw new SplitPlanError(
      `exhaustive search over ${U} units (2^${U} placements) exceeds the limit of ${maxUnits} units`,
    );
  }
  const K = timeStepSeconds === undefined ? 0 : budgetSteps(slaSeconds, timeStepSeconds);
  const codes = new Uint8Array(U);
  let best: Uint8Array | null = null;
  let bestWorkload = Infinity;
  let bestLatency = Infinity;
  const total = 2 ** U;
  for (let mask = 0; mask < total; mask++) {
    for (let u = 0; u < U; u++) codes[u] = (mask >>> u) & 1;
    const cost = evaluatePlacement(profile, codes, ends);
    const fits =
      timeStepSeconds === undefined
        ? meetsSla(cost.latency.totalSeconds, slaSeconds)
        : K >= 0 && placementSteps(profile, codes, ends, timeStepSeconds, K + 1) <= K;
    if (!fits) continue;
    if (
      cost.serverWorkload < bestWorkload ||
      (cost.serverWorkload === bestWorkload && cost.latency.totalSeconds < bestLatency)
    ) {
      best = Uint8Array.from(codes);
      bestWorkload = cost.serverWorkload;
      bestLatency = cost.latency.totalSeconds;
    }
  }
  return { codes: best, serverWorkload: bestWorkload, evaluated: total };
}

function uniform(units: number, loc: number): Uint8Array {
  return new Uint8Array(units).fill(loc);
}

function feasibleResult(
  profile: SplitProfile,
  codes: Uint8Array,
  ends: Endpoints,
  slaSeconds: number,
): BaselineResult {
  const cost = evaluatePlacement(profile, codes, ends);
  return { codes, feasible: meetsSla(cost.latency.totalSeconds, slaSeconds) };
}

export function solveServerOnly(
  profile: SplitProfile,
  slaSeconds: number,
  ends: Endpoints,
): BaselineResult {
  return feasibleResult(
    profile,
    uniform(profile.clientSeconds.length, LOC_SERVER),
    ends,
    slaSeconds,
  );
}

export function solveClientOnly(
  profile: SplitProfile,
  slaSeconds: number,
  ends: Endpoints,
): BaselineResult {
  return feasibleResult(
    profile,
    uniform(profile.clientSeconds.length, LOC_CLIENT),
    ends,
    slaSeconds,
  );
}

/**
 * Prefix greedy (ours): the first k units on the client, the rest on the server, with the
 * largest k that meets the SLA (k = 0 is server-only, k = U client-only). Infeasible when no k is.
 */
export function solvePrefixGreedy(
  profile: SplitProfile,
  slaSeconds: number,
  ends: Endpoints,
): BaselineResult {
  const U = profile.clientSeconds.length;
  for (let k = U; k >= 0; k--) {
    const codes = uniform(U, LOC_SERVER).fill(LOC_CLIENT, 0, k);
    const result = feasibleResult(profile, codes, ends, slaSeconds);
    if (result.feasible) return result;
  }
  return { codes: uniform(U, LOC_SERVER), feasible: false };
}

/**
 * Ratio greedy (ours): start from server-only; repeatedly move to the client the server unit
 * with the most workload saved per second of latency added (a move that adds no latency comes
 * first), among the moves that keep the SLA; stop when no move does. Infeasible when
 * server-only is.
 */
export function solveRatioGreedy(
  profile: SplitProfile,
  slaSeconds: number,
  ends: Endpoints,
): BaselineResult {
  const U = profile.clientSeconds.length;
  const codes = uniform(U, LOC_SERVER);
  let latency = evaluatePlacement(profile, codes, ends).latency.totalSeconds;
  if (!meetsSla(latency, slaSeconds)) return { codes, feasible: false };
  for (;;) {
    let bestUnit = -1;
    let bestScore = -Infinity;
    let bestLatency = latency;
    for (let u = 0; u < U; u++) {
      if (codes[u] !== LOC_SERVER) continue;
      codes[u] = LOC_CLIENT;
      const moved = evaluatePlacement(profile, codes, ends).latency.totalSeconds;
      codes[u] = LOC_SERVER;
      if (!meetsSla(moved, slaSeconds)) continue;
      const saved = profile.serverWorkload[u] ?? 0;
      const added = moved - latency;
      const score = added <= 0 ? Infinity : saved / added;
      if (score > bestScore) {
        bestScore = score;
        bestUnit = u;
        bestLatency = moved;
      }
    }
    if (bestUnit < 0) return { codes, feasible: true };
    codes[bestUnit] = LOC_CLIENT;
    latency = bestLatency;
  }
}
