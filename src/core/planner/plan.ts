// planSplit: one entry point for the DP, the oracle and the baselines, with the infeasibility
// policy applied the same way to all of them.
import {
  solveClientOnly,
  solveExhaustive,
  solvePrefixGreedy,
  solveRatioGreedy,
  solveServerOnly,
} from './baselines.js';
import { DpWorkspace, solveSplitDp } from './dp.js';
import { planFromCodes, type Endpoints } from './evaluate.js';
import { FrontierWorkspace, solveSplitExact } from './frontier.js';
import {
  DEFAULT_SPLIT_OPTIONS,
  LOC_SERVER,
  ON_INFEASIBLE,
  SPLIT_ALGORITHM,
  SPLIT_DECISION,
  SplitPlanError,
  type SplitAlgorithm,
  type SplitOptions,
  type SplitPlan,
  type SplitProfile,
} from './types.js';

/** Scratch memory planSplit may reuse across calls (one caller at a time). */
export class SplitWorkspace {
  readonly frontier = new FrontierWorkspace();
  readonly steps = new DpWorkspace();
}

export function resolveSplitOptions(options: Partial<SplitOptions> = {}): SplitOptions {
  const resolved: SplitOptions = {
    algorithm: options.algorithm ?? DEFAULT_SPLIT_OPTIONS.algorithm,
    inputAtClient: options.inputAtClient ?? DEFAULT_SPLIT_OPTIONS.inputAtClient,
    outputAt: options.outputAt ?? DEFAULT_SPLIT_OPTIONS.outputAt,
    onInfeasible: options.onInfeasible ?? DEFAULT_SPLIT_OPTIONS.onInfeasible,
    maxSteps: options.maxSteps ?? DEFAULT_SPLIT_OPTIONS.maxSteps,
  };
  return options.timeStepSeconds === undefined
    ? resolved
    : { ...resolved, timeStepSeconds: options.timeStepSeconds };
}

/** What the policy gives when no placement meets the SLA. */
function infeasiblePlan(
  algorithm: SplitAlgorithm,
  profile: SplitProfile,
  slaSeconds: number,
  options: SplitOptions,
  extra: Pick<SplitPlan, 'timeStepSeconds' | 'steps'> | Record<string, never> = {},
): SplitPlan {
  const ends: Endpoints = options;
  const serverOnly = new Uint8Array(profile.clientSeconds.length).fill(LOC_SERVER);
  const fallback = planFromCodes(algorithm, profile, serverOnly, ends, slaSeconds, extra);
  const why = `${algorithm} found no placement within the SLA of ${slaSeconds} s; server-only takes ${fallback.latency.totalSeconds} s`;
  if (options.onInfeasible === ON_INFEASIBLE.reject) {
    return {
      algorithm,
      decision: SPLIT_DECISION.rejected,
      feasible: false,
      placement: null,
      serverWorkload: 0,
      serverFlops: 0,
      clientFlops: 0,
      latency: {
        clientComputeSeconds: 0,
        serverComputeSeconds: 0,
        uplinkSeconds: 0,
        downlinkSeconds: 0,
        transferSeconds: 0,
        totalSeconds: 0,
      },
      switches: 0,
      ...extra,
      note: `rejected: ${why}`,
    };
  }
  return {
    ...fallback,
    feasible: false,
    decision: SPLIT_DECISION.serverOnlyFlagged,
    note: `served server-only, SLA at risk: ${why}`,
  };
}

/**
 * Plans the placement of one request. `slaSeconds` is the latency budget; the profile comes
 * from buildSplitProfile (or measured numbers). Never throws for an infeasible SLA: the
 * `onInfeasible` policy decides. Throws SplitPlanError for unusable options. A `workspace`
 * lets the DPs reuse their scratch memory across calls.
 */
export function planSplit(
  profile: SplitProfile,
  slaSeconds: number,
  options: Partial<SplitOptions> = {},
  workspace?: SplitWorkspace,
): SplitPlan {
  const o = resolveSplitOptions(options);
  if (!(slaSeconds >= 0 && Number.isFinite(slaSeconds))) {
    throw new SplitPlanError(`slaSeconds must be a non-negative finite number, got ${slaSeconds}`);
  }
  if (profile.clientSeconds.length === 0) throw new SplitPlanError('the model has no layers');
  const ends: Endpoints = o;
  if (o.algorithm !== SPLIT_ALGORITHM.dpSteps && o.timeStepSeconds !== undefined) {
    throw new SplitPlanError(
      `timeStepSeconds applies to algorithm ${SPLIT_ALGORITHM.dpSteps} only; ${o.algorithm} does not discretise time: drop the option or choose ${SPLIT_ALGORITHM.dpSteps}`,
    );
  }
  switch (o.algorithm) {
    case SPLIT_ALGORITHM.dp: {
      const exact = solveSplitExact(profile, slaSeconds, ends, workspace?.frontier);
      return exact.codes === null
        ? infeasiblePlan(o.algorithm, profile, slaSeconds, o)
        : planFromCodes(o.algorithm, profile, exact.codes, ends, slaSeconds);
    }
    case SPLIT_ALGORITHM.dpSteps: {
      const step = o.timeStepSeconds ?? slaSeconds / DEFAULT_SPLIT_OPTIONS.steps;
      if (!(step > 0)) return infeasiblePlan(o.algorithm, profile, slaSeconds, o);
      const dp = solveSplitDp(profile, slaSeconds, step, ends, o.maxSteps, workspace?.steps);
      const extra = { timeStepSeconds: step, steps: dp.budgetSteps };
      if (dp.codes !== null)
        return planFromCodes(o.algorithm, profile, dp.codes, ends, slaSeconds, extra);
      // Rounding up can make the DP miss a plan that fits in real time; server-only is then
      // still a valid answer if it fits.
      const serverOnly = solveServerOnly(profile, slaSeconds, ends);
      if (serverOnly.feasible) {
        return planFromCodes(o.algorithm, profile, serverOnly.codes, ends, slaSeconds, {
          ...extra,
          note: `no plan fits in ${dp.budgetSteps} steps of ${step} s after rounding up; server-only fits in real time`,
        });
      }
      return infeasiblePlan(o.algorithm, profile, slaSeconds, o, extra);
    }
    case SPLIT_ALGORITHM.exhaustive: {
      const result = solveExhaustive(profile, slaSeconds, ends);
      return result.codes === null
        ? infeasiblePlan(o.algorithm, profile, slaSeconds, o)
        : planFromCodes(o.algorithm, profile, result.codes, ends, slaSeconds);
    }
    case SPLIT_ALGORITHM.serverOnly:
    case SPLIT_ALGORITHM.clientOnly:
    case SPLIT_ALGORITHM.prefixGreedy:
    case SPLIT_ALGORITHM.ratioGreedy: {
      const solve = {
        [SPLIT_ALGORITHM.serverOnly]: solveServerOnly,
        [SPLIT_ALGORITHM.clientOnly]: solveClientOnly,
        [SPLIT_ALGORITHM.prefixGreedy]: solvePrefixGreedy,
        [SPLIT_ALGORITHM.ratioGreedy]: solveRatioGreedy,
      }[o.algorithm];
      const result = solve(profile, slaSeconds, ends);
      return result.feasible
        ? planFromCodes(o.algorithm, profile, result.codes, ends, slaSeconds)
        : infeasiblePlan(o.algorithm, profile, slaSeconds, o);
    }
  }
}

/**
 * The share of the request's FLOPs that runs on the server (1 for server-only, 0 for
 * client-only; 1 when rejected, as nothing is offloaded). This is what the scheduler multiplies
 * into the request's compute cost.
 */
export function serverFlopsFraction(plan: SplitPlan): number {
  const total = plan.serverFlops + plan.clientFlops;
  return plan.placement === null || total <= 0 ? 1 : plan.serverFlops / total;
}
