// Online refinement of a node's latency profile from the batches it runs. The start-up
// calibration measures a few (batch size, length) points on idle hardware; the node then runs
// real batches under its real load. Every batch's prefill becomes an observation in a bucket
// (phase, batch size, length band), and so do its decode steps, one observation per bucket per
// batch (their mean step time); a bucket with enough observations
// yields a profile sample (the median of its latest observations) that replaces the calibration
// samples of its bucket; the calibration samples no observation covers yet are rescaled to the
// speed the observations show. The operator fits the refined profile exactly as the start-up one
// (fitLatencyProfile), so nothing downstream changes. Plain data and arithmetic: no I/O, no clock.
import {
  CalibrationError,
  fitLatencyProfile,
  predictSample,
  type LatencyCoefficients,
} from './calibration.js';
import {
  PROFILE_PHASE,
  type LatencyProfile,
  type ProfilePhase,
  type ProfileSample,
} from './profile.js';
import { median } from '../stats.js';

/** One decode step: one token for each of `sequences` sequences, in one evaluation. */
export interface ObservedDecodeStep {
  readonly sequences: number;
  /** Sum over the step's sequences of the tokens in their context after the step. */
  readonly contextTokens: number;
  readonly seconds: number;
}

/** What a batch's run took, phase by phase (the runtime's BatchObservation). */
export interface ObservedBatch {
  /** Prompt tokens of each sequence, evaluated together in `prefillSeconds`. */
  readonly promptTokens: readonly number[];
  readonly prefillSeconds: number;
  readonly decodeSteps: readonly ObservedDecodeStep[];
}

export interface ObservedProfileOptions {
  /** Latest observations kept per bucket; its sample is their median. */
  readonly window: number;
  /** Observations a bucket needs before it yields a sample. */
  readonly minObservations: number;
  /**
   * Length bands are powers of this ratio (per-sequence tokens 8-11, 11-16, 16-22, ... for
   * sqrt(2)): fine where short lengths differ a lot, coarse where the cost grows slowly.
   */
  readonly bandRatio: number;
  /** Most buckets kept; the least recently observed are dropped first. */
  readonly maxBuckets: number;
}

export const OBSERVED_PROFILE_DEFAULTS = {
  window: 15,
  minObservations: 3,
  bandRatio: Math.SQRT2,
  maxBuckets: 512,
} as const satisfies ObservedProfileOptions;

interface Bucket {
  readonly key: string;
  readonly phase: ProfilePhase;
  readonly batchSize: number;
  /** Latest observations, oldest first: per-sequence length and seconds. */
  readonly lengths: number[];
  readonly seconds: number[];
  /** Observation counter value when last observed (recency for eviction). */
  touched: number;
}

/** Accumulates one model's observed batches and refines its calibrated profile with them. */
export class ObservedProfile {
  private readonly options: ObservedProfileOptions;
  private readonly buckets = new Map<string, Bucket>();
  private observations = 0;

  constructor(options: Partial<ObservedProfileOptions> = {}) {
    this.options = { ...OBSERVED_PROFILE_DEFAULTS, ...options };
    const { window, minObservations, bandRatio, maxBuckets } = this.options;
    if (!(Number.isInteger(window) && window >= 1))
      throw new RangeError(`window must be a positive integer, got ${window}`);
    if (!(Number.isInteger(minObservations) && minObservations >= 1 && minObservations <= window))
      throw new RangeError(`minObservations must be in 1..window, got ${minObservations}`);
    if (!(bandRatio > 1)) throw new RangeError(`bandRatio must be > 1, got ${bandRatio}`);
    if (!(Number.isInteger(maxBuckets) && maxBuckets >= 1))
      throw new RangeError(`maxBuckets must be a positive integer, got ${maxBuckets}`);
  }

  /** The band of a per-sequence length: floor(log_ratio(length)), lengths below 1 in band 0. */
  band(length: number): number {
    return length < 1 ? 0 : Math.floor(Math.log(length) / Math.log(this.options.bandRatio) + 1e-9);
  }

  private key(phase: ProfilePhase, batchSize: number, length: number): string {
    return `${phase}/${batchSize}/${this.band(length)}`;
  }

  private add(phase: ProfilePhase, batchSize: number, length: number, seconds: number): void {
    if (!(batchSize >= 1 && Number.isFinite(length) && length >= 0)) return;
    if (!(Number.isFinite(seconds) && seconds > 0)) return;
    const key = this.key(phase, batchSize, length);
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { key, phase, batchSize, lengths: [], seconds: [], touched: 0 };
      this.buckets.set(key, bucket);
    }
    bucket.lengths.push(length);
    bucket.seconds.push(seconds);
    if (bucket.seconds.length > this.options.window) {
      bucket.lengths.shift();
      bucket.seconds.shift();
    }
    bucket.touched = ++this.observations;
    if (this.buckets.size > this.options.maxBuckets) {
      let oldest: string | undefined;
      let oldestTouched = Infinity;
      for (const [k, b] of this.buckets) {
        if (b.touched < oldestTouched) {
          oldest = k;
          oldestTouched = b.touched;
        }
      }
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
  }

  /**
   * Records a batch: its prefill, and its decode steps as one observation per bucket they fall
   * in (the mean step time at the mean per-sequence length of those steps), so that a bucket's
   * window spans its latest batches, not the latest steps of one batch: a batch of 40 steps run
   * through a burst of load would otherwise fill a window alone. Empty or zero-time parts are
   * skipped.
   */
  observe(batch: ObservedBatch): void {
    const b = batch.promptTokens.length;
    if (b > 0) {
      const mean = batch.promptTokens.reduce((a, s) => a + s, 0) / b;
      this.add(PROFILE_PHASE.prefill, b, mean, batch.prefillSeconds);
    }
    const groups = new Map<
      string,
      { batchSize: number; length: number; seconds: number; n: number }
    >();
    for (const step of batch.decodeSteps) {
      if (!(step.sequences >= 1 && Number.isFinite(step.seconds) && step.seconds > 0)) continue;
      const length = step.contextTokens / step.sequences;
      if (!(Number.isFinite(length) && length >= 0)) continue;
      const key = this.key(PROFILE_PHASE.decode, step.sequences, length);
      const group = groups.get(key) ?? { batchSize: step.sequences, length: 0, seconds: 0, n: 0 };
      group.length += length;
      group.seconds += step.seconds;
      group.n += 1;
      groups.set(key, group);
    }
    for (const g of groups.values())
      this.add(PROFILE_PHASE.decode, g.batchSize, g.length / g.n, g.seconds / g.n);
  }

  /**
   * One sample per bucket with at least minObservations: the median seconds of its window at
   * the mean per-sequence length of the window (rounded to whole tokens, as samples carry them).
   */
  samples(): ProfileSample[] {
    return this.ready().map(({ sample }) => sample);
  }

  private ready(): { key: string; sample: ProfileSample }[] {
    const out: { key: string; sample: ProfileSample }[] = [];
    for (const bucket of this.buckets.values()) {
      if (bucket.seconds.length < this.options.minObservations) continue;
      const length = bucket.lengths.reduce((a, l) => a + l, 0) / bucket.lengths.length;
      out.push({
        key: bucket.key,
        sample: {
          phase: bucket.phase,
          batchSize: bucket.batchSize,
          contextTokens: Math.round(length),
          seconds: median(bucket.seconds),
        },
      });
    }
    return out.sort(
      ({ sample: x }, { sample: y }) =>
        x.phase.localeCompare(y.phase) ||
        x.batchSize - y.batchSize ||
        x.contextTokens - y.contextTokens,
    );
  }

  /**
   * `base` with every sample that falls in a bucket with an observed sample replaced by that
   * sample, and the remaining calibration samples of each phase scaled by how much slower (or
   * faster) the node ran that phase than its calibration predicts (the median over the observed
   * samples of observed / predicted by the fit of `base`): the calibration still shapes what the
   * node has not run yet, at the speed it runs now.
   */
  refine(base: LatencyProfile): LatencyProfile {
    const observed = this.ready();
    if (observed.length === 0) return base;
    const covered = new Set(observed.map(({ key }) => key));
    const scale = speedRatios(
      base,
      observed.map(({ sample }) => sample),
    );
    return {
      ...base,
      samples: [
        ...base.samples
          .filter((s) => !covered.has(this.key(s.phase, s.batchSize, s.contextTokens)))
          .map((s) => ({ ...s, seconds: s.seconds * scale[s.phase] })),
        ...observed.map(({ sample }) => sample),
      ],
    };
  }
}

/** Per phase, the median of observed / predicted-by-the-calibration over `observed` (1 when unknown). */
function speedRatios(
  base: LatencyProfile,
  observed: readonly ProfileSample[],
): Record<ProfilePhase, number> {
  const scale: Record<ProfilePhase, number> = { prefill: 1, decode: 1 };
  let fit: LatencyCoefficients;
  try {
    fit = fitLatencyProfile(base);
  } catch (error) {
    if (error instanceof CalibrationError) return scale;
    throw error;
  }
  for (const phase of [PROFILE_PHASE.prefill, PROFILE_PHASE.decode]) {
    const ratios = observed
      .filter((s) => s.phase === phase)
      .map((s) => s.seconds / predictSample(fit, s))
      .filter((r) => Number.isFinite(r) && r > 0);
    if (ratios.length > 0) scale[phase] = median(ratios);
  }
  return scale;
}
