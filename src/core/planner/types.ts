// Types and defaults of the client/server split planner (spec/split.md, after SplitLLM).
// Plain data in, plain data out: the planner never does I/O and never reads a clock.

/** Where a unit (a layer, or an attention/FFN sub-layer) runs. */
export const LOCATION = { client: 'client', server: 'server' } as const;
export type Location = (typeof LOCATION)[keyof typeof LOCATION];

/** Location codes used in the typed arrays of the DP (0 = client, 1 = server). */
export const LOC_CLIENT = 0;
export const LOC_SERVER = 1;
export type LocationCode = typeof LOC_CLIENT | typeof LOC_SERVER;

/** Where the output must end up once the last unit has run. */
export const OUTPUT_AT = { client: 'client', server: 'server', anywhere: 'anywhere' } as const;
export type OutputAt = (typeof OUTPUT_AT)[keyof typeof OUTPUT_AT];

/** How finely the model is cut: whole transformer layers, or attention and FFN separately. */
export const GRANULARITY = { layer: 'layer', sublayer: 'sublayer' } as const;
export type Granularity = (typeof GRANULARITY)[keyof typeof GRANULARITY];

/**
 * What crosses the link at the model's two ends (before the first unit, after the last): `tokens`
 * (default) sends token ids, because the embedding and the LM head run where the first and last
 * layer run; `hidden` sends a full hidden state, the literal reading of the spec's a_0 and a_L.
 */
export const BOUNDARY_TRANSFER = { tokens: 'tokens', hidden: 'hidden' } as const;
export type BoundaryTransfer = (typeof BOUNDARY_TRANSFER)[keyof typeof BOUNDARY_TRANSFER];

/** Which algorithm produces the placement. `dp` is the planner (exact: a Pareto frontier of
 * workload and latency per state, frontier.ts); `dp-steps` is spec/split.md's recurrence over
 * time steps, which rounds every cost up (dp.ts, kept for reference); the rest are the oracle and
 * baselines (the greedy ones are ours: the paper's greedy could not be read). */
export const SPLIT_ALGORITHM = {
  dp: 'dp',
  dpSteps: 'dp-steps',
  exhaustive: 'exhaustive',
  serverOnly: 'server-only',
  clientOnly: 'client-only',
  prefixGreedy: 'prefix-greedy',
  ratioGreedy: 'ratio-greedy',
} as const;
export type SplitAlgorithm = (typeof SPLIT_ALGORITHM)[keyof typeof SPLIT_ALGORITHM];

/** What to do when no placement meets the SLA, not even server-only. */
export const ON_INFEASIBLE = {
  reject: 'reject',
  serverOnlyFlagged: 'server-only-flagged',
} as const;
export type OnInfeasible = (typeof ON_INFEASIBLE)[keyof typeof ON_INFEASIBLE];

/** The outcome of planning one request. */
export const SPLIT_DECISION = {
  /** A placement that meets the SLA. */
  planned: 'planned',
  /** No placement meets the SLA; serve server-only and flag the SLA risk. */
  serverOnlyFlagged: 'server-only-flagged',
  /** No placement meets the SLA; the request is rejected. */
  rejected: 'rejected',
} as const;
export type SplitDecision = (typeof SPLIT_DECISION)[keyof typeof SPLIT_DECISION];

/** The architecture numbers the per-layer cost profile needs (a decoder-only transformer). */
export interface SplitModel {
  readonly layers: number;
  readonly hiddenSize: number;
  readonly ffnSize: number;
  /** Bytes of one activation element on the wire (2 for fp16). */
  readonly bytesPerElement: number;
}

/** The requesting device. */
export interface SplitClient {
  /** Effective FLOP/s the client sustains on this model. */
  readonly computeFlops: number;
  readonly uplinkBytesPerSecond: number;
  readonly downlinkBytesPerSecond: number;
  /** One-way latency added to every transfer of every generation step (default 0). */
  readonly linkLatencySeconds?: number | undefined;
}

export interface SplitServer {
  /** Effective FLOP/s the server gives this request. */
  readonly computeFlops: number;
}

/** The request's shape: prompt length and how many tokens it generates. */
export interface SplitRequestShape {
  /** Prompt tokens `s` (the issue's `sequenceLength`). */
  readonly promptTokens: number;
  /** Generated tokens `n`; the first comes out of the prefill, so there are n-1 decode steps. */
  readonly outputTokens: number;
}

/** Measured per-unit compute times that replace the analytic ones (one entry per unit). */
export interface MeasuredUnitTimes {
  readonly clientSeconds?: readonly number[] | undefined;
  readonly serverSeconds?: readonly number[] | undefined;
}

/**
 * The per-unit cost profile the DP, the oracle and the baselines work on. Units run in order;
 * activation index `i` is the tensor between unit i-1 and unit i (`0` is the input, `U` the
 * output). Every time is the total over the whole request (prefill plus every decode step).
 */
export interface SplitProfile {
  /** Human-readable unit names, e.g. `layer 3` or `layer 3 attention`. */
  readonly labels: readonly string[];
  /** Model layer (0-based) each unit belongs to. */
  readonly layerOfUnit: readonly number[];
  readonly flops: Float64Array;
  readonly clientSeconds: Float64Array;
  readonly serverSeconds: Float64Array;
  /** `w_u`: the server workload if unit u runs on the server (default: its FLOPs). */
  readonly serverWorkload: Float64Array;
  /** Length U+1: seconds to move activation i from client to server (over all steps). */
  readonly uploadSeconds: Float64Array;
  /** Length U+1: seconds to move activation i from server to client (over all steps). */
  readonly downloadSeconds: Float64Array;
  /** Length U+1: bytes of activation i over all steps (for reporting). */
  readonly activationBytes: Float64Array;
}

export interface SplitOptions {
  readonly algorithm: SplitAlgorithm;
  /** `dp-steps` only: time step `delta` in seconds; default SLA / `DEFAULT_SPLIT_OPTIONS.steps`. */
  readonly timeStepSeconds?: number;
  readonly inputAtClient: boolean;
  readonly outputAt: OutputAt;
  readonly onInfeasible: OnInfeasible;
  /** `dp-steps` only: largest K it accepts (memory: 1 byte per unit per step, plus 32 per step). */
  readonly maxSteps: number;
}

/** Defaults of every option; documented in docs/split-planner.md. */
export const DEFAULT_SPLIT_OPTIONS = {
  algorithm: SPLIT_ALGORITHM.dp,
  /** dp-steps: K when no time step is given (delta = SLA / 1000). */
  steps: 1000,
  inputAtClient: true,
  outputAt: OUTPUT_AT.client,
  onInfeasible: ON_INFEASIBLE.serverOnlyFlagged,
  maxSteps: 1_000_000,
  granularity: GRANULARITY.layer,
  outputTokens: 1,
  linkLatencySeconds: 0,
  boundaryTransfer: BOUNDARY_TRANSFER.tokens,
  /** Bytes of one token id on the wire (boundaryTransfer: tokens). */
  tokenIdBytes: 4,
  /** The oracle enumerates 2^U placements; refuse beyond this many units. */
  maxExhaustiveUnits: 24,
} as const;

/** Predicted latency of a placement, split into compute and transfer. */
export interface LatencyBreakdown {
  readonly clientComputeSeconds: number;
  readonly serverComputeSeconds: number;
  readonly uplinkSeconds: number;
  readonly downlinkSeconds: number;
  /** uplink + downlink */
  readonly transferSeconds: number;
  /**
   * compute + transfer: the real (undiscretised) latency, accumulated in execution order (each
   * unit's compute plus the transfer into it, then the final transfer).
   */
  readonly totalSeconds: number;
}

/** What every algorithm returns. */
export interface SplitPlan {
  readonly algorithm: SplitAlgorithm;
  readonly decision: SplitDecision;
  /** True iff the returned placement meets the SLA (real, undiscretised latency). */
  readonly feasible: boolean;
  /** One entry per unit, in order; null when the request is rejected. */
  readonly placement: readonly Location[] | null;
  /** Sum of `w_u` over server units. */
  readonly serverWorkload: number;
  readonly serverFlops: number;
  readonly clientFlops: number;
  readonly latency: LatencyBreakdown;
  /** Location changes along input → units → output, each one a transfer. */
  readonly switches: number;
  /** dp-steps only: the time step used and K. */
  readonly timeStepSeconds?: number;
  readonly steps?: number;
  /** Why the plan is what it is, when it is not simply the algorithm's answer. */
  readonly note?: string;
}

/** A typed error the shell turns into a user message. */
export class SplitPlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SplitPlanError';
  }
}
