// Inputs and outputs of the single-node batch selection (spec §3-4).
import type { CostOptions, ModelVariant, NodeResources, RequestDemand } from '../model/types.js';

/** One node, one model variant, the requests waiting for it. */
export interface ScheduleInstance {
  readonly node: NodeResources;
  readonly model: ModelVariant;
  /** PPL_best: the best perplexity among the node's variants of this model. */
  readonly bestPerplexity: number;
  /** In arrival order (FCFS and the tie-breaks use it). */
  readonly requests: readonly RequestDemand[];
  readonly options: CostOptions;
  /** Most requests in one batch (the node's spec.scheduling.maxBatchSize); unbounded if absent. */
  readonly maxBatchSize?: number;
}

export const POLICY = {
  /** The paper's exact depth-first tree search (the reference). */
  dftsp: 'dftsp',
  /** Our exact solver: the same optimum, proven fast at scale (sweep/). */
  sweep: 'sweep',
  bruteforce: 'bruteforce',
  fcfs: 'fcfs',
  greedy: 'greedy',
  edf: 'edf',
  random: 'random',
  single: 'single',
} as const;
export type Policy = (typeof POLICY)[keyof typeof POLICY];
export const POLICIES = Object.values(POLICY);

/** Why rule 1 dropped a request before the search. */
export const REJECTION = {
  ineligible: 'ineligible',
  /** Prompt plus output exceed one sequence of the variant's context. */
  context: 'context',
  memory: 'memory',
  latency: 'latency',
} as const;
export type Rejection = (typeof REJECTION)[keyof typeof REJECTION];

export interface SearchBudget {
  /** Stop after evaluating this many tree nodes. */
  readonly maxNodes?: number;
  /** Decide within this many seconds of `clock()`, from the call (SEARCH_BUDGET_DEFAULTS). */
  readonly maxSeconds?: number;
  /** Monotonic clock in seconds; required with maxSeconds (the core reads no clock itself). */
  readonly clock?: () => number;
}

export interface BandwidthShare {
  readonly uplinkHz: number;
  readonly downlinkHz: number;
}

export interface PredictedTimes {
  readonly uplinkSeconds: number;
  readonly computeSeconds: number;
  readonly downlinkSeconds: number;
  readonly totalSeconds: number;
}

export interface ScheduleResult {
  readonly policy: Policy;
  /** Chosen request ids, in arrival order. */
  readonly batch: readonly string[];
  /** Throughput objective: requests in the batch, and their output tokens. */
  readonly requests: number;
  readonly tokens: number;
  readonly predicted: PredictedTimes;
  readonly memoryBytes: number;
  /** Per chosen id. Shares sum to the node's uplink and downlink bandwidth. */
  readonly bandwidthShares: Readonly<Record<string, BandwidthShare>>;
  /** Subsets whose feasibility was evaluated (brute force: 2^N). */
  readonly nodesEvaluated: number;
  /** Subtrees discarded because the child was infeasible (rule 2). */
  readonly prunedInfeasible: number;
  /** Subtrees discarded by the bound (rule 3). */
  readonly prunedByBound: number;
  /** True when the batch is proven optimal (exhaustive or exact search that finished). */
  readonly optimal: boolean;
  /** Requests dropped before the search (rule 1), with the reason. */
  readonly rejected: readonly { readonly id: string; readonly reason: Rejection }[];
}
