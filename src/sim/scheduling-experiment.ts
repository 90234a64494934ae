// The scheduling experiment (spec §6): throughput of DFTSP against every baseline as the number
// of users grows, per quantization variant, and DFTSP's complexity against brute force.
// Pure computation over a seeded random source; the clock (for solver timings) is passed in.
import type { ModelVariant, RequestDemand } from '../core/model/types.js';
import { createRng, uniform, uniformInt, type Random } from '../core/random.js';
import { schedule } from '../core/scheduler/schedule.js';
import { POLICY, type Policy, type ScheduleInstance } from '../core/scheduler/types.js';
import { defined } from '../util/objects.js';
import type { SchedulingScenario } from './scheduling-scenario.js';

/** Every policy the simulator compares; brute force's node count is 2^N, no need to run it. */
export const SIMULATED_POLICIES: readonly Policy[] = [
  POLICY.dftsp,
  POLICY.fcfs,
  POLICY.greedy,
  POLICY.edf,
  POLICY.random,
  POLICY.single,
];

export interface ThroughputRow {
  readonly variant: string;
  readonly users: number;
  readonly policy: Policy;
  /** Mean requests served per epoch (the objective). */
  readonly requestsPerEpoch: number;
  readonly tokensPerEpoch: number;
  /** Mean of batch size / predicted epoch time, over trials with a non-empty batch. */
  readonly requestsPerSecond: number;
  readonly meanNodesEvaluated: number;
  readonly meanSolveMilliseconds: number;
  /** Share of trials whose decision is proven optimal. */
  readonly optimalShare: number;
}

export interface ComplexityRow {
  readonly variant: string;
  readonly users: number;
  readonly dftspNodesMedian: number;
  readonly dftspNodesMax: number;
  readonly bruteForceNodes: number;
  /** 1 - median DFTSP nodes / 2^N. */
  readonly reduction: number;
}

export interface SchedulingExperiment {
  readonly scenario: string;
  readonly throughput: readonly ThroughputRow[];
  readonly complexity: readonly ComplexityRow[];
}

export function variantsOf(scenario: SchedulingScenario): ModelVariant[] {
  return scenario.variants.map((v) => ({
    ...scenario.model,
    quantization: v.quantization,
    weightBits: v.weightBits,
    computeFactor: v.computeFactor,
    perplexity: v.perplexity,
  }));
}

/** One node's scheduling instance in the scenario: its node, `variant` and `requests`. */
export function scenarioInstance(
  scenario: SchedulingScenario,
  variant: ModelVariant,
  requests: readonly RequestDemand[],
  options: Partial<SchedulingScenario['options']> = {},
): ScheduleInstance {
  return {
    node: defined(scenario.node),
    model: variant,
    bestPerplexity: Math.min(...variantsOf(scenario).map((v) => v.perplexity)),
    requests,
    options: { ...scenario.options, ...options },
  };
}

export function drawRequests(
  scenario: SchedulingScenario,
  users: number,
  rng: Random,
): RequestDemand[] {
  const r = scenario.requests;
  return Array.from({ length: users }, (_, i) => ({
    id: `u${i}`,
    promptTokens: uniformInt(rng, r.promptTokens[0], r.promptTokens[1]),
    maxTokens: uniformInt(rng, r.maxTokens[0], r.maxTokens[1]),
    latencyBudgetSeconds: uniform(rng, r.latencyBudgetSeconds[0], r.latencyBudgetSeconds[1]),
    maxPerplexityIncrease: uniform(rng, r.maxPerplexityIncrease[0], r.maxPerplexityIncrease[1]),
    uplinkSpectralEfficiency: uniform(
      rng,
      r.uplinkSpectralEfficiency[0],
      r.uplinkSpectralEfficiency[1],
    ),
    downlinkSpectralEfficiency: uniform(
      rng,
      r.downlinkSpectralEfficiency[0],
      r.downlinkSpectralEfficiency[1],
    ),
  }));
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

const mean = (values: readonly number[]): number =>
  values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;

export function runSchedulingExperiment(
  scenario: SchedulingScenario,
  clock: () => number,
  policies: readonly Policy[] = SIMULATED_POLICIES,
): SchedulingExperiment {
  const variants = variantsOf(scenario);
  const throughput: ThroughputRow[] = [];
  const complexity: ComplexityRow[] = [];
  for (const variant of variants) {
    for (const users of scenario.users) {
      // Common random numbers: every policy sees the same draws.
      const rng = createRng(scenario.seed + users * 7919);
      const instances: ScheduleInstance[] = Array.from({ length: scenario.trials }, () =>
        scenarioInstance(scenario, variant, drawRequests(scenario, users, rng)),
      );
      for (const policy of policies) {
        const served: number[] = [];
        const tokens: number[] = [];
        const rates: number[] = [];
        const nodes: number[] = [];
        const millis: number[] = [];
        let optimal = 0;
        instances.forEach((instance, t) => {
          const started = clock();
          const result = schedule(instance, policy, {
            rng: createRng(scenario.seed ^ (t * 2654435761)),
            budget: { maxNodes: scenario.maxNodes },
          });
          millis.push((clock() - started) * 1000);
          served.push(result.requests);
          tokens.push(result.tokens);
          if (result.requests > 0) rates.push(result.requests / result.predicted.totalSeconds);
          nodes.push(result.nodesEvaluated);
          if (result.optimal) optimal++;
        });
        throughput.push({
          variant: variant.quantization,
          users,
          policy,
          requestsPerEpoch: mean(served),
          tokensPerEpoch: mean(tokens),
          requestsPerSecond: mean(rates),
          meanNodesEvaluated: mean(nodes),
          meanSolveMilliseconds: mean(millis),
          optimalShare: optimal / instances.length,
        });
        if (policy === POLICY.dftsp) {
          const bruteForceNodes = 2 ** users;
          const med = median(nodes);
          complexity.push({
            variant: variant.quantization,
            users,
            dftspNodesMedian: med,
            dftspNodesMax: Math.max(...nodes),
            bruteForceNodes,
            reduction: 1 - med / bruteForceNodes,
          });
        }
      }
    }
  }
  return { scenario: scenario.name, throughput, complexity };
}
