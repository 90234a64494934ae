// The latency profiles GetProfile serves: each model's start-up calibration, refined online by
// the batches the agent runs (core ObservedProfile: every batch's prefill and decode steps, as
// the runtime timed them, replace the calibration samples of their (phase, batch size, length)
// bucket once a bucket has enough of them). The operator fits whatever GetProfile returns, so
// its cost model follows the node's real speed under its real load.
import {
  ObservedProfile,
  type ObservedBatch,
  type ObservedProfileOptions,
} from '../core/model/observed-profile.js';
import type { LatencyProfile } from '../core/model/profile.js';
import type { InferenceRuntime } from '../runtime/types.js';

export class ProfileStore {
  private readonly calibrated = new Map<string, LatencyProfile>();
  private readonly observed = new Map<string, ObservedProfile>();

  constructor(
    /** Names a profile's quantization and threads when a model has observations but no calibration. */
    private readonly runtime: Pick<InferenceRuntime, 'loadedModels' | 'capabilities'>,
    private readonly options: Partial<ObservedProfileOptions> = {},
  ) {}

  /** Stores a model's start-up calibration (observations made before it are kept). */
  set(model: string, profile: LatencyProfile): void {
    this.calibrated.set(model, profile);
  }

  /** Records a batch the runtime ran for `model`. */
  observe(model: string, batch: ObservedBatch): void {
    let observed = this.observed.get(model);
    if (!observed) {
      observed = new ObservedProfile(this.options);
      this.observed.set(model, observed);
    }
    observed.observe(batch);
  }

  /**
   * The model's profile: its calibration refined by its observations, or only the observed
   * samples when it was not calibrated; undefined when there is neither.
   */
  get(model: string): LatencyProfile | undefined {
    const base = this.calibrated.get(model);
    const observed = this.observed.get(model);
    if (base) return observed ? observed.refine(base) : base;
    const samples = observed?.samples() ?? [];
    if (samples.length === 0) return undefined;
    return {
      model,
      quantization: this.runtime.loadedModels().find((m) => m.name === model)?.quantization ?? '',
      threads: this.runtime.capabilities().threads,
      samples,
    };
  }

  /** Every model's profile (see get). */
  values(): LatencyProfile[] {
    const models = new Set([...this.calibrated.keys(), ...this.observed.keys()]);
    return [...models].flatMap((m) => {
      const profile = this.get(m);
      return profile ? [profile] : [];
    });
  }
}
