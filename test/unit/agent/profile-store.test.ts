// The agent's profile store: GetProfile's profile is the start-up calibration, refined by the
// observed batches once their buckets fill; a model that was never calibrated serves its
// observed samples alone, named with the loaded model's quantization and the runtime's threads.
import { describe, expect, it } from '@jest/globals';
import { ProfileStore } from '../../../src/agent/profile-store.js';
import type { ObservedBatch } from '../../../src/core/model/observed-profile.js';
import type { LatencyProfile } from '../../../src/core/model/profile.js';
import type { InferenceRuntime, LoadedModel } from '../../../src/runtime/types.js';

/** What the store reads of the runtime: a loaded model's quantization and the thread count. */
const runtime: Pick<InferenceRuntime, 'loadedModels' | 'capabilities'> = {
  loadedModels: () => [{ name: 'm', quantization: 'Q4_1' } as LoadedModel],
  capabilities: () => ({ partialModelExecution: false, accelerator: 'cpu', threads: 2 }),
};

const calibration: LatencyProfile = {
  model: 'm',
  quantization: 'Q4_1',
  threads: 2,
  samples: [
    { phase: 'prefill', batchSize: 1, contextTokens: 16, seconds: 0.02 },
    { phase: 'prefill', batchSize: 4, contextTokens: 16, seconds: 0.05 },
    { phase: 'prefill', batchSize: 4, contextTokens: 64, seconds: 0.15 },
    { phase: 'decode', batchSize: 1, contextTokens: 16, seconds: 0.008 },
    { phase: 'decode', batchSize: 4, contextTokens: 16, seconds: 0.02 },
    { phase: 'decode', batchSize: 4, contextTokens: 64, seconds: 0.021 },
  ],
  perplexity: 12,
};

const batchOfTwo: ObservedBatch = {
  promptTokens: [30, 34],
  prefillSeconds: 0.04,
  decodeSteps: [{ sequences: 2, contextTokens: 68, seconds: 0.016 }],
};

describe('ProfileStore', () => {
  it('serves nothing for a model it neither calibrated nor observed', () => {
    const store = new ProfileStore(runtime);
    expect(store.get('m')).toBeUndefined();
    expect(store.values()).toEqual([]);
  });

  it('serves the calibration until observations fill a bucket, then the refined profile', () => {
    const store = new ProfileStore(runtime, { minObservations: 2 });
    store.set('m', calibration);
    store.observe('m', batchOfTwo);
    expect(store.get('m')).toEqual(calibration);
    store.observe('m', batchOfTwo);
    const refined = store.get('m');
    expect(refined?.perplexity).toBe(12);
    const samples = refined?.samples ?? [];
    expect(samples.slice(-2)).toEqual([
      { phase: 'decode', batchSize: 2, contextTokens: 34, seconds: 0.016 },
      { phase: 'prefill', batchSize: 2, contextTokens: 32, seconds: 0.04 },
    ]);
    // The calibration's own points stay, rescaled per phase by one factor: the speed the
    // observations show against the calibration's fit.
    const rest = samples.slice(0, -2);
    expect(rest.map(({ seconds: _, ...point }) => point)).toEqual(
      calibration.samples.map(({ seconds: _, ...point }) => point),
    );
    for (const phase of ['prefill', 'decode'] as const) {
      const ratios = rest.flatMap((s, i) =>
        s.phase === phase ? [s.seconds / (calibration.samples[i]?.seconds ?? 1)] : [],
      );
      for (const r of ratios) expect(r).toBeCloseTo(ratios[0] ?? 0, 12);
    }
    expect(store.values()).toEqual([refined]);
  });

  it('serves observed samples alone for a model without calibration', () => {
    const store = new ProfileStore(runtime, { minObservations: 1 });
    store.observe('m', batchOfTwo);
    expect(store.get('m')).toEqual({
      model: 'm',
      quantization: 'Q4_1',
      threads: 2,
      samples: [
        { phase: 'decode', batchSize: 2, contextTokens: 34, seconds: 0.016 },
        { phase: 'prefill', batchSize: 2, contextTokens: 32, seconds: 0.04 },
      ],
    });
  });
});
