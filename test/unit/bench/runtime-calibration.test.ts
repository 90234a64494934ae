// The runtime bench's error arithmetic: per-batch relative errors of the whole batch and of
// each phase, medians and p90s, and the CPU kernel library read from the loader's trace.
import { describe, expect, it } from '@jest/globals';
import { loadedCpuVariant } from '../../../bench/llama-cpp/batched-bench.js';
import {
  calibrationErrors,
  repeatNoise,
  type BatchError,
} from '../../../bench/suites/runtime-calibration.js';

function batch(
  measured: [number, number],
  startup: [number, number],
  refined: [number, number],
  decodeSteps = 3,
  shape: { pass: number; batchSize: number; promptChars: number } = {
    pass: 1,
    batchSize: 2,
    promptChars: 40,
  },
): BatchError {
  const phases = ([prefillSeconds, decodeSeconds]: [number, number]) => ({
    prefillSeconds,
    decodeSeconds,
  });
  return {
    ...shape,
    maxTokens: decodeSteps + 1,
    promptTokens: [8, 8],
    decodeSteps,
    steps: Array.from({ length: decodeSteps }, () => ({
      sequences: 2,
      contextTokens: 20,
      seconds: measured[1] / decodeSteps,
    })),
    measured: phases(measured),
    startup: phases(startup),
    refined: phases(refined),
  };
}

describe('calibrationErrors', () => {
  it('gives relative errors of the batch and of each phase, whichever side the miss is on', () => {
    const batches = [
      // prefill 50% over, decode 10% under, batch (1.5 + 0.9 - 2) / 2 = 20% over
      batch([1, 1], [1.5, 0.9], [1, 1]),
      // exact
      batch([2, 2], [2, 2], [2, 2]),
      // prefill 25% under, decode 50% over, batch (0.75 + 1.5 - 2) / 2 = 12.5% over
      batch([1, 1], [0.75, 1.5], [1.1, 1]),
    ];
    const startup = calibrationErrors(batches, 'startup');
    expect(startup.batches).toBe(3);
    expect(startup.total.median).toBeCloseTo(0.125, 12);
    expect(startup.prefill.median).toBeCloseTo(0.25, 12);
    expect(startup.decode.median).toBeCloseTo(0.1, 12);
    // p90 interpolates between the two largest of three: 0.8 of the way.
    expect(startup.prefill.p90).toBeCloseTo(0.25 + 0.8 * 0.25, 12);
    const refined = calibrationErrors(batches, 'refined');
    expect(refined.total.median).toBeCloseTo(0, 12);
    expect(refined.prefill.p90).toBeCloseTo(0.08, 12);
  });

  it('leaves batches without decode steps out of the decode error only', () => {
    const batches = [batch([1, 0], [2, 0], [1, 0], 0), batch([1, 1], [1, 1.2], [1, 1])];
    const e = calibrationErrors(batches, 'startup');
    expect(e.decode.median).toBeCloseTo(0.2, 12);
    expect(e.prefill.median).toBeCloseTo(0.5, 12);
    expect(e.total.median).toBeCloseTo((1 + 0.1) / 2, 12);
  });

  it('is NaN, not zero, when there is nothing to measure', () => {
    expect(calibrationErrors([], 'refined').total.median).toBeNaN();
  });
});

describe('repeatNoise', () => {
  it("predicts each last-pass batch by the median of the same shape's earlier passes, and nothing else", () => {
    const none: [number, number] = [0, 0];
    const at = (pass: number, batchSize: number, measured: [number, number]): BatchError =>
      batch(measured, none, none, 3, { pass, batchSize, promptChars: 40 });
    const noise = repeatNoise([
      at(1, 2, [1, 2]),
      at(2, 2, [3, 4]),
      at(3, 2, [2, 2]), // predicted [2, 3]: prefill exact, decode 50% over, batch 25% over
      at(1, 4, [1, 1]),
      at(3, 4, [2, 2]), // predicted [1, 1]: 50% under everywhere
      at(3, 8, [5, 5]), // no earlier pass of this shape: not scored
    ]);
    expect(noise?.batches).toBe(2);
    expect(noise?.prefill.median).toBeCloseTo(0.25, 12);
    expect(noise?.decode.median).toBeCloseTo(0.5, 12);
    expect(noise?.total.median).toBeCloseTo(0.375, 12);
  });

  it('is undefined with a single pass', () => {
    expect(repeatNoise([batch([1, 1], [1, 1], [1, 1])])).toBeUndefined();
  });
});

describe('loadedCpuVariant', () => {
  it('takes the last CPU kernel library the loader initialised', () => {
    const trace = [
      '   1234:     calling init: /x/bins/libggml-base.so',
      '   1234:     calling init: /x/bins/libggml-cpu-x64.so',
      '   1234:     calling init: /x/bins/libggml-cpu-zen4.so',
      '   1234:     calling fini: /x/bins/libggml-cpu-x64.so [0]',
    ].join('\n');
    expect(loadedCpuVariant(trace)).toBe('libggml-cpu-zen4.so');
    expect(loadedCpuVariant('nothing loaded')).toBeUndefined();
  });
});
