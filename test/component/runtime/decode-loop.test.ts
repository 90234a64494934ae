// The batched decode loop on a generated tiny model through node-llama-cpp's native context:
// every decode step is one llama_decode call over every active sequence, long prompts are
// split at the context's batch size, and greedy output matches node-llama-cpp's own
// LlamaContextSequence.evaluate token for token.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Token } from 'node-llama-cpp';
import { runDecodeLoop, type LoopResult } from '../../../src/runtime/decode-loop.js';
import { createLlamaRuntime, type LlamaRuntime } from '../../../src/runtime/llama.js';
import { tinyModelPath } from '../../../src/runtime/models/catalog.js';
import {
  NATIVE_SAMPLER_DEFAULTS,
  type NativeContext,
  type NativeSampler,
} from '../../../src/runtime/native.js';

const MODEL = 'tiny';

/** The real native context, with every initBatch size and decode call recorded. */
function recording(native: NativeContext): { native: NativeContext; decodes: number[] } {
  const decodes: number[] = [];
  let size = 0;
  return {
    decodes,
    native: {
      initBatch: (n) => {
        size = n;
        native.initBatch(n);
      },
      addToBatch: (id, position, tokens, logits) => native.addToBatch(id, position, tokens, logits),
      decodeBatch: async () => {
        await native.decodeBatch();
        decodes.push(size);
      },
      sampleToken: (index, sampler) => native.sampleToken(index, sampler),
      removeTokenCellsFromSequence: (id, start, end) =>
        native.removeTokenCellsFromSequence(id, start, end),
    },
  };
}

describe('runDecodeLoop', () => {
  let runtime: LlamaRuntime;
  beforeAll(async () => {
    runtime = await createLlamaRuntime({ threads: 1 });
    await runtime.loadModel({
      name: MODEL,
      quantization: 'Q8_0',
      path: tinyModelPath('Q8_0'),
      maxSequences: 4,
      contextTokens: 4 * 128,
    });
  });
  afterAll(async () => {
    await runtime.dispose();
  });

  /** Runs the loop, greedy and to maxTokens, over the real native context, recording it. */
  const runRecorded = (
    prompts: readonly (readonly Token[])[],
    limits: readonly number[],
    batchTokens?: number,
  ): Promise<{ result: LoopResult; decodes: number[] }> =>
    runtime.withNativeSequences(MODEL, prompts.length, async (native, ids, handles) => {
      const rec = recording(native);
      const samplers = prompts.map(() => {
        const sampler = handles.newSampler();
        sampler.applyConfig({ temperature: 0, ...NATIVE_SAMPLER_DEFAULTS, seed: 0 });
        return sampler;
      });
      try {
        const result = await runDecodeLoop(
          rec.native,
          prompts.map((prompt, i) => ({
            sequenceId: ids[i] ?? 0,
            prompt,
            maxTokens: limits[i] ?? 1,
            sampler: samplers[i] as NativeSampler,
          })),
          { batchTokens: batchTokens ?? handles.batchTokens, isEndOfGeneration: () => false },
        );
        return { result, decodes: rec.decodes };
      } finally {
        for (const sampler of samplers) sampler.dispose();
      }
    });

  it('decodes every step of a batch in one llama_decode call over the active sequences', async () => {
    const prompts = ['the river', 'a small town in the hills', 'snow'].map((p) =>
      runtime.promptTokens(MODEL, p),
    );
    const limits = [10, 4, 7];
    const { result, decodes } = await runRecorded(prompts, limits);
    expect(result.sequences.map((s) => s.tokens.length)).toEqual(limits);
    expect(result.sequences.map((s) => s.finish)).toEqual(['length', 'length', 'length']);
    // One call for the three prompts, then steps of 3 sequences until the 4-token one is done
    // (3 steps), of 2 until the 7-token one is (3 more), then of 1 (3 more).
    const promptTotal = prompts.reduce((a, p) => a + p.length, 0);
    expect(decodes).toEqual([promptTotal, 3, 3, 3, 2, 2, 2, 1, 1, 1]);
    expect(result.decodeCalls).toBe(decodes.length);
    expect(result.steps.map((s) => s.sequences)).toEqual(decodes.slice(1));
    expect(result.prefillSeconds).toBeGreaterThan(0);
    for (const step of result.steps) expect(step.seconds).toBeGreaterThan(0);
  });

  it('splits prompts longer than the batch size over several calls', async () => {
    const prompts = ['the river runs by the town', 'bread and cheese on the table'].map((p) =>
      runtime.promptTokens(MODEL, p),
    );
    const total = prompts.reduce((a, p) => a + p.length, 0);
    const batchTokens = 8;
    const { result, decodes } = await runRecorded(prompts, [5, 5], batchTokens);
    const prefillCalls = Math.ceil(total / batchTokens);
    expect(decodes.slice(0, prefillCalls).reduce((a, n) => a + n, 0)).toBe(total);
    expect(decodes.slice(0, prefillCalls).every((n) => n <= batchTokens)).toBe(true);
    expect(decodes.slice(prefillCalls)).toEqual([2, 2, 2, 2]);
    expect(result.sequences.map((s) => s.tokens.length)).toEqual([5, 5]);
  });

  it('generates what node-llama-cpp’s own evaluate generates, greedy', async () => {
    const prompt = runtime.promptTokens(MODEL, 'the old mill by the water');
    const reference = await runtime.withSequences(MODEL, 1, async ([sequence]) => {
      const tokens: Token[] = [];
      if (!sequence) throw new Error('no sequence');
      for await (const token of sequence.evaluate(prompt, { temperature: 0 })) {
        tokens.push(token);
        if (tokens.length === 24) break;
      }
      return tokens;
    });
    const out = await runtime.generateBatch(
      MODEL,
      [
        {
          id: 'a',
          prompt: 'the old mill by the water',
          maxTokens: 24,
          sampling: { temperature: 0 },
        },
      ],
      {},
    );
    const model = runtime.loadedModels()[0];
    expect(model?.name).toBe(MODEL);
    expect(out.results[0]?.completionTokens).toBe(reference.length);
    expect(out.results[0]?.text).toBe(
      await runtime.withSequences(MODEL, 1, (_s, m) => Promise.resolve(m.detokenize(reference))),
    );
  });

  it('drops a request cancelled on its own before the next step; the others run on', async () => {
    const own = new AbortController();
    const out = await runtime.generateBatch(
      MODEL,
      ['the river', 'the town'].map((prompt, i) => ({
        id: `r${i}`,
        prompt,
        maxTokens: 12,
        sampling: { temperature: 0 },
        ...(i === 1 ? { signal: own.signal } : {}),
      })),
      {
        onToken: (event) => {
          if (event.id === 'r1' && event.completionTokens === 3) own.abort();
        },
      },
    );
    const [kept, cancelled] = out.results;
    expect(cancelled?.finishReason).toBe('cancelled');
    expect(cancelled?.completionTokens).toBe(3);
    // r1's third token came from step 2; from step 3 on only r0 is decoded.
    const sizes = out.observation.decodeSteps.map((step) => step.sequences);
    expect(sizes.slice(0, 2)).toEqual([2, 2]);
    expect(sizes.slice(2).every((n) => n === 1)).toBe(true);
    if (kept?.finishReason === 'length') expect(kept.completionTokens).toBe(12);
    else expect(kept?.finishReason).toBe('stop');
  });
});
