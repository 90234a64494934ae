// Online refinement of the latency profile: bucket samples against a brute-force oracle over
// the whole observation history, replacement of exactly the covered calibration samples, and a
// refined profile whose fit follows the node's observed speed; batch phase prediction against
// the cost model's closed form.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { CostModel, stateOf } from '../../../src/core/model/batch.js';
import {
  fitLatencyProfile,
  predictBatchPhases,
  predictSample,
  type LatencyCoefficients,
} from '../../../src/core/model/calibration.js';
import { ObservedProfile, type ObservedBatch } from '../../../src/core/model/observed-profile.js';
import type { LatencyProfile, ProfileSample } from '../../../src/core/model/profile.js';
import { COMPUTE_MODEL, COST_DEFAULTS, PADDING } from '../../../src/core/model/types.js';

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

/** The decode steps a lockstep run of these sequences makes, each running to its own length. */
function lockstepSteps(
  prompts: readonly number[],
  outputs: readonly number[],
): { sequences: number; contextTokens: number }[] {
  const steps: { sequences: number; contextTokens: number }[] = [];
  for (let k = 1; k < Math.max(...outputs); k++) {
    let sequences = 0;
    let contextTokens = 0;
    prompts.forEach((s, i) => {
      if ((outputs[i] ?? 0) > k) {
        sequences++;
        contextTokens += s + k;
      }
    });
    steps.push({ sequences, contextTokens });
  }
  return steps;
}

const truth: LatencyCoefficients = {
  prefill: { fixedSeconds: 0.01, perTokenSeconds: 4e-4, perTokenSquaredSeconds: 2e-8 },
  decodeStep: { fixedSeconds: 0.006, perSequenceSeconds: 2.5e-3, perContextTokenSeconds: 3e-6 },
};

const batchArb = fc
  .array(
    fc.record({
      prompt: fc.integer({ min: 1, max: 300 }),
      output: fc.integer({ min: 1, max: 40 }),
    }),
    {
      minLength: 1,
      maxLength: 8,
    },
  )
  .chain((members) =>
    fc
      .array(fc.double({ min: 0.5, max: 2, noNaN: true }), {
        minLength: 1 + Math.max(...members.map((m) => m.output)),
        maxLength: 1 + Math.max(...members.map((m) => m.output)),
      })
      .map((scales): ObservedBatch => {
        const prompts = members.map((m) => m.prompt);
        const steps = lockstepSteps(
          prompts,
          members.map((m) => m.output),
        );
        return {
          promptTokens: prompts,
          prefillSeconds: (scales[0] ?? 1) * 0.05,
          decodeSteps: steps.map((s, i) => ({ ...s, seconds: (scales[i + 1] ?? 1) * 0.01 })),
        };
      }),
  );

describe('ObservedProfile', () => {
  it('yields, per bucket with enough observations, the median of its latest window (oracle: the full history, decode steps averaged per batch and bucket)', () => {
    fc.assert(
      fc.property(
        fc.array(batchArb, { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
        (batches, window, minRaw) => {
          const minObservations = Math.min(minRaw, window);
          const observed = new ObservedProfile({ window, minObservations, maxBuckets: 10_000 });
          const history = new Map<
            string,
            { lengths: number[]; seconds: number[]; phase: string; b: number }
          >();
          const push = (phase: string, b: number, length: number, seconds: number): void => {
            const key = `${phase}/${b}/${observed.band(length)}`;
            const h = history.get(key) ?? { lengths: [], seconds: [], phase, b };
            h.lengths.push(length);
            h.seconds.push(seconds);
            history.set(key, h);
          };
          for (const batch of batches) {
            observed.observe(batch);
            const b = batch.promptTokens.length;
            push(
              'prefill',
              b,
              batch.promptTokens.reduce((a, s) => a + s, 0) / b,
              batch.prefillSeconds,
            );
            // Decode: one observation per bucket per batch, the mean of the batch's steps in it.
            const steps = new Map<string, { b: number; lengths: number[]; seconds: number[] }>();
            for (const s of batch.decodeSteps) {
              const length = s.contextTokens / s.sequences;
              const key = `${s.sequences}/${observed.band(length)}`;
              const g = steps.get(key) ?? { b: s.sequences, lengths: [], seconds: [] };
              g.lengths.push(length);
              g.seconds.push(s.seconds);
              steps.set(key, g);
            }
            const mean = (xs: readonly number[]): number =>
              xs.reduce((a, x) => a + x, 0) / xs.length;
            for (const g of steps.values()) push('decode', g.b, mean(g.lengths), mean(g.seconds));
          }
          const expected: ProfileSample[] = [];
          for (const h of history.values()) {
            const lengths = h.lengths.slice(-window);
            const seconds = h.seconds.slice(-window);
            if (seconds.length < minObservations) continue;
            expected.push({
              phase: h.phase as ProfileSample['phase'],
              batchSize: h.b,
              contextTokens: Math.round(lengths.reduce((a, l) => a + l, 0) / lengths.length),
              seconds: median(seconds),
            });
          }
          const key = (s: ProfileSample): string =>
            `${s.phase}/${s.batchSize}/${s.contextTokens}/${s.seconds}`;
          expect(observed.samples().map(key).sort()).toEqual(expected.map(key).sort());
        },
      ),
      { numRuns: 150 },
    );
  });

  it('replaces exactly the calibration samples of the buckets it has observed', () => {
    const observed = new ObservedProfile({ minObservations: 2 });
    const base: LatencyProfile = {
      model: 'm',
      quantization: 'Q4_1',
      threads: 2,
      samples: [
        { phase: 'prefill', batchSize: 4, contextTokens: 16, seconds: 1 },
        { phase: 'prefill', batchSize: 4, contextTokens: 64, seconds: 1 },
        { phase: 'decode', batchSize: 4, contextTokens: 16, seconds: 1 },
        { phase: 'decode', batchSize: 1, contextTokens: 16, seconds: 1 },
      ],
      perplexity: 9,
    };
    for (let i = 0; i < 2; i++)
      observed.observe({
        promptTokens: [16, 16, 17, 15],
        prefillSeconds: 0.2,
        decodeSteps: [{ sequences: 4, contextTokens: 4 * 17, seconds: 0.03 }],
      });
    const refined = observed.refine(base);
    expect(refined).toMatchObject({ model: 'm', quantization: 'Q4_1', threads: 2, perplexity: 9 });
    expect(refined.samples).toEqual([
      { phase: 'prefill', batchSize: 4, contextTokens: 64, seconds: 1 },
      { phase: 'decode', batchSize: 1, contextTokens: 16, seconds: 1 },
      { phase: 'decode', batchSize: 4, contextTokens: 17, seconds: 0.03 },
      { phase: 'prefill', batchSize: 4, contextTokens: 16, seconds: 0.2 },
    ]);
    // Below minObservations nothing is replaced.
    const fresh = new ObservedProfile({ minObservations: 2 });
    fresh.observe({ promptTokens: [16], prefillSeconds: 0.1, decodeSteps: [] });
    expect(fresh.refine(base)).toBe(base);
  });

  it('moves the fitted model to the speed the node shows: calibration at one speed, batches at another', () => {
    // Calibrated on an idle node; the node then runs 40% slower (other work on the cores).
    const calibrationSamples: ProfileSample[] = [];
    for (const b of [1, 4])
      for (const t of [16, 64]) {
        calibrationSamples.push({ phase: 'prefill', batchSize: b, contextTokens: t, seconds: 0 });
        calibrationSamples.push({ phase: 'decode', batchSize: b, contextTokens: t, seconds: 0 });
      }
    const base: LatencyProfile = {
      model: 'm',
      quantization: 'Q4_1',
      threads: 2,
      samples: calibrationSamples.map((s) => ({ ...s, seconds: predictSample(truth, s) })),
    };
    const slow = 1.4;
    const observed = new ObservedProfile();
    const batches: ObservedBatch[] = [];
    for (let r = 0; r < 4; r++)
      for (const b of [1, 2, 4, 8])
        for (const [s, n] of [
          [12, 24],
          [48, 16],
          [100, 8],
        ] as const) {
          const prompts = Array.from({ length: b }, (_, i) => s + i);
          const steps = lockstepSteps(
            prompts,
            prompts.map(() => n),
          );
          const { prefillSeconds } = predictBatchPhases(truth, {
            promptTokens: prompts,
            decodeSteps: [],
          });
          batches.push({
            promptTokens: prompts,
            prefillSeconds: prefillSeconds * slow,
            decodeSteps: steps.map((step) => ({
              ...step,
              seconds:
                predictBatchPhases(truth, { promptTokens: [], decodeSteps: [step] }).decodeSeconds *
                slow,
            })),
          });
        }
    for (const batch of batches) observed.observe(batch);
    const before = fitLatencyProfile(base);
    const after = fitLatencyProfile(observed.refine(base));
    for (const batch of batches.slice(-12)) {
      const measured = batch.prefillSeconds + batch.decodeSteps.reduce((a, s) => a + s.seconds, 0);
      const total = (c: LatencyCoefficients): number => {
        const p = predictBatchPhases(c, batch);
        return p.prefillSeconds + p.decodeSeconds;
      };
      expect(Math.abs(total(before) - measured) / measured).toBeGreaterThan(0.2);
      expect(Math.abs(total(after) - measured) / measured).toBeLessThan(0.05);
    }
  });

  it('counts a batch once per decode bucket: one slow batch of many steps does not fill the window', () => {
    const observed = new ObservedProfile({ window: 5, minObservations: 3 });
    const batch = (seconds: number): ObservedBatch => ({
      promptTokens: [20, 20],
      prefillSeconds: 0.1,
      // 12 steps of two sequences at 21 tokens each: one bucket.
      decodeSteps: Array.from({ length: 12 }, () => ({
        sequences: 2,
        contextTokens: 42,
        seconds,
      })),
    });
    for (let i = 0; i < 4; i++) observed.observe(batch(0.0625));
    observed.observe(batch(0.1875)); // a burst of other work on the cores
    const decode = observed.samples().filter((s) => s.phase === 'decode');
    expect(decode).toEqual([{ phase: 'decode', batchSize: 2, contextTokens: 21, seconds: 0.0625 }]);
    observed.observe(batch(0.1875));
    observed.observe(batch(0.1875));
    expect(observed.samples().filter((s) => s.phase === 'decode')).toEqual([
      { phase: 'decode', batchSize: 2, contextTokens: 21, seconds: 0.1875 },
    ]);
  });

  it('keeps at most maxBuckets buckets, dropping the least recently observed', () => {
    const observed = new ObservedProfile({ minObservations: 1, maxBuckets: 2 });
    observed.observe({ promptTokens: [8], prefillSeconds: 0.1, decodeSteps: [] });
    observed.observe({ promptTokens: [8, 8], prefillSeconds: 0.2, decodeSteps: [] });
    observed.observe({ promptTokens: [8], prefillSeconds: 0.1, decodeSteps: [] });
    observed.observe({ promptTokens: [8, 8, 8], prefillSeconds: 0.3, decodeSteps: [] });
    expect(observed.samples().map((s) => s.batchSize)).toEqual([1, 3]);
  });

  it('rejects options that cannot work, saying which', () => {
    expect(() => new ObservedProfile({ window: 0 })).toThrow(/window/);
    expect(() => new ObservedProfile({ window: 3, minObservations: 4 })).toThrow(/minObservations/);
    expect(() => new ObservedProfile({ bandRatio: 1 })).toThrow(/bandRatio/);
    expect(() => new ObservedProfile({ maxBuckets: 0 })).toThrow(/maxBuckets/);
  });
});

describe('predictBatchPhases', () => {
  it('equals the cost model (calibrated, ragged) for a batch whose sequences run to their maxTokens', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            prompt: fc.integer({ min: 1, max: 500 }),
            output: fc.integer({ min: 1, max: 60 }),
          }),
          { minLength: 1, maxLength: 16 },
        ),
        (members) => {
          const model = new CostModel(
            {
              memoryBytes: 1e12,
              computeFlops: 1e12,
              utilization: 0.5,
              uplinkBandwidthHz: 1e6,
              downlinkBandwidthHz: 1e6,
            },
            {
              name: 'm',
              quantization: 'Q4_1',
              layers: 30,
              hiddenSize: 576,
              ffnSize: 1536,
              kvWidth: 192,
              parameters: 1.35e8,
              weightBits: 4.5,
              kvBits: 16,
              computeFactor: 1,
              perplexity: 10,
            },
            {
              ...COST_DEFAULTS,
              compute: COMPUTE_MODEL.calibrated,
              padding: PADDING.ragged,
              calibration: truth,
            },
          );
          const prepared = members.map((m, i) =>
            model.prepare(
              {
                id: `r${i}`,
                promptTokens: m.prompt,
                maxTokens: m.output,
                latencyBudgetSeconds: 100,
                maxPerplexityIncrease: 1,
                uplinkSpectralEfficiency: 1,
                downlinkSpectralEfficiency: 1,
              },
              i,
            ),
          );
          const prompts = members.map((m) => m.prompt);
          const phases = predictBatchPhases(truth, {
            promptTokens: prompts,
            decodeSteps: lockstepSteps(
              prompts,
              members.map((m) => m.output),
            ),
          });
          const expected = model.computeSeconds(stateOf(prepared));
          expect(phases.prefillSeconds + phases.decodeSeconds).toBeCloseTo(expected, 9);
        },
      ),
      { numRuns: 200 },
    );
  });
});
