// The measured latency profile of one model variant on one node: what the agent measures at
// calibration and the `calibrated` compute-time option consumes. Plain data, no I/O.

/** Which phase a sample measures. */
export const PROFILE_PHASE = { prefill: 'prefill', decode: 'decode' } as const;
export type ProfilePhase = (typeof PROFILE_PHASE)[keyof typeof PROFILE_PHASE];

/**
 * One measurement. For `prefill`: evaluating `batchSize` prompts of `contextTokens` tokens each,
 * together, took `seconds`. For `decode`: one decode step (one new token for each of `batchSize`
 * sequences whose context holds `contextTokens` tokens) took `seconds`.
 */
export interface ProfileSample {
  readonly phase: ProfilePhase;
  readonly batchSize: number;
  readonly contextTokens: number;
  readonly seconds: number;
}

/** The measured profile of a model variant on a node. */
export interface LatencyProfile {
  /** Model name as the node serves it (EdgeNode spec.models[].name). */
  readonly model: string;
  /** Quantization of the variant, e.g. Q4_K_M, Q8_0, F16. */
  readonly quantization: string;
  /** Threads the runtime used while measuring. */
  readonly threads: number;
  readonly samples: readonly ProfileSample[];
  /** Perplexity measured on the calibration text, when measured. */
  readonly perplexity?: number;
}
