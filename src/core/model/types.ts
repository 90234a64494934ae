// Inputs of the inference cost model (spec/scheduling.md §1). Plain data; units in names.
import type { LatencyCoefficients } from './calibration.js';

/** An edge node's resources. */
export interface NodeResources {
  /** Memory for weights and KV cache. */
  readonly memoryBytes: number;
  /** Peak compute, FLOP/s. */
  readonly computeFlops: number;
  /** Fraction of peak compute achieved (eta), in (0, 1]. */
  readonly utilization: number;
  /** Memory bandwidth, needed by the `roofline` compute option. */
  readonly memoryBandwidthBytesPerSecond?: number;
  readonly uplinkBandwidthHz: number;
  readonly downlinkBandwidthHz: number;
}

/** A quantized variant of a decoder-only model. */
export interface ModelVariant {
  /** Model name requests ask for. */
  readonly name: string;
  /** Quantization label (Q4_K_M, Q8_0, F16, ...). */
  readonly quantization: string;
  readonly layers: number;
  readonly hiddenSize: number;
  readonly ffnSize: number;
  /** KV width: n_kv_heads * head_dim (= hiddenSize without grouped-query attention). */
  readonly kvWidth: number;
  readonly parameters: number;
  readonly weightBits: number;
  /** Bits per KV-cache element (16 unless the KV cache is quantized). */
  readonly kvBits: number;
  /** Compute speed factor c_q (1 for weight-only quantization). */
  readonly computeFactor: number;
  readonly perplexity: number;
  /**
   * Tokens one sequence of the serving runtime holds (prompt plus output); a request needing more
   * cannot run on this variant. Unlimited when absent (the cost model's memory check remains).
   */
  readonly sequenceTokens?: number;
  /** Most requests the serving runtime runs in one batch of this variant (no limit when absent). */
  readonly maxSequences?: number;
}

/** One request's demand, as the cost model sees it. */
export interface RequestDemand {
  readonly id: string;
  /** Model name the request asks for (optional for single-model instances). */
  readonly model?: string;
  readonly promptTokens: number;
  /** Output tokens n_u (maxTokens). */
  readonly maxTokens: number;
  /** Latency budget tau_u, seconds, counted from the start of the epoch. */
  readonly latencyBudgetSeconds: number;
  /** Largest accepted perplexity increase over the best variant (A_u). */
  readonly maxPerplexityIncrease: number;
  /** bit/s/Hz. */
  readonly uplinkSpectralEfficiency: number;
  readonly downlinkSpectralEfficiency: number;
  /**
   * Fraction of the request's FLOPs that run on the node (1 unless a split plan moves layers
   * to the client and the node's runtime can execute a partial model). In [0, 1].
   */
  readonly serverComputeFraction?: number;
}

export const PADDING = { static: 'static', ragged: 'ragged' } as const;
export type Padding = (typeof PADDING)[keyof typeof PADDING];

export const COMPUTE_MODEL = {
  flops: 'flops',
  roofline: 'roofline',
  calibrated: 'calibrated',
} as const;
export type ComputeModel = (typeof COMPUTE_MODEL)[keyof typeof COMPUTE_MODEL];

export const COMMUNICATION_MODEL = { linear: 'linear', noiseScaled: 'noise-scaled' } as const;
export type CommunicationModel = (typeof COMMUNICATION_MODEL)[keyof typeof COMMUNICATION_MODEL];

export const OBJECTIVE = { requests: 'requests', tokens: 'tokens' } as const;
export type Objective = (typeof OBJECTIVE)[keyof typeof OBJECTIVE];

/** The options of the cost model; every one is a configuration value (see COST_DEFAULTS). */
export interface CostOptions {
  readonly padding: Padding;
  readonly compute: ComputeModel;
  readonly communication: CommunicationModel;
  /** Payload bits per token on the radio link (beta). */
  readonly bitsPerToken: number;
  readonly objective: Objective;
  /** Fitted coefficients of the node's measured profile; required by `compute: calibrated`. */
  readonly calibration?: LatencyCoefficients;
}

/**
 * The documented defaults (spec/scheduling.md). `padding: static` pads a batch to its longest
 * prompt and output as a static batch does; `compute: flops` divides FLOPs by eta * F * c_q;
 * `communication: linear` uses Shannon rates at fixed noise with proportional shares;
 * `bitsPerToken: 32`; `objective: requests` maximises the batch size (throughput).
 */
export const COST_DEFAULTS = {
  padding: PADDING.static,
  compute: COMPUTE_MODEL.flops,
  communication: COMMUNICATION_MODEL.linear,
  bitsPerToken: 32,
  objective: OBJECTIVE.requests,
} as const satisfies CostOptions;

/** Node utilisation eta when the node does not say (spec §1). */
export const DEFAULT_UTILIZATION = 0.5;
/** KV-cache bits per element when the KV cache is not quantized. */
export const DEFAULT_KV_BITS = 16;
