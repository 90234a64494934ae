// The simulated runtime the operator benchmark's agents run: it behaves like a runtime to the
// agent (typed errors, streaming, cancellation) and its profile fits back to its own latency.
import { describe, expect, it } from '@jest/globals';
import { fitLatencyProfile } from '../../../src/core/model/calibration.js';
import {
  BatchTooLargeError,
  EmptyBatchError,
  InvalidRequestError,
  ModelAlreadyLoadedError,
  ModelNotFoundError,
  PromptTooLongError,
} from '../../../src/runtime/errors.js';
import { SimulatedRuntime, simulatedTokenCount } from '../../../src/runtime/simulated.js';
import type { GenerationRequest, TokenEvent } from '../../../src/runtime/types.js';

const fast = {
  prefill: { fixedSeconds: 0.001, perTokenSeconds: 0.00001, perTokenSquaredSeconds: 1e-8 },
  decodeStep: { fixedSeconds: 0.001, perSequenceSeconds: 0.0005, perContextTokenSeconds: 1e-6 },
};

async function runtime(maxSequences = 4, contextTokens = 512): Promise<SimulatedRuntime> {
  const rt = new SimulatedRuntime({ coefficients: fast });
  await rt.loadModel({ name: 'm', quantization: 'Q4_0', path: 'sim', maxSequences, contextTokens });
  return rt;
}

const req = (id: string, maxTokens: number, prompt = 'hello there'): GenerationRequest => ({
  id,
  prompt,
  maxTokens,
  sampling: { temperature: 0 },
});

describe('SimulatedRuntime', () => {
  it('generates maxTokens tokens per request and streams them in order', async () => {
    const rt = await runtime();
    const events: TokenEvent[] = [];
    const out = await rt.generateBatch('m', [req('a', 3), req('b', 5)], {
      onToken: (e) => events.push(e),
    });
    expect(out.results.map((r) => [r.id, r.completionTokens, r.finishReason])).toEqual([
      ['a', 3, 'length'],
      ['b', 5, 'length'],
    ]);
    // As llama.cpp does, the prompt evaluation yields each first token; 4 steps make the rest.
    expect(out.timings.decodeSteps).toBe(4);
    const s = simulatedTokenCount('hello there');
    expect(out.observation.promptTokens).toEqual([s, s]);
    expect(out.observation.decodeSteps.map((step) => [step.sequences, step.contextTokens])).toEqual(
      [
        [2, 2 * (s + 1)],
        [2, 2 * (s + 2)],
        [1, s + 3],
        [1, s + 4],
      ],
    );
    expect(events.filter((e) => e.id === 'b').map((e) => e.completionTokens)).toEqual([
      1, 2, 3, 4, 5,
    ]);
    const b = out.results[1];
    expect(b?.text).toBe(
      events
        .filter((e) => e.id === 'b')
        .map((e) => e.text)
        .join(''),
    );
    expect(b?.promptTokens).toBe(simulatedTokenCount('hello there'));
    expect(b?.firstTokenSeconds).toBeLessThanOrEqual(b?.totalSeconds ?? 0);
  });

  it('stops on abort and reports unfinished requests as cancelled', async () => {
    const rt = await runtime();
    const controller = new AbortController();
    const out = await rt.generateBatch('m', [req('a', 100)], {
      signal: controller.signal,
      onToken: (e) => {
        if (e.completionTokens === 2) controller.abort();
      },
    });
    expect(out.results[0]?.finishReason).toBe('cancelled');
    expect(out.results[0]?.completionTokens).toBe(2);
  });

  it('rejects bad batches with the typed errors the agent maps to gRPC codes', async () => {
    const rt = await runtime(2, 64);
    await expect(rt.generateBatch('m', [], {})).rejects.toBeInstanceOf(EmptyBatchError);
    await expect(
      rt.generateBatch('m', [req('a', 1), req('b', 1), req('c', 1)], {}),
    ).rejects.toBeInstanceOf(BatchTooLargeError);
    await expect(rt.generateBatch('m', [req('a', 1), req('a', 1)], {})).rejects.toBeInstanceOf(
      InvalidRequestError,
    );
    await expect(rt.generateBatch('m', [req('a', 30, 'x'.repeat(40))], {})).rejects.toBeInstanceOf(
      PromptTooLongError,
    );
    await expect(rt.generateBatch('other', [req('a', 1)], {})).rejects.toBeInstanceOf(
      ModelNotFoundError,
    );
    await expect(
      rt.loadModel({ name: 'm', quantization: 'Q4_0', path: 'sim' }),
    ).rejects.toBeInstanceOf(ModelAlreadyLoadedError);
  });

  it('publishes a profile that the calibrated cost model fits back to its coefficients', async () => {
    const rt = await runtime(16, 4096);
    const fitted = fitLatencyProfile(rt.profile('m'));
    for (const phase of ['prefill', 'decodeStep'] as const) {
      for (const [key, value] of Object.entries(fast[phase])) {
        expect((fitted[phase] as Record<string, number>)[key]).toBeCloseTo(value, 9);
      }
    }
  });
});
