// The node-llama-cpp runtime on a generated tiny model: batches stream tokens for every
// request and run in lockstep, cancellation stops generation, and bad input raises the typed
// errors while the runtime keeps serving.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createLlamaRuntime, type LlamaRuntime } from '../../../src/runtime/llama.js';
import {
  BatchTooLargeError,
  EmptyBatchError,
  InvalidRequestError,
  ModelAlreadyLoadedError,
  ModelNotFoundError,
  PromptTooLongError,
  RUNTIME_ERROR_CODE,
} from '../../../src/runtime/errors.js';
import { tinyModelPath } from '../../../src/runtime/models/catalog.js';
import type { GenerationRequest, TokenEvent } from '../../../src/runtime/types.js';

const MODEL = 'tiny';
const MAX_SEQUENCES = 4;
const SEQUENCE_CONTEXT = 96;

function request(id: string, prompt: string, maxTokens: number): GenerationRequest {
  return { id, prompt, maxTokens, sampling: { temperature: 0 } };
}

describe('LlamaRuntime', () => {
  let runtime: LlamaRuntime;
  beforeAll(async () => {
    runtime = await createLlamaRuntime({ threads: 2 });
    await runtime.loadModel({
      name: MODEL,
      quantization: 'Q8_0',
      path: tinyModelPath('Q8_0'),
      maxSequences: MAX_SEQUENCES,
      contextTokens: MAX_SEQUENCES * SEQUENCE_CONTEXT,
    });
  });
  afterAll(async () => {
    await runtime.dispose();
  });

  it('reports the loaded model and capabilities', async () => {
    const [info] = runtime.loadedModels();
    expect(info?.name).toBe(MODEL);
    expect(info?.maxSequences).toBe(MAX_SEQUENCES);
    expect(info?.contextTokens).toBeGreaterThanOrEqual(MAX_SEQUENCES * SEQUENCE_CONTEXT);
    expect(info?.parameters).toBeGreaterThan(100_000);
    expect(info?.fileBytes).toBeGreaterThan(0);
    expect(runtime.capabilities()).toEqual({
      partialModelExecution: false,
      accelerator: 'cpu',
      threads: 2,
      // make build built the module, and the model's context has a persistent llama.cpp thread
      // pool (the runtime counts the pools the module attached)
      threadPool: 'persistent',
      threadPoolDetail: expect.stringMatching(/dist\/native\/llama-thread-pool\.node$/),
    });
    // The tiny vocabulary has one token per character (plus a few merges).
    expect(await runtime.countTokens(MODEL, 'xyz')).toBe(4); // '▁', 'x', 'y', 'z'
  });

  it('runs a batch: every request streams its tokens and completes, in lockstep', async () => {
    const prompts = ['the river', 'a small town', 'bread and cheese', 'snow on the roofs'];
    const requests = prompts.map((p, i) => request(`r${i}`, p, 12));
    const events: TokenEvent[] = [];
    const out = await runtime.generateBatch(MODEL, requests, { onToken: (e) => events.push(e) });
    expect(out.results.map((r) => r.id)).toEqual(['r0', 'r1', 'r2', 'r3']);
    for (const [i, result] of out.results.entries()) {
      expect(result.completionTokens).toBeGreaterThan(0);
      expect(result.completionTokens).toBeLessThanOrEqual(12);
      expect(result.finishReason).toBe(result.completionTokens === 12 ? 'length' : 'stop');
      expect(result.promptTokens).toBe((await runtime.countTokens(MODEL, prompts[i] ?? '')) + 1);
      const streamed = events.filter((e) => e.id === result.id);
      expect(streamed.length).toBeGreaterThan(0);
      expect(streamed.map((e) => e.text).join('')).toBe(result.text);
      expect(streamed.at(-1)?.completionTokens).toBeLessThanOrEqual(result.completionTokens);
      expect(result.firstTokenSeconds).toBeGreaterThan(0);
      expect(result.totalSeconds).toBeGreaterThanOrEqual(result.firstTokenSeconds);
    }
    // Batched, not one after another: every request has its first token before any request
    // that runs the full length finishes.
    const lastFirstToken = Math.max(...out.results.map((r) => r.firstTokenSeconds));
    const full = out.results.filter((r) => r.finishReason === 'length');
    expect(full.length).toBeGreaterThan(0);
    for (const r of full) expect(r.totalSeconds).toBeGreaterThan(lastFirstToken);
    // The prefill phase ends when the first decode step starts, after the first tokens.
    expect(out.timings.prefillSeconds).toBeGreaterThanOrEqual(lastFirstToken);
    expect(out.timings.prefillSeconds).toBeLessThan(lastFirstToken + 0.05);
    // A sequence that reached maxTokens made one step per token after its first; one that
    // stopped also made the step that sampled its end-of-generation token.
    const steps = Math.max(
      ...out.results.map((r) => r.completionTokens - (r.finishReason === 'length' ? 1 : 0)),
    );
    expect(out.timings.decodeSteps).toBe(steps);
    // One evaluation for all prompts, then one per decode step over every active sequence.
    expect(out.timings.evaluations).toBe(1 + steps);
    expect(out.observation.promptTokens).toEqual(out.results.map((r) => r.promptTokens));
    expect(out.observation.decodeSteps).toHaveLength(steps);
    for (const [i, step] of out.observation.decodeSteps.entries()) {
      // Step k feeds each unfinished sequence its k-th token (one that stops samples its end
      // of generation token in the step after its last token).
      const k = i + 1;
      const active = out.results.filter(
        (r) => r.completionTokens > k || (r.completionTokens === k && r.finishReason === 'stop'),
      );
      expect(step.sequences).toBe(active.length);
      expect(step.contextTokens).toBe(active.reduce((a, r) => a + r.promptTokens + k, 0));
    }
    expect(out.timings.decodeSeconds).toBeGreaterThan(0);
  });

  it('decodes greedily and deterministically', async () => {
    const a = await runtime.generateBatch(MODEL, [request('x', 'the town', 8)], {});
    const b = await runtime.generateBatch(MODEL, [request('x', 'the town', 8)], {});
    expect(a.results[0]?.text).toBe(b.results[0]?.text);
  });

  it('cancels: aborting stops generation and reports cancelled', async () => {
    const controller = new AbortController();
    let seen = 0;
    const out = await runtime.generateBatch(
      MODEL,
      [request('long-a', 'the river', 80), request('long-b', 'the hills', 80)],
      {
        signal: controller.signal,
        onToken: () => {
          seen++;
          if (seen === 3) controller.abort();
        },
      },
    );
    for (const r of out.results) {
      expect(r.finishReason).toBe('cancelled');
      expect(r.completionTokens).toBeLessThan(10);
    }
    // An already-aborted signal runs nothing.
    const aborted = AbortSignal.abort();
    const none = await runtime.generateBatch(MODEL, [request('z', 'the river', 5)], {
      signal: aborted,
    });
    expect(none.results[0]).toMatchObject({
      finishReason: 'cancelled',
      completionTokens: 0,
      text: '',
    });
  });

  it('raises typed errors for bad input and keeps serving', async () => {
    // node-llama-cpp rounds context sizes up (to multiples of 256), so ask the runtime.
    const perSequence = runtime.sequenceContextTokens(MODEL);
    expect(perSequence).toBeGreaterThanOrEqual(SEQUENCE_CONTEXT);
    const longPrompt = 'the river rises in the hills '.repeat(Math.ceil(perSequence / 10));
    const promptTokens = (await runtime.countTokens(MODEL, longPrompt)) + 1;
    const tooLong = runtime.generateBatch(MODEL, [request('p', longPrompt, 4)], {});
    await expect(tooLong).rejects.toBeInstanceOf(PromptTooLongError);
    await expect(tooLong).rejects.toMatchObject({
      code: RUNTIME_ERROR_CODE.promptTooLong,
      requestId: 'p',
      promptTokens,
      maxTokens: 4,
      sequenceContextTokens: runtime.sequenceContextTokens(MODEL),
    });
    // Fits alone, but not with the requested tokens on top.
    await expect(
      runtime.generateBatch(MODEL, [request('q', 'short', perSequence)], {}),
    ).rejects.toBeInstanceOf(PromptTooLongError);

    const five = Array.from({ length: MAX_SEQUENCES + 1 }, (_, i) => request(`b${i}`, 'x', 2));
    await expect(runtime.generateBatch(MODEL, five, {})).rejects.toMatchObject({
      constructor: BatchTooLargeError,
      requested: MAX_SEQUENCES + 1,
      maxSequences: MAX_SEQUENCES,
    });
    await expect(runtime.generateBatch(MODEL, [], {})).rejects.toBeInstanceOf(EmptyBatchError);
    await expect(
      runtime.generateBatch(MODEL, [request('d', 'a', 2), request('d', 'b', 2)], {}),
    ).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(runtime.generateBatch(MODEL, [request('m', 'a', 0)], {})).rejects.toThrow(
      /maxTokens must be a positive integer/,
    );
    await expect(runtime.generateBatch('nope', [request('n', 'a', 2)], {})).rejects.toMatchObject({
      constructor: ModelNotFoundError,
      code: RUNTIME_ERROR_CODE.modelNotFound,
    });
    await expect(
      runtime.loadModel({ name: 'missing', quantization: 'Q8_0', path: '/nonexistent/model.gguf' }),
    ).rejects.toThrow(/no GGUF file at \/nonexistent\/model.gguf/);
    await expect(
      runtime.loadModel({ name: MODEL, quantization: 'Q8_0', path: tinyModelPath('Q8_0') }),
    ).rejects.toBeInstanceOf(ModelAlreadyLoadedError);

    // Two concurrent loads of one name: exactly one wins.
    const spec = {
      name: 'twice',
      quantization: 'Q4_0',
      path: tinyModelPath('Q4_0'),
      maxSequences: 1,
    };
    const loads = await Promise.allSettled([runtime.loadModel(spec), runtime.loadModel(spec)]);
    expect(loads.map((l) => l.status).sort()).toEqual(['fulfilled', 'rejected']);
    await runtime.unloadModel('twice');

    const ok = await runtime.generateBatch(MODEL, [request('after', 'the town', 3)], {});
    expect(ok.results[0]?.completionTokens).toBeGreaterThan(0);
  });

  it('serializes concurrent batches on one model', async () => {
    const [a, b] = await Promise.all([
      runtime.generateBatch(
        MODEL,
        [request('a1', 'the river', 5), request('a2', 'the town', 5)],
        {},
      ),
      runtime.generateBatch(
        MODEL,
        [request('b1', 'the hills', 5), request('b2', 'the snow', 5)],
        {},
      ),
    ]);
    expect([...a.results, ...b.results].every((r) => r.completionTokens > 0)).toBe(true);
  });
});
