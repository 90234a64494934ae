// The cost model's closed forms against direct sums, and the calibration fit.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { sumMaxLinearRange } from '../../../../src/core/model/batch.js';
import {
  fitLatencyProfile,
  predictSample,
  CalibrationError,
} from '../../../../src/core/model/calibration.js';
import { decodeFlops, decodeStepFlops, prefillFlops } from '../../../../src/core/model/flops.js';
import { kvBytesPerToken, weightBytes } from '../../../../src/core/model/memory.js';
import {
  linearAllocation,
  noiseScaledAllocation,
} from '../../../../src/core/model/communication.js';
import type { ProfileSample } from '../../../../src/core/model/profile.js';
import type { ModelVariant } from '../../../../src/core/model/types.js';
import { llama7b as llama7bVariant } from '../../../support/models.js';

const llama7b: ModelVariant = llama7bVariant();

describe('memory', () => {
  it('counts 7B FP16 weights as 13.48 GB and 512 KiB of KV cache per token', () => {
    expect(weightBytes(llama7b)).toBeCloseTo(13.48e9, -6);
    expect(kvBytesPerToken(llama7b)).toBe(2 * 32 * 4096 * 2);
  });
});

describe('FLOPs', () => {
  it('decode FLOPs in closed form equal the sum of per-step FLOPs', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 1, max: 300 }), (s, n) => {
        let direct = 0;
        for (let i = 1; i <= n - 1; i++) direct += decodeStepFlops(llama7b, s + i);
        expect(decodeFlops(llama7b, s, n)).toBeCloseTo(direct, -3);
      }),
    );
  });

  it('prefill of 512 tokens on a 7B model follows the spec: L (s (8h^2 + 4h h_ff) + 4 s^2 h)', () => {
    // 32 * (512 * (8 * 4096^2 + 4 * 4096 * 11008) + 4 * 512^2 * 4096) = 5.2914e12
    expect(prefillFlops(llama7b, 512)).toBe(5_291_399_708_672);
    expect(prefillFlops(llama7b, 0)).toBe(0);
  });
});

describe('sumMaxLinearRange', () => {
  it('equals the direct sum of max over the range', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -100, max: 100, noNaN: true }),
        fc.double({ min: -10, max: 10, noNaN: true }),
        fc.double({ min: -100, max: 100, noNaN: true }),
        fc.double({ min: -10, max: 10, noNaN: true }),
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: -2, max: 80 }),
        (f0, f1, m0, m1, a, b) => {
          let direct = 0;
          for (let i = a; i <= b; i++) direct += Math.max(f0 + f1 * i, m0 + m1 * i);
          expect(sumMaxLinearRange(f0, f1, m0, m1, a, b)).toBeCloseTo(direct, 6);
        },
      ),
    );
  });
});

describe('links', () => {
  it('noise-scaled phase time never exceeds the linear one and both fill the band', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            bits: fc.integer({ min: 1, max: 1e6 }),
            spectralEfficiency: fc.double({ min: 0.1, max: 10, noNaN: true }),
          }),
          { minLength: 1, maxLength: 20 },
        ),
        fc.double({ min: 1e3, max: 1e8, noNaN: true }),
        (demands, band) => {
          const lin = linearAllocation(demands, band);
          const ns = noiseScaledAllocation(demands, band);
          expect(ns.seconds).toBeLessThanOrEqual(lin.seconds * (1 + 1e-9));
          expect(ns.sharesHz.reduce((a, b) => a + b, 0)).toBeCloseTo(band, 3);
          expect(lin.sharesHz.reduce((a, b) => a + b, 0)).toBeCloseTo(band, 3);
        },
      ),
    );
  });
});

describe('calibration fit', () => {
  const truth = {
    prefill: { fixedSeconds: 0.02, perTokenSeconds: 2e-4, perTokenSquaredSeconds: 1e-8 },
    decodeStep: { fixedSeconds: 0.015, perSequenceSeconds: 1.5e-3, perContextTokenSeconds: 2e-6 },
  };
  const samples: ProfileSample[] = [];
  for (const b of [1, 2, 4, 8]) {
    for (const t of [16, 64, 256]) {
      samples.push({ phase: 'prefill', batchSize: b, contextTokens: t, seconds: 0 });
      samples.push({ phase: 'decode', batchSize: b, contextTokens: t, seconds: 0 });
    }
  }

  it('recovers the coefficients of noise-free samples', () => {
    const exact = samples.map((s) => ({ ...s, seconds: predictSample(truth, s) }));
    const fit = fitLatencyProfile({ model: 'm', quantization: 'Q4_0', threads: 2, samples: exact });
    expect(fit.prefill.fixedSeconds).toBeCloseTo(truth.prefill.fixedSeconds, 6);
    expect(fit.prefill.perTokenSeconds).toBeCloseTo(truth.prefill.perTokenSeconds, 8);
    expect(fit.decodeStep.perSequenceSeconds).toBeCloseTo(truth.decodeStep.perSequenceSeconds, 7);
    expect(fit.decodeStep.perContextTokenSeconds).toBeCloseTo(
      truth.decodeStep.perContextTokenSeconds,
      9,
    );
  });

  it('keeps every coefficient non-negative and predicts noisy samples within their noise', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0.9, max: 1.1, noNaN: true }), { minLength: 24, maxLength: 24 }),
        (noise) => {
          const noisy = samples.map((s, i) => ({
            ...s,
            seconds: predictSample(truth, s) * (noise[i] ?? 1),
          }));
          const fit = fitLatencyProfile({
            model: 'm',
            quantization: 'Q4_0',
            threads: 2,
            samples: noisy,
          });
          for (const v of [...Object.values(fit.prefill), ...Object.values(fit.decodeStep)]) {
            expect(v).toBeGreaterThanOrEqual(0);
          }
          for (const s of noisy) {
            const err = Math.abs(predictSample(fit, s) - s.seconds) / s.seconds;
            expect(err).toBeLessThan(0.25);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses a profile with too few samples and says what to do', () => {
    expect(() =>
      fitLatencyProfile({
        model: 'm',
        quantization: 'Q4_0',
        threads: 2,
        samples: samples.slice(0, 2),
      }),
    ).toThrow(CalibrationError);
    expect(() =>
      fitLatencyProfile({
        model: 'm',
        quantization: 'Q4_0',
        threads: 2,
        samples: samples.slice(0, 2),
      }),
    ).toThrow(/re-run calibration/);
  });
});
