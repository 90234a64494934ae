// Evaluating a placement: its real latency (compute and transfer), workload and switches, and
// its cost in DP time steps (each transition's time rounded up to a whole step).
import {
  LOC_CLIENT,
  LOC_SERVER,
  LOCATION,
  OUTPUT_AT,
  SPLIT_DECISION,
  type LatencyBreakdown,
  type Location,
  type OutputAt,
  type SplitAlgorithm,
  type SplitPlan,
  type SplitProfile,
} from './types.js';

/** Where the request starts and ends. */
export interface Endpoints {
  readonly inputAtClient: boolean;
  readonly outputAt: OutputAt;
}

/** A placement as codes, one per unit: 0 = client, 1 = server. */
export type PlacementCodes = ArrayLike<number>;

export interface PlacementCost {
  readonly latency: LatencyBreakdown;
  readonly serverWorkload: number;
  readonly serverFlops: number;
  readonly clientFlops: number;
  readonly switches: number;
}

/**
 * Real (undiscretised) cost of a placement. The total latency is accumulated in execution order,
 * one term per unit (its compute plus the transfer into it, when the location changes) and then
 * the final transfer; the workload in unit order. The exact DP (frontier.ts) adds the same
 * operands in the same order, so its numbers and these agree bit for bit.
 */
export function evaluatePlacement(
  profile: SplitProfile,
  codes: PlacementCodes,
  ends: Endpoints,
): PlacementCost {
  let clientCompute = 0;
  let serverCompute = 0;
  let uplink = 0;
  let downlink = 0;
  let total = 0;
  let workload = 0;
  let serverFlops = 0;
  let clientFlops = 0;
  let switches = 0;
  let prev = ends.inputAtClient ? LOC_CLIENT : LOC_SERVER;
  const units = profile.clientSeconds.length;
  for (let u = 0; u < units; u++) {
    const loc = codes[u] === LOC_SERVER ? LOC_SERVER : LOC_CLIENT;
    let step: number;
    if (loc === LOC_SERVER) {
      step = profile.serverSeconds[u] ?? 0;
      serverCompute += step;
      workload += profile.serverWorkload[u] ?? 0;
      serverFlops += profile.flops[u] ?? 0;
    } else {
      step = profile.clientSeconds[u] ?? 0;
      clientCompute += step;
      clientFlops += profile.flops[u] ?? 0;
    }
    if (loc !== prev) {
      switches++;
      const transfer =
        loc === LOC_SERVER ? (profile.uploadSeconds[u] ?? 0) : (profile.downloadSeconds[u] ?? 0);
      if (loc === LOC_SERVER) uplink += transfer;
      else downlink += transfer;
      step += transfer;
    }
    total += step;
    prev = loc;
  }
  if (ends.outputAt === OUTPUT_AT.client && prev === LOC_SERVER) {
    switches++;
    const transfer = profile.downloadSeconds[units] ?? 0;
    downlink += transfer;
    total += transfer;
  } else if (ends.outputAt === OUTPUT_AT.server && prev === LOC_CLIENT) {
    switches++;
    const transfer = profile.uploadSeconds[units] ?? 0;
    uplink += transfer;
    total += transfer;
  }
  return {
    latency: {
      clientComputeSeconds: clientCompute,
      serverComputeSeconds: serverCompute,
      uplinkSeconds: uplink,
      downlinkSeconds: downlink,
      transferSeconds: uplink + downlink,
      totalSeconds: total,
    },
    serverWorkload: workload,
    serverFlops,
    clientFlops,
    switches,
  };
}

/**
 * Whole time steps a cost of `seconds` takes: ceil(seconds / step), nudged up so that
 * `steps * step >= seconds` also holds in floating point. Capped at `cap` (an "impossible"
 * value larger than any budget) so that huge costs stay small integers.
 */
export function quantiseUp(seconds: number, stepSeconds: number, cap: number): number {
  if (!(seconds > 0)) return 0;
  const ratio = seconds / stepSeconds;
  if (!(ratio < cap)) return cap;
  let q = Math.ceil(ratio);
  if (q * stepSeconds < seconds) q++;
  return Math.min(q, cap);
}

/** K = floor(SLA / step), nudged down so that `K * step <= SLA` holds in floating point. */
export function budgetSteps(slaSeconds: number, stepSeconds: number): number {
  if (!(slaSeconds >= 0)) return -1;
  let k = Math.floor(slaSeconds / stepSeconds);
  while (k > 0 && k * stepSeconds > slaSeconds) k--;
  return k;
}

/**
 * Cost of a placement in DP steps: every transition (a unit's compute plus the transfer into it,
 * if any) and the final transfer to the output are rounded up separately, as the DP does.
 */
export function placementSteps(
  profile: SplitProfile,
  codes: PlacementCodes,
  ends: Endpoints,
  stepSeconds: number,
  cap: number,
): number {
  let steps = 0;
  let prev = ends.inputAtClient ? LOC_CLIENT : LOC_SERVER;
  const units = profile.clientSeconds.length;
  for (let u = 0; u < units; u++) {
    const loc = codes[u] === LOC_SERVER ? LOC_SERVER : LOC_CLIENT;
    let t = loc === LOC_SERVER ? (profile.serverSeconds[u] ?? 0) : (profile.clientSeconds[u] ?? 0);
    if (loc !== prev) {
      t += loc === LOC_SERVER ? (profile.uploadSeconds[u] ?? 0) : (profile.downloadSeconds[u] ?? 0);
    }
    steps += quantiseUp(t, stepSeconds, cap);
    prev = loc;
  }
  if (ends.outputAt === OUTPUT_AT.client && prev === LOC_SERVER) {
    steps += quantiseUp(profile.downloadSeconds[units] ?? 0, stepSeconds, cap);
  } else if (ends.outputAt === OUTPUT_AT.server && prev === LOC_CLIENT) {
    steps += quantiseUp(profile.uploadSeconds[units] ?? 0, stepSeconds, cap);
  }
  return steps;
}

export function codesToLocations(codes: PlacementCodes): Location[] {
  return Array.from({ length: codes.length }, (_, u) =>
    codes[u] === LOC_SERVER ? LOCATION.server : LOCATION.client,
  );
}

/** The SLA check every algorithm uses on real latency. */
export function meetsSla(latencySeconds: number, slaSeconds: number): boolean {
  return latencySeconds <= slaSeconds;
}

/** A plan for a placement the algorithm chose. */
export function planFromCodes(
  algorithm: SplitAlgorithm,
  profile: SplitProfile,
  codes: PlacementCodes,
  ends: Endpoints,
  slaSeconds: number,
  extra: Partial<Pick<SplitPlan, 'timeStepSeconds' | 'steps' | 'note'>> = {},
): SplitPlan {
  const cost = evaluatePlacement(profile, codes, ends);
  const feasible = meetsSla(cost.latency.totalSeconds, slaSeconds);
  return {
    algorithm,
    decision: feasible ? SPLIT_DECISION.planned : SPLIT_DECISION.serverOnlyFlagged,
    feasible,
    placement: codesToLocations(codes),
    serverWorkload: cost.serverWorkload,
    serverFlops: cost.serverFlops,
    clientFlops: cost.clientFlops,
    latency: cost.latency,
    switches: cost.switches,
    ...extra,
  };
}
