// Warming the single-node solvers up in a fresh process. V8 compiles a function on its first
// call and runs it in its interpreter until it has been called often enough to be optimised, so a
// process's first sweep decision at 256 requests costs about 10 ms (static padding) to 20 ms
// (ragged) where a warm process takes 1-4 ms; most of that is interpreted execution, which a
// compile cache does not remove (docs/scheduling-solvers.md, "Cold"). A long-running caller (the
// operator) therefore runs these synthetic decisions once at start-up, before its first round:
// they decide nothing and their results are dropped; what remains is V8's compiled and optimised
// code for the solvers. The defaults (20 rounds of the four padding x objective pairs at 256
// requests, about 0.3 s) are what it took for a fresh process's first real decision at 256 to
// run at warm speed on every pair: with 3 rounds at 128 requests the exact cell search of
// objective tokens was still interpreted (2 of 10 static and 2 of 10 ragged first decisions
// over 10 ms; docs/scheduling-solvers.md, "Cold"). Each decision first plans the splits of a
// few of its requests, as a round does for requests with a client profile, so the split
// planner is warm too. Pure: the caller passes the clock.
import type { ModelVariant, NodeResources, Objective, Padding } from '../model/types.js';
import { COST_DEFAULTS, OBJECTIVE, PADDING } from '../model/types.js';
import { createRng, uniform, uniformInt } from '../random.js';
import { schedule } from './schedule.js';
import { SPLIT_MODE, withSplitPlans, type SplitRequestContext } from './split.js';
import { POLICY, type Policy, type ScheduleInstance } from './types.js';

/** A 7B-class model in FP16 on a 24 GB edge GPU: memory and deadlines both bind. */
const NODE: NodeResources = {
  memoryBytes: 24e9,
  computeFlops: 125e12,
  utilization: 0.5,
  uplinkBandwidthHz: 10e6,
  downlinkBandwidthHz: 20e6,
};
const MODEL: ModelVariant = {
  name: 'warm-up',
  quantization: 'FP16',
  layers: 32,
  hiddenSize: 4096,
  ffnSize: 11008,
  kvWidth: 4096,
  parameters: 6.74e9,
  weightBits: 16,
  kvBits: 16,
  computeFactor: 1,
  perplexity: 5.47,
};

/**
 * A synthetic instance of `n` requests (prompts 64-1024, outputs 32-512, deadlines 1-6 s). One
 * request in four carries a split plan's server fraction (0.5-1), so that the compiled code has
 * seen fractional per-request scales as well as whole ones: a field V8 has only seen holding
 * small integers changes representation, and deoptimises the code that reads it, when the first
 * fraction arrives (model/fixed-shape.ts says more).
 */
export function warmUpInstance(
  n: number,
  seed: number,
  padding: Padding,
  objective: Objective,
): ScheduleInstance {
  const rng = createRng(seed);
  const requests = Array.from({ length: n }, (_, i) => ({
    id: `warm-up-${String(i)}`,
    promptTokens: uniformInt(rng, 64, 1024),
    maxTokens: uniformInt(rng, 32, 512),
    latencyBudgetSeconds: uniform(rng, 1, 6),
    maxPerplexityIncrease: 1,
    uplinkSpectralEfficiency: uniform(rng, 1, 6),
    downlinkSpectralEfficiency: uniform(rng, 1, 6),
    ...(i === n - 1 ? { serverComputeFraction: uniform(rng, 0.5, 1) } : {}),
  }));
  return {
    node: NODE,
    model: MODEL,
    bestPerplexity: MODEL.perplexity,
    requests,
    options: { ...COST_DEFAULTS, padding, objective },
  };
}

export interface WarmUpOptions {
  /** Policies to warm (default: the sweep, the default policy everywhere). */
  readonly policies?: readonly Policy[];
  /** Decisions per policy, padding and objective (default 20). */
  readonly rounds?: number;
  /** Requests per synthetic instance (default 256). */
  readonly requests?: number;
  /** Budget of each decision in seconds (default 0.05). */
  readonly maxSeconds?: number;
  /**
   * No round starts after this many seconds (default 1): the sweep's 80 default decisions take
   * about 0.3 s, DFTSP's would take 4 s (each runs to its budget at 256 requests).
   */
  readonly totalSeconds?: number;
  /**
   * A batch size cap for every second round (a cap that binds changes where the sweep spends
   * its time: docs/scheduling-solvers.md); default none, so no round is capped.
   */
  readonly maxBatchSize?: number;
}

export const WARM_UP_DEFAULTS = {
  policies: [POLICY.sweep],
  rounds: 20,
  requests: 256,
  maxSeconds: 0.05,
  totalSeconds: 1,
} as const satisfies Omit<Required<WarmUpOptions>, 'maxBatchSize'>;

/** Requests of each synthetic instance whose split the warm-up plans (withSplitPlans). */
const SPLIT_PLANS_PER_DECISION = 8;

/**
 * Plans the split of the first requests of `instance` for clients drawn from `seed` (10 GFLOP/s
 * to 10 TFLOP/s, 1 MB/s to 1 GB/s each way): the path a round takes for requests with
 * spec.client before its decision, warmed with the rest. The plans are dropped.
 */
function warmUpSplitPlans(instance: ScheduleInstance, seed: number): number {
  const rng = createRng(seed);
  const logUniform = (lo: number, hi: number): number =>
    Math.exp(uniform(rng, Math.log(lo), Math.log(hi)));
  const splits = new Map<string, SplitRequestContext>();
  for (const r of instance.requests.slice(0, SPLIT_PLANS_PER_DECISION)) {
    splits.set(r.id, {
      split: SPLIT_MODE.auto,
      client: {
        computeFlops: logUniform(1e10, 1e13),
        uplinkBytesPerSecond: logUniform(1e6, 1e9),
        downlinkBytesPerSecond: logUniform(1e6, 1e9),
      },
    });
  }
  return withSplitPlans(instance, splits, { partialModelExecution: true }).assignments.size;
}

/**
 * Runs the synthetic decisions, each after planning the splits of a few of its requests;
 * returns how many decisions and split plans ran and the seconds they took on `clock`.
 */
export function warmUpSolvers(
  clock: () => number,
  options: WarmUpOptions = {},
): { decisions: number; splitPlans: number; seconds: number } {
  const o = { ...WARM_UP_DEFAULTS, ...options };
  const started = clock();
  let decisions = 0;
  let splitPlans = 0;
  for (let round = 0; round < o.rounds && clock() - started < o.totalSeconds; round++) {
    for (const policy of o.policies) {
      for (const padding of [PADDING.static, PADDING.ragged]) {
        for (const objective of [OBJECTIVE.requests, OBJECTIVE.tokens]) {
          const instance = warmUpInstance(o.requests, 1 + decisions, padding, objective);
          splitPlans += warmUpSplitPlans(instance, 1 + decisions);
          const capped = round % 2 === 1 && options.maxBatchSize !== undefined;
          schedule(
            capped ? { ...instance, maxBatchSize: options.maxBatchSize } : instance,
            policy,
            {
              budget: { maxSeconds: o.maxSeconds, clock },
            },
          );
          decisions++;
        }
      }
    }
  }
  return { decisions, splitPlans, seconds: clock() - started };
}
