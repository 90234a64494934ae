// Unit tests of the executor's pure logic (admission codes, per-sequence rejection, per-model
// FIFO, idempotency, cancellation of a batch or one request, orphaned batches, the bounded
// cache) with a scripted in-memory runtime. The real runtime is exercised over gRPC in
// test/component/agent/agent.test.ts.
import { describe, expect, it } from '@jest/globals';
import { status } from '@grpc/grpc-js';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { AgentError } from '../../../src/agent/errors.js';
import { BatchExecutor, type BatchRecord } from '../../../src/agent/executor.js';
import { AgentMetrics } from '../../../src/agent/metrics.js';
import { ModelCatalog } from '../../../src/agent/models.js';
import {
  BatchState,
  FinishReason,
  type ExecuteBatchRequest,
  type ExecuteBatchResponse,
} from '../../../src/gen/edgellm/agent/v1/agent.js';
import type {
  BatchObservation,
  BatchOutput,
  GenerationRequest,
  InferenceRuntime,
  LoadedModel,
  ModelSpec,
  TokenEvent,
} from '../../../src/runtime/types.js';

/** Scripted runtime: one token per "step"; each step waits for `release()` when gated. */
class ScriptedRuntime implements InferenceRuntime {
  calls: string[][] = [];
  private readonly loaded = new Map<string, LoadedModel>();
  private gates: (() => void)[] = [];
  constructor(private readonly gated = false) {}
  release(): void {
    const gates = this.gates;
    this.gates = [];
    for (const g of gates) g();
  }
  capabilities() {
    return { partialModelExecution: false, accelerator: 'cpu', threads: 1 };
  }
  loadModel(spec: ModelSpec): Promise<LoadedModel> {
    const model: LoadedModel = {
      name: spec.name,
      quantization: spec.quantization,
      path: spec.path,
      fileBytes: 1,
      contextTokens: spec.contextTokens ?? 64,
      maxSequences: spec.maxSequences ?? 4,
      layers: 1,
      hiddenSize: 1,
      parameters: 1,
      loadSeconds: 0,
    };
    this.loaded.set(spec.name, model);
    return Promise.resolve(model);
  }
  unloadModel(name: string): Promise<void> {
    this.loaded.delete(name);
    return Promise.resolve();
  }
  loadedModels(): readonly LoadedModel[] {
    return [...this.loaded.values()];
  }
  countTokens(_model: string, text: string): Promise<number> {
    return Promise.resolve(text.split(' ').length);
  }
  countPromptTokens(model: string, prompt: string): Promise<number> {
    return this.countTokens(model, prompt);
  }
  async generateBatch(
    _model: string,
    requests: readonly GenerationRequest[],
    options: { signal?: AbortSignal; onToken?: (e: TokenEvent) => void },
  ): Promise<BatchOutput> {
    this.calls.push(requests.map((r) => r.id));
    const done = new Map<string, number>();
    const max = Math.max(...requests.map((r) => r.maxTokens));
    for (let step = 1; step <= max && !options.signal?.aborted; step++) {
      if (this.gated) await new Promise<void>((resolve) => this.gates.push(resolve));
      else await Promise.resolve();
      if (options.signal?.aborted) break;
      for (const r of requests)
        if (step <= r.maxTokens && r.signal?.aborted !== true) {
          done.set(r.id, step);
          options.onToken?.({ id: r.id, text: ` w${step}`, completionTokens: step });
        }
    }
    return {
      results: requests.map((r) => {
        const n = done.get(r.id) ?? 0;
        return {
          id: r.id,
          text: Array.from({ length: n }, (_, i) => ` w${i + 1}`).join(''),
          promptTokens: r.prompt.split(' ').length,
          completionTokens: n,
          finishReason: n === r.maxTokens ? 'length' : 'cancelled',
          firstTokenSeconds: 0,
          totalSeconds: 0,
        };
      }),
      timings: { prefillSeconds: 0, decodeSeconds: 0, decodeSteps: max, evaluations: max },
      observation: {
        promptTokens: requests.map((r) => r.prompt.split(' ').length),
        prefillSeconds: 0,
        decodeSteps: [],
      },
    };
  }
  dispose(): Promise<void> {
    return Promise.resolve();
  }
}

async function setup(
  gated = false,
  cacheSize = 8,
  onBatchObserved?: (model: string, observation: BatchObservation) => void,
) {
  const runtime = new ScriptedRuntime(gated);
  const logger = pino({ level: 'silent' });
  const metrics = new AgentMetrics(new Registry());
  const catalog = new ModelCatalog(
    runtime,
    [
      {
        name: 'm',
        quantization: 'F32',
        path: '/m',
        contextTokens: 64,
        maxSequences: 4,
        preload: true,
      },
      {
        name: 'cold',
        quantization: 'F32',
        path: '/c',
        contextTokens: 64,
        maxSequences: 4,
        preload: false,
      },
    ],
    metrics,
    logger,
  );
  await catalog.load('m');
  const executor = new BatchExecutor({
    runtime,
    catalog,
    metrics,
    logger,
    cacheSize,
    orphanGraceSeconds: ORPHAN_GRACE_SECONDS,
    ...(onBatchObserved ? { onBatchObserved } : {}),
  });
  return { runtime, executor, metrics };
}

const ORPHAN_GRACE_SECONDS = 0.05;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function resultsOf(events: readonly ExecuteBatchResponse[]) {
  return events.flatMap((e) => (e.event?.$case === 'result' ? [e.event.value] : []));
}

function batch(batchId: string, n = 2, maxTokens = 3, model = 'm'): ExecuteBatchRequest {
  return {
    batchId,
    model,
    requests: Array.from({ length: n }, (_, i) => ({
      id: `r${i}`,
      prompt: `hello number ${i}`,
      maxTokens,
      sampling: { temperature: 0 },
      deadline: undefined,
      messages: [],
      stop: [],
    })),
  };
}

function follow(record: BatchRecord): Promise<ExecuteBatchResponse[]> {
  return new Promise((resolve) => {
    const events: ExecuteBatchResponse[] = [];
    record.subscribe({
      event: (e) => {
        events.push(e);
      },
      end: () => {
        resolve(events);
      },
    });
  });
}

async function codeOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof AgentError) return err.code;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('BatchExecutor admission', () => {
  it('gives each bad input its precise status and keeps serving', async () => {
    const { executor } = await setup();
    const b = batch('b');
    expect(await codeOf(executor.submit({ ...b, batchId: '' }))).toBe(status.INVALID_ARGUMENT);
    expect(await codeOf(executor.submit({ ...b, requests: [] }))).toBe(status.INVALID_ARGUMENT);
    const r0 = b.requests[0];
    if (!r0) throw new Error('batch() made no requests');
    expect(await codeOf(executor.submit({ ...b, requests: [{ ...r0, prompt: '' }] }))).toBe(
      status.INVALID_ARGUMENT,
    );
    expect(await codeOf(executor.submit({ ...b, requests: [{ ...r0, maxTokens: 0 }] }))).toBe(
      status.INVALID_ARGUMENT,
    );
    expect(await codeOf(executor.submit({ ...b, requests: [r0, r0] }))).toBe(
      status.INVALID_ARGUMENT,
    );
    expect(await codeOf(executor.submit({ ...b, model: 'nope' }))).toBe(status.NOT_FOUND);
    expect(await codeOf(executor.submit({ ...b, model: 'cold' }))).toBe(status.FAILED_PRECONDITION);
    expect(await codeOf(executor.submit(batch('big', 5)))).toBe(status.RESOURCE_EXHAUSTED);
    const past = new Date(Date.now() - 1000);
    expect(await codeOf(executor.submit({ ...b, requests: [{ ...r0, deadline: past }] }))).toBe(
      status.DEADLINE_EXCEEDED,
    );
    const { record } = await executor.submit(b);
    const events = await follow(record);
    expect(record.state).toBe(BatchState.BATCH_STATE_SUCCEEDED);
    expect(events.filter((e) => e.event?.$case === 'token')).toHaveLength(6);
  });
});

describe('BatchExecutor per-request outcomes', () => {
  it('rejects a request that does not fit one sequence alone; its batch-mates run', async () => {
    const { executor, metrics } = await setup();
    const b = batch('mixed', 3);
    // 64 tokens / 4 sequences = 16 per sequence.
    const long = Array.from({ length: 20 }, () => 'x').join(' ');
    const [r0, r1, r2] = b.requests;
    if (!r0 || !r1 || !r2) throw new Error('batch() made too few requests');
    const { record } = await executor.submit({
      ...b,
      requests: [{ ...r0, prompt: long }, { ...r1, maxTokens: 15 }, r2],
    });
    const results = resultsOf(await follow(record));
    expect(record.state).toBe(BatchState.BATCH_STATE_SUCCEEDED);
    const byId = new Map(results.map((r) => [r.requestId, r]));
    expect(byId.get('r0')).toMatchObject({
      finishReason: FinishReason.FINISH_REASON_REJECTED,
      completionTokens: 0,
    });
    expect(byId.get('r0')?.error).toMatch(/prompt is 20 tokens, over the 16-token context/);
    expect(byId.get('r1')?.finishReason).toBe(FinishReason.FINISH_REASON_REJECTED);
    expect(byId.get('r1')?.error).toMatch(/lower max_tokens to at most 13/);
    expect(byId.get('r2')).toMatchObject({
      finishReason: FinishReason.FINISH_REASON_LENGTH,
      completionTokens: 3,
    });
    expect((await metrics.rejectedRequests.get()).values[0]?.value).toBe(2);
  });

  it('a batch of only rejected requests ends without running', async () => {
    const { executor, runtime } = await setup();
    const b = batch('none', 1, 40);
    const { record } = await executor.submit(b);
    const results = resultsOf(await follow(record));
    expect(results.map((r) => r.finishReason)).toEqual([FinishReason.FINISH_REASON_REJECTED]);
    expect(runtime.calls).toEqual([]);
  });

  it('cancels one running request; the others run to the end', async () => {
    const { executor, runtime } = await setup(true);
    const { record } = await executor.submit(batch('c', 3, 4));
    const events = follow(record);
    runtime.release();
    await sleep(5);
    expect(executor.cancelGeneration('c', 'r1')).toBe(true);
    expect(executor.cancelGeneration('c', 'r1')).toBe(false);
    for (let i = 0; i < 4; i++) {
      runtime.release();
      await sleep(5);
    }
    const results = resultsOf(await events);
    const byId = new Map(results.map((r) => [r.requestId, r]));
    expect(byId.get('r1')?.finishReason).toBe(FinishReason.FINISH_REASON_CANCELLED);
    expect(byId.get('r1')?.completionTokens).toBeLessThan(4);
    expect(byId.get('r0')).toMatchObject({
      finishReason: FinishReason.FINISH_REASON_LENGTH,
      completionTokens: 4,
    });
    expect(byId.get('r2')).toMatchObject({
      finishReason: FinishReason.FINISH_REASON_LENGTH,
      completionTokens: 4,
    });
    expect(record.state).toBe(BatchState.BATCH_STATE_SUCCEEDED);
    expect(() => executor.cancelGeneration('c', 'nope')).toThrow(/has no request nope/);
    expect(() => executor.cancelGeneration('nope', 'r0')).toThrow(/not known/);
    // Finished: its result stands.
    expect(executor.cancelGeneration('c', 'r0')).toBe(false);
  });

  it('a request cancelled while its batch is queued never runs', async () => {
    const { executor, runtime } = await setup(true);
    const first = await executor.submit(batch('q1', 1, 2));
    const second = await executor.submit(batch('q2', 2, 2));
    expect(executor.cancelGeneration('q2', 'r0')).toBe(true);
    const done = follow(second.record);
    for (let i = 0; i < 6; i++) {
      runtime.release();
      await sleep(5);
    }
    await follow(first.record);
    const results = resultsOf(await done);
    expect(results.find((r) => r.requestId === 'r0')?.finishReason).toBe(
      FinishReason.FINISH_REASON_CANCELLED,
    );
    expect(runtime.calls).toEqual([['r0'], ['r1']]);
  });
});

describe('BatchExecutor orphaned batches', () => {
  it('cancels a running batch whose last follower left and none came back in the grace period', async () => {
    const { executor, runtime, metrics } = await setup(true);
    const { record } = await executor.submit(batch('o', 1, 10));
    const off = record.subscribe({ event: () => undefined, end: () => undefined });
    runtime.release();
    off();
    await sleep(ORPHAN_GRACE_SECONDS * 1000 * 3);
    runtime.release();
    await follow(record);
    expect(record.state).toBe(BatchState.BATCH_STATE_CANCELLED);
    expect((await metrics.orphanedBatches.get()).values[0]?.value).toBe(1);
  });

  it('keeps a batch whose caller reattaches or asks about it (GetBatch) within the grace period', async () => {
    const { executor, runtime } = await setup(true);
    const { record } = await executor.submit(batch('kept', 1, 4));
    const off = record.subscribe({ event: () => undefined, end: () => undefined });
    off();
    await sleep((ORPHAN_GRACE_SECONDS * 1000) / 2);
    const done = follow(record); // reattached
    await sleep(ORPHAN_GRACE_SECONDS * 1000 * 2);
    for (let i = 0; i < 4; i++) {
      runtime.release();
      await sleep(5);
    }
    await done;
    expect(record.state).toBe(BatchState.BATCH_STATE_SUCCEEDED);
    const polled = await executor.submit(batch('polled', 1, 3));
    polled.record.subscribe({ event: () => undefined, end: () => undefined })();
    for (let i = 0; i < 6; i++) {
      await sleep((ORPHAN_GRACE_SECONDS * 1000) / 2);
      executor.touch('polled');
      runtime.release();
    }
    await follow(polled.record);
    expect(polled.record.state).toBe(BatchState.BATCH_STATE_SUCCEEDED);
  });
});

describe('BatchExecutor idempotency and queueing', () => {
  it('runs a batch id once: a retry attaches while running and replays when finished', async () => {
    const { executor, runtime } = await setup(true);
    const first = await executor.submit(batch('b1'));
    const attached = await executor.submit(batch('b1'));
    expect(attached.attached).toBe(true);
    expect(attached.record).toBe(first.record);
    const a = follow(first.record);
    const b = follow(attached.record);
    await new Promise((r) => setTimeout(r, 10));
    for (let i = 0; i < 3; i++) {
      runtime.release();
      await new Promise((r) => setTimeout(r, 5));
    }
    const [ea, eb] = await Promise.all([a, b]);
    expect(eb).toEqual(ea);
    const replay = await executor.submit(batch('b1'));
    expect(await follow(replay.record)).toEqual(ea);
    expect(runtime.calls).toHaveLength(1);
    expect(await codeOf(executor.submit(batch('b1', 1)))).toBe(status.ALREADY_EXISTS);
  });

  it('serializes batches of one model in FIFO order and cancels a queued batch', async () => {
    const { executor, runtime } = await setup(true);
    const one = await executor.submit(batch('one', 1, 2));
    const two = await executor.submit(batch('two', 1, 2));
    const three = await executor.submit(batch('three', 1, 2));
    expect([
      one.record.queuePosition,
      two.record.queuePosition,
      three.record.queuePosition,
    ]).toEqual([0, 1, 2]);
    expect(executor.queueLength('m')).toBe(3);
    expect(executor.cancel('two')).toBe(BatchState.BATCH_STATE_CANCELLED);
    const results = (await follow(two.record)).filter((e) => e.event?.$case === 'result');
    expect(results.map((e) => e.event?.$case === 'result' && e.event.value.finishReason)).toEqual([
      FinishReason.FINISH_REASON_CANCELLED,
    ]);
    const done = Promise.all([follow(one.record), follow(three.record)]);
    for (let i = 0; i < 8; i++) {
      runtime.release();
      await new Promise((r) => setTimeout(r, 5));
    }
    await done;
    expect(runtime.calls.map((c) => c.length)).toEqual([1, 1]);
    expect(executor.queueLength()).toBe(0);
  });

  it('stops a running batch on cancel; unfinished requests finish CANCELLED', async () => {
    const { executor, runtime } = await setup(true);
    const { record } = await executor.submit(batch('c', 2, 10));
    const events = follow(record);
    await new Promise((r) => setTimeout(r, 5));
    runtime.release();
    await new Promise((r) => setTimeout(r, 5));
    executor.cancel('c');
    runtime.release();
    await events;
    expect(record.state).toBe(BatchState.BATCH_STATE_CANCELLED);
    expect(
      record.results.every((r) => r.finishReason === FinishReason.FINISH_REASON_CANCELLED),
    ).toBe(true);
    expect(record.results.every((r) => r.completionTokens < 10)).toBe(true);
  });

  it('stops a batch still running at its latest deadline: DEADLINE_EXCEEDED', async () => {
    const { executor, runtime } = await setup(true);
    const request = batch('late', 2, 10);
    const deadline = new Date(Date.now() + 100);
    const { record } = await executor.submit({
      ...request,
      requests: request.requests.map((r) => ({ ...r, deadline })),
    });
    const events = follow(record);
    await new Promise((r) => setTimeout(r, 5));
    runtime.release(); // one token, then the gate holds until after the deadline
    await new Promise((r) => setTimeout(r, 150));
    runtime.release();
    await events;
    expect(record.state).toBe(BatchState.BATCH_STATE_DEADLINE_EXCEEDED);
    expect(record.results.map((r) => [r.completionTokens, r.finishReason])).toEqual([
      [1, FinishReason.FINISH_REASON_DEADLINE_EXCEEDED],
      [1, FinishReason.FINISH_REASON_DEADLINE_EXCEEDED],
    ]);
  });

  it('keeps at most cacheSize finished batches', async () => {
    const { executor } = await setup(false, 2);
    for (const id of ['a', 'b', 'c']) await follow((await executor.submit(batch(id, 1, 1))).record);
    expect(executor.get('a')).toBeUndefined();
    expect(executor.get('b')?.state).toBe(BatchState.BATCH_STATE_SUCCEEDED);
    expect(executor.get('c')?.state).toBe(BatchState.BATCH_STATE_SUCCEEDED);
  });

  it('hands every batch the runtime ran to the observer; a failing observer fails nothing', async () => {
    const seen: [string, BatchObservation][] = [];
    const { executor } = await setup(false, 8, (model, observation) => {
      seen.push([model, observation]);
      throw new Error('observer broke');
    });
    const { record } = await executor.submit(batch('obs', 2, 2));
    await follow(record);
    expect(record.state).toBe(BatchState.BATCH_STATE_SUCCEEDED);
    expect(seen).toEqual([['m', { promptTokens: [3, 3], prefillSeconds: 0, decodeSteps: [] }]]);
    // A batch cancelled while queued never ran: nothing to observe.
    const { executor: gatedExecutor, runtime } = await setup(true, 8, (model, observation) => {
      seen.push([model, observation]);
    });
    const running = await gatedExecutor.submit(batch('run', 1, 1));
    const queued = await gatedExecutor.submit(batch('queued', 1, 1));
    gatedExecutor.cancel('queued');
    runtime.release();
    await follow(running.record);
    await follow(queued.record);
    expect(seen.map(([, o]) => o.promptTokens)).toEqual([[3, 3], [3]]);
  });
});
