// Calibration on real models: the latency profile has the planned samples, positive and
// growing with batch size; perplexity on the shipped text separates the real small model
// (SmolLM2-135M) from a random-weight tiny model.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  calibrate,
  loadCalibrationText,
  measurePerplexity,
} from '../../../src/agent/calibration.js';
import type { ProfileSample } from '../../../src/core/model/profile.js';
import { createLlamaRuntime, type LlamaRuntime } from '../../../src/runtime/llama.js';
import {
  REGISTRY_MODEL,
  registryModelPath,
  tinyModelPath,
} from '../../../src/runtime/models/catalog.js';

const SMOL_VOCABULARY = 49_152;

describe('calibration', () => {
  let runtime: LlamaRuntime;
  let text: string;
  beforeAll(async () => {
    runtime = await createLlamaRuntime({ threads: 2 });
    text = await loadCalibrationText();
    await runtime.loadModel({
      name: REGISTRY_MODEL.name,
      quantization: REGISTRY_MODEL.quantization,
      path: registryModelPath(),
      maxSequences: 8,
      contextTokens: 8 * 256,
    });
    await runtime.loadModel({
      name: 'tiny',
      quantization: 'F16',
      path: tinyModelPath('F16'),
      maxSequences: 2,
      contextTokens: 2 * 256,
    });
  }, 120_000);
  afterAll(async () => {
    await runtime.dispose();
  });

  it('measures a prefill and decode sample for every point of the plan', async () => {
    const profile = await calibrate(runtime, REGISTRY_MODEL.name, text, {
      batchSizes: [1, 8],
      promptTokens: [8, 32],
      contextTokens: [16],
      decodeSteps: 3,
      prefillRepeats: 1,
      perplexityTokens: 0,
    });
    expect(profile).toMatchObject({ model: REGISTRY_MODEL.name, quantization: 'Q4_1', threads: 2 });
    expect(profile.perplexity).toBeUndefined();
    const key = (s: ProfileSample): string => `${s.phase}/${s.batchSize}/${s.contextTokens}`;
    // A decode sample's context is the mean its steps attend to: 16, 17 and 18 tokens.
    expect(profile.samples.map(key).sort()).toEqual(
      [
        'decode/1/17',
        'decode/8/17',
        'prefill/1/32',
        'prefill/1/8',
        'prefill/8/32',
        'prefill/8/8',
      ].sort(),
    );
    for (const s of profile.samples) {
      expect(Number.isFinite(s.seconds)).toBe(true);
      expect(s.seconds).toBeGreaterThan(0);
    }
    // How the times compare (batching gain, growth with context) is measured by `make bench`
    // (runtime suite), not asserted here: on a shared 2-core machine timings are noise-prone.
  }, 300_000);

  it('measures perplexity: finite and low for the real model, much higher for random weights', async () => {
    const real = await measurePerplexity(runtime, REGISTRY_MODEL.name, text, 128);
    const random = await measurePerplexity(runtime, 'tiny', text, 128);
    expect(Number.isFinite(real)).toBe(true);
    expect(real).toBeGreaterThan(1);
    expect(real).toBeLessThan(SMOL_VOCABULARY / 500);
    expect(random).toBeGreaterThan(5 * real);
  }, 300_000);
});
