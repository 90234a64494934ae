// The split-planning experiment behind `edgellm simulate --split` (spec/split.md, "Baselines
// and checks"): on a documented mix of request types, how much server workload the DP saves
// against server-only and against our two greedy baselines, and what that does to a server
// queue (Poisson arrivals, one server, FCFS, service time = server workload / server FLOP/s).
// Pure computation: configuration and a seeded random source in, tables and data out.
import {
  buildSplitProfile,
  GRANULARITY,
  planSplit,
  SPLIT_ALGORITHM,
  type SplitAlgorithm,
  type SplitPlan,
} from '../core/planner/index.js';
import type { Random } from '../core/random.js';

export interface ExperimentModel {
  readonly name: string;
  readonly layers: number;
  readonly hiddenSize: number;
  readonly ffnSize: number;
  readonly bytesPerElement: number;
}
export interface ExperimentPrompt {
  readonly name: string;
  readonly promptTokens: number;
  readonly outputTokens: number;
  /** The SLA levels a request of this shape comes with (one request type per level). */
  readonly slaSeconds: readonly number[];
}
export interface ExperimentClient {
  readonly name: string;
  readonly computeFlops: number;
}
export interface ExperimentLink {
  readonly name: string;
  readonly uplinkBytesPerSecond: number;
  readonly downlinkBytesPerSecond: number;
}

export interface SplitExperimentConfig {
  readonly models: readonly ExperimentModel[];
  readonly prompts: readonly ExperimentPrompt[];
  readonly clients: readonly ExperimentClient[];
  readonly links: readonly ExperimentLink[];
  /** Effective FLOP/s of the one server. */
  readonly serverComputeFlops: number;
  /** K of `dp-steps`, the spec's discretised DP (time step = SLA / K). */
  readonly steps: number;
  readonly queueing: {
    /** Arrivals simulated per (algorithm, rate). */
    readonly arrivals: number;
    /** Arrival rates as multiples of the server-only capacity 1 / E[service time]. */
    readonly loadFactors: readonly number[];
    /** A rate counts as sustained when the p99 waiting time stays within this. */
    readonly waitTargetSeconds: number;
  };
}

/**
 * The documented mix. Every value is an assumption of ours (the paper's setup could not be
 * read): two model shapes, short and long prompts each with a tight and a loose SLA, three
 * client speeds and three links, all combinations equally likely (72 request types).
 */
export const SPLIT_EXPERIMENT_DEFAULTS: SplitExperimentConfig = {
  models: [
    { name: 'gpt2-small-like', layers: 12, hiddenSize: 768, ffnSize: 3072, bytesPerElement: 2 },
    { name: '7b-like', layers: 32, hiddenSize: 4096, ffnSize: 11008, bytesPerElement: 2 },
  ],
  prompts: [
    { name: 'short', promptTokens: 128, outputTokens: 32, slaSeconds: [0.5, 2] },
    { name: 'long', promptTokens: 1024, outputTokens: 128, slaSeconds: [2, 8] },
  ],
  clients: [
    { name: 'phone-cpu', computeFlops: 5e10 },
    { name: 'phone-npu', computeFlops: 5e11 },
    { name: 'laptop-gpu', computeFlops: 5e12 },
  ],
  links: [
    { name: '10/40 Mbit/s', uplinkBytesPerSecond: 1.25e6, downlinkBytesPerSecond: 5e6 },
    { name: '100/400 Mbit/s', uplinkBytesPerSecond: 1.25e7, downlinkBytesPerSecond: 5e7 },
    { name: '1/1 Gbit/s', uplinkBytesPerSecond: 1.25e8, downlinkBytesPerSecond: 1.25e8 },
  ],
  serverComputeFlops: 1e14,
  steps: 1000,
  queueing: {
    arrivals: 20_000,
    loadFactors: Array.from({ length: 150 }, (_, i) => Math.round((i + 1) * 2) / 100),
    waitTargetSeconds: 1,
  },
};

/** Relative workload differences below this count as ties (floating-point sums). */
const RELATIVE_TIE = 1e-9;

/**
 * The algorithms compared, in table order. `dp` is the exact DP on whole layers, `dp-sublayer`
 * the exact DP on attention and FFN as separate units, `dp-steps` the spec's discretised DP with
 * K = config.steps (the gap to `dp` is what rounding up to whole steps costs).
 */
export const EXPERIMENT_ALGORITHMS = [
  'server-only',
  'prefix-greedy',
  'ratio-greedy',
  'dp-steps',
  'dp',
  'dp-sublayer',
] as const;
export type ExperimentAlgorithm = (typeof EXPERIMENT_ALGORITHMS)[number];

export interface RequestTypeResult {
  readonly model: string;
  readonly prompt: string;
  readonly slaSeconds: number;
  readonly client: string;
  readonly link: string;
  /** Server workload (FLOPs) per algorithm; a flagged (infeasible) plan counts server-only. */
  readonly serverFlops: Readonly<Record<ExperimentAlgorithm, number>>;
  /** Whether each algorithm's plan meets the SLA. */
  readonly feasible: Readonly<Record<ExperimentAlgorithm, boolean>>;
  /** Units the DP put on the client, of all units. */
  readonly dpClientUnits: number;
  readonly units: number;
}

export interface AlgorithmSummary {
  readonly algorithm: ExperimentAlgorithm;
  /** Sum of server FLOPs over the mix (each type once). */
  readonly totalServerFlops: number;
  /** 1 - total / total(server-only). */
  readonly reductionVsServerOnly: number;
  /** Mean over types of 1 - W / W(server-only). */
  readonly meanPerTypeReduction: number;
  readonly feasibleTypes: number;
}

export interface QueueingPoint {
  readonly algorithm: ExperimentAlgorithm;
  readonly arrivalRatePerSecond: number;
  readonly meanWaitSeconds: number;
  readonly p99WaitSeconds: number;
  readonly utilization: number;
}

export interface QueueingSummary {
  readonly algorithm: ExperimentAlgorithm;
  readonly meanServiceSeconds: number;
  /** 1 / E[service]: the M/G/1 stability limit. */
  readonly capacityPerSecond: number;
  /** Largest simulated rate whose p99 waiting time is within the target. */
  readonly sustainedPerSecond: number;
}

export interface SplitExperimentResult {
  readonly config: SplitExperimentConfig;
  readonly seed: number;
  readonly types: readonly RequestTypeResult[];
  readonly summary: readonly AlgorithmSummary[];
  /** 1 - W(dp) / W(greedy), over the whole mix. */
  readonly dpOverPrefixGreedy: number;
  readonly dpOverRatioGreedy: number;
  /** 1 - W(dp) / W(dp-steps): what rounding every cost up to a time step loses. */
  readonly dpOverDpSteps: number;
  /** Per type, `dp` against each other planner: how often better or worse, and the most. */
  readonly perTypeVsOthers: readonly {
    readonly baseline: 'prefix-greedy' | 'ratio-greedy' | 'dp-steps';
    readonly better: number;
    readonly worse: number;
    /** Largest 1 - W(dp) / W(baseline) over the types. */
    readonly maxImprovement: number;
  }[];
  readonly byModel: readonly {
    readonly model: string;
    readonly reductionVsServerOnly: Readonly<Record<ExperimentAlgorithm, number>>;
  }[];
  readonly queueing: {
    readonly points: readonly QueueingPoint[];
    readonly summary: readonly QueueingSummary[];
  };
}

function planType(
  model: ExperimentModel,
  prompt: ExperimentPrompt,
  sla: number,
  client: ExperimentClient,
  link: ExperimentLink,
  config: SplitExperimentConfig,
): RequestTypeResult {
  const base = {
    model,
    request: { promptTokens: prompt.promptTokens, outputTokens: prompt.outputTokens },
    client: { computeFlops: client.computeFlops, ...link },
    server: { computeFlops: config.serverComputeFlops },
  };
  const layerProfile = buildSplitProfile(base);
  const subProfile = buildSplitProfile({ ...base, granularity: GRANULARITY.sublayer });
  const run = (algorithm: SplitAlgorithm, sub = false): SplitPlan =>
    planSplit(sub ? subProfile : layerProfile, sla, { algorithm });
  const plans: Record<ExperimentAlgorithm, SplitPlan> = {
    'server-only': run(SPLIT_ALGORITHM.serverOnly),
    'prefix-greedy': run(SPLIT_ALGORITHM.prefixGreedy),
    'ratio-greedy': run(SPLIT_ALGORITHM.ratioGreedy),
    'dp-steps': planSplit(layerProfile, sla, {
      algorithm: SPLIT_ALGORITHM.dpSteps,
      timeStepSeconds: sla / config.steps,
    }),
    dp: run(SPLIT_ALGORITHM.dp),
    'dp-sublayer': run(SPLIT_ALGORITHM.dp, true),
  };
  const serverFlops = {} as Record<ExperimentAlgorithm, number>;
  const feasible = {} as Record<ExperimentAlgorithm, boolean>;
  for (const a of EXPERIMENT_ALGORITHMS) {
    serverFlops[a] = plans[a].serverFlops;
    feasible[a] = plans[a].feasible;
  }
  return {
    model: model.name,
    prompt: prompt.name,
    slaSeconds: sla,
    client: client.name,
    link: link.name,
    serverFlops,
    feasible,
    dpClientUnits: plans.dp.placement?.filter((p) => p === 'client').length ?? 0,
    units: layerProfile.labels.length,
  };
}

/** Sorted-sample quantile (nearest rank), for the queueing statistics. */
function quantileOf(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? 0;
}

/**
 * One FCFS server fed by Poisson arrivals (Lindley's recursion). `types` and `gaps` are shared
 * by every algorithm (common random numbers), so differences come from service times alone.
 */
export function simulateQueue(
  serviceByType: readonly number[],
  types: Uint32Array,
  unitGaps: Float64Array,
  rate: number,
): { mean: number; p99: number; utilization: number } {
  const n = types.length;
  const waits = new Float64Array(n);
  let wait = 0;
  let busy = 0;
  let span = 0;
  for (let i = 0; i < n; i++) {
    waits[i] = wait;
    const service = serviceByType[types[i] ?? 0] ?? 0;
    busy += service;
    const gap = (unitGaps[i] ?? 0) / rate;
    span += gap;
    wait = Math.max(0, wait + service - gap);
  }
  let sum = 0;
  for (const w of waits) sum += w;
  waits.sort();
  return { mean: sum / n, p99: quantileOf(waits, 0.99), utilization: span > 0 ? busy / span : 0 };
}

/** Runs the whole experiment. Deterministic for a given config and random source. */
export function runSplitExperiment(
  config: SplitExperimentConfig,
  rng: Random,
  seed: number,
): SplitExperimentResult {
  const types: RequestTypeResult[] = [];
  for (const model of config.models) {
    for (const prompt of config.prompts) {
      for (const sla of prompt.slaSeconds) {
        for (const client of config.clients) {
          for (const link of config.links) {
            types.push(planType(model, prompt, sla, client, link, config));
          }
        }
      }
    }
  }

  const total = (a: ExperimentAlgorithm, subset: readonly RequestTypeResult[] = types): number =>
    subset.reduce((sum, t) => sum + t.serverFlops[a], 0);
  const serverOnlyTotal = total('server-only');
  const summary: AlgorithmSummary[] = EXPERIMENT_ALGORITHMS.map((algorithm) => ({
    algorithm,
    totalServerFlops: total(algorithm),
    reductionVsServerOnly: 1 - total(algorithm) / serverOnlyTotal,
    meanPerTypeReduction:
      types.reduce((s, t) => s + (1 - t.serverFlops[algorithm] / t.serverFlops['server-only']), 0) /
      types.length,
    feasibleTypes: types.filter((t) => t.feasible[algorithm]).length,
  }));
  const byModel = config.models.map((m) => {
    const subset = types.filter((t) => t.model === m.name);
    const so = total('server-only', subset);
    const reductionVsServerOnly = {} as Record<ExperimentAlgorithm, number>;
    for (const a of EXPERIMENT_ALGORITHMS) reductionVsServerOnly[a] = 1 - total(a, subset) / so;
    return { model: m.name, reductionVsServerOnly };
  });

  // Queueing: one arrival sequence (request types and exponential gaps at rate 1), reused.
  const n = config.queueing.arrivals;
  const arrivalTypes = new Uint32Array(n);
  const unitGaps = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    arrivalTypes[i] = Math.min(types.length - 1, Math.floor(rng() * types.length));
    unitGaps[i] = -Math.log(1 - rng());
  }
  const service = (a: ExperimentAlgorithm): number[] =>
    types.map((t) => t.serverFlops[a] / config.serverComputeFlops);
  const meanService = (a: ExperimentAlgorithm): number =>
    service(a).reduce((s, x) => s + x, 0) / types.length;
  const baseCapacity = 1 / meanService('server-only');
  const points: QueueingPoint[] = [];
  const queueSummary: QueueingSummary[] = [];
  for (const algorithm of EXPERIMENT_ALGORITHMS) {
    const serviceByType = service(algorithm);
    let sustained = 0;
    for (const factor of config.queueing.loadFactors) {
      const rate = factor * baseCapacity;
      const r = simulateQueue(serviceByType, arrivalTypes, unitGaps, rate);
      points.push({
        algorithm,
        arrivalRatePerSecond: rate,
        meanWaitSeconds: r.mean,
        p99WaitSeconds: r.p99,
        utilization: r.utilization,
      });
      if (r.p99 <= config.queueing.waitTargetSeconds && rate > sustained) sustained = rate;
    }
    const mean = meanService(algorithm);
    queueSummary.push({
      algorithm,
      meanServiceSeconds: mean,
      capacityPerSecond: mean > 0 ? 1 / mean : Infinity,
      sustainedPerSecond: sustained,
    });
  }

  return {
    config,
    seed,
    types,
    summary,
    dpOverPrefixGreedy: 1 - total('dp') / total('prefix-greedy'),
    dpOverRatioGreedy: 1 - total('dp') / total('ratio-greedy'),
    dpOverDpSteps: 1 - total('dp') / total('dp-steps'),
    perTypeVsOthers: (['prefix-greedy', 'ratio-greedy', 'dp-steps'] as const).map((baseline) => {
      const gains = types.map((t) =>
        t.serverFlops[baseline] > 0 ? 1 - t.serverFlops.dp / t.serverFlops[baseline] : 0,
      );
      return {
        baseline,
        better: gains.filter((g) => g > RELATIVE_TIE).length,
        worse: gains.filter((g) => g < -RELATIVE_TIE).length,
        maxImprovement: Math.max(0, ...gains),
      };
    }),
    byModel,
    queueing: { points, summary: queueSummary },
  };
}
