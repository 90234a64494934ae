// The agent over a real gRPC (mTLS) connection, running a generated tiny llama model through
// the real node-llama-cpp runtime: streaming batches, idempotent retries, cancellation, the
// precise status of each bad input, mTLS refusal, health, /metrics and graceful drain.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  credentials,
  makeClientConstructor,
  Metadata,
  status,
  type ServiceError,
} from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { Agent, AGENT_SERVICE_NAME } from '../../../src/agent/agent.js';
import { AgentClient, collectBatch } from '../../../src/agent-client/client.js';
import { agentConfigSchema, type AgentConfig } from '../../../src/agent/config.js';
import {
  BatchState,
  FinishReason,
  type ExecuteBatchRequest,
  type ExecuteBatchResponse,
  ProfilePhase,
  type PromptFormat,
  type RequestResult,
} from '../../../src/gen/edgellm/agent/v1/agent.js';
import { buildTinyModel } from '../../../src/runtime/gguf/tiny-model.js';
import { createLlamaRuntime } from '../../../src/runtime/llama.js';
import type { InferenceRuntime } from '../../../src/runtime/types.js';
import { createTestPki, type TestPki } from '../../support/certs.js';
import { parsePrometheusText, sumOf } from '../../support/prometheus.js';

const MAX_SEQUENCES = 8;
const SEQUENCE_TOKENS = 128;

/** The real runtime, counting generateBatch calls (to prove a batch id never runs twice). */
function counting(runtime: InferenceRuntime): InferenceRuntime & { readonly batches: string[][] } {
  const batches: string[][] = [];
  return Object.assign(Object.create(runtime) as InferenceRuntime, {
    batches,
    generateBatch: (...args: Parameters<InferenceRuntime['generateBatch']>) => {
      batches.push(args[1].map((r) => r.id));
      return runtime.generateBatch(...args);
    },
  });
}

let dir: string;
let pki: TestPki;
let otherPki: TestPki;
let agent: Agent;
let runtime: ReturnType<typeof counting>;
let client: AgentClient;

function batch(batchId: string, prompts: readonly string[], maxTokens = 8): ExecuteBatchRequest {
  return {
    batchId,
    model: 'tiny',
    requests: prompts.map((prompt, i) => ({
      id: `req-${i}`,
      prompt,
      maxTokens,
      sampling: { temperature: 0 },
      deadline: undefined,
      messages: [],
      stop: [],
    })),
  };
}

function results(events: readonly ExecuteBatchResponse[]): RequestResult[] {
  return events.flatMap((e) => (e.event?.$case === 'result' ? [e.event.value] : []));
}

async function statusOf(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('expected the call to fail');
}

async function scrape(): Promise<ReturnType<typeof parsePrometheusText>> {
  const res = await fetch(`http://${agent.metricsAddress ?? ''}/metrics`);
  expect(res.status).toBe(200);
  return parsePrometheusText(await res.text());
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgellm-agent-'));
  pki = createTestPki();
  otherPki = createTestPki('another CA');
  const files: Record<string, Buffer | Uint8Array> = {
    'ca.pem': pki.ca.cert,
    'server.pem': pki.server.cert,
    'server.key': pki.server.key,
    'tiny.gguf': buildTinyModel({ type: 'F32' }),
  };
  for (const [name, data] of Object.entries(files)) await writeFile(join(dir, name), data);
  const model = {
    quantization: 'F32',
    path: join(dir, 'tiny.gguf'),
    contextTokens: MAX_SEQUENCES * SEQUENCE_TOKENS,
    maxSequences: MAX_SEQUENCES,
  };
  const config: AgentConfig = agentConfigSchema.parse({
    listen: '127.0.0.1:0',
    metricsListen: '127.0.0.1:0',
    tls: {
      caFile: join(dir, 'ca.pem'),
      certFile: join(dir, 'server.pem'),
      keyFile: join(dir, 'server.key'),
      allowedClients: ['edgellm-operator'],
    },
    models: [
      { name: 'tiny', ...model },
      { name: 'cold', ...model, preload: false },
    ],
    shutdownGraceSeconds: 30,
  });
  runtime = counting(await createLlamaRuntime({ threads: 2 }));
  agent = await Agent.start({
    config,
    runtime,
    logger: pino({ level: 'silent' }),
    registry: new Registry(),
    version: 'test',
  });
  client = new AgentClient({
    address: agent.address,
    tls: { ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key },
  });
}, 120_000);

afterAll(async () => {
  client.close();
  await agent.shutdown();
  await rm(dir, { recursive: true, force: true });
});

describe('agent over gRPC with mTLS', () => {
  it('reports SERVING on the standard health service', async () => {
    const Health = makeClientConstructor(healthService, 'grpc.health.v1.Health');
    const health = new Health(
      agent.address,
      credentials.createSsl(pki.ca.cert, pki.client.key, pki.client.cert),
    );
    const method = healthService.Check;
    if (!method) throw new Error('grpc-health-check has no Check method');
    const check = (service: string) =>
      new Promise<{ status: string }>((resolve, reject) => {
        health.makeUnaryRequest(
          '/grpc.health.v1.Health/Check',
          (x: { service: string }) => method.requestSerialize(x),
          (b: Buffer) => method.responseDeserialize(b) as { status: string },
          { service },
          new Metadata(),
          {},
          (err, res) => {
            if (err || !res) reject(err ?? new Error('no response'));
            else resolve(res);
          },
        );
      });
    expect((await check('')).status).toBe('SERVING');
    expect((await check(AGENT_SERVICE_NAME)).status).toBe('SERVING');
    health.close();
  });

  it('describes its models and runtime in GetInfo', async () => {
    const info = await client.getInfo();
    expect(info.agentVersion).toBe('test');
    expect(info.capabilities?.threads).toBe(2);
    expect(info.memoryTotalBytes).toBeGreaterThan(0);
    const tiny = info.models.find((m) => m.name === 'tiny');
    expect(tiny).toMatchObject({ loaded: true, maxSequences: MAX_SEQUENCES, quantization: 'F32' });
    expect(tiny?.layers).toBeGreaterThan(0);
    expect(info.models.find((m) => m.name === 'cold')?.loaded).toBe(false);
  });

  it('streams tokens for every request of a batch, then results and a summary', async () => {
    const prompts = ['The cat sat on', 'Once upon a time', 'In the beginning', 'An apple a day'];
    const events = await collectBatch(client.executeBatch(batch('stream-1', prompts, 6)));
    expect(events[0]?.event).toEqual({
      $case: 'accepted',
      value: { batchId: 'stream-1', attached: false, queuePosition: 0 },
    });
    const last = events.at(-1)?.event;
    expect(last?.$case).toBe('summary');
    if (last?.$case !== 'summary') return;
    expect(last.value.state).toBe(BatchState.BATCH_STATE_SUCCEEDED);
    const res = results(events);
    expect(res.map((r) => r.requestId).sort()).toEqual(['req-0', 'req-1', 'req-2', 'req-3']);
    for (const r of res) {
      const chunks = events.flatMap((e) =>
        e.event?.$case === 'token' && e.event.value.requestId === r.requestId
          ? [e.event.value]
          : [],
      );
      expect(chunks.length).toBeGreaterThan(0);
      expect(chunks.at(-1)?.completionTokens).toBe(r.completionTokens);
      expect(chunks.map((c) => c.text).join('')).toBe(r.text);
      expect(r.promptTokens).toBeGreaterThan(0);
      expect([FinishReason.FINISH_REASON_LENGTH, FinishReason.FINISH_REASON_STOP]).toContain(
        r.finishReason,
      );
    }
    expect(last.value.completionTokens).toBe(res.reduce((a, r) => a + r.completionTokens, 0));
    expect(runtime.batches.filter((b) => b.length === 4)).toHaveLength(1);
  });

  it('never runs a batch id twice: a concurrent retry attaches, a later one replays', async () => {
    const before = runtime.batches.length;
    const request = batch('retry-1', ['Twice is once', 'Say it again'], 8);
    const [first, second] = await Promise.all([
      collectBatch(client.executeBatch(request)),
      collectBatch(client.executeBatch(request)),
    ]);
    const third = await collectBatch(client.executeBatch(request));
    expect(runtime.batches.length - before).toBe(1);
    const attachedFlags = [first, second, third].map(
      (e) => e[0]?.event?.$case === 'accepted' && e[0].event.value.attached,
    );
    expect(attachedFlags.filter(Boolean)).toHaveLength(2);
    expect(second.slice(1)).toEqual(first.slice(1));
    expect(third.slice(1)).toEqual(first.slice(1));
    const got = await client.getBatch({ batchId: 'retry-1' });
    expect(got.state).toBe(BatchState.BATCH_STATE_SUCCEEDED);
    expect(got.results).toEqual(results(first));
    const changed = await statusOf(collectBatch(client.executeBatch(batch('retry-1', ['other']))));
    expect(changed.code).toBe(status.ALREADY_EXISTS);
  });

  it('stops generation on CancelBatch', async () => {
    const maxTokens = 100;
    const stream = client.executeBatch(
      batch('cancel-1', ['Keep talking', 'Never stop'], maxTokens),
    );
    const events: ExecuteBatchResponse[] = [];
    let cancelled = false;
    for await (const event of stream) {
      events.push(event);
      if (!cancelled && event.event?.$case === 'token') {
        cancelled = true;
        const { state } = await client.cancelBatch({ batchId: 'cancel-1' });
        expect(state).toBe(BatchState.BATCH_STATE_RUNNING);
      }
    }
    const summary = events.at(-1)?.event;
    expect(summary?.$case === 'summary' && summary.value.state).toBe(
      BatchState.BATCH_STATE_CANCELLED,
    );
    const res = results(events);
    expect(res).toHaveLength(2);
    for (const r of res) expect(r.completionTokens).toBeLessThan(maxTokens);
    expect(res.some((r) => r.finishReason === FinishReason.FINISH_REASON_CANCELLED)).toBe(true);
    expect((await client.getBatch({ batchId: 'cancel-1' })).state).toBe(
      BatchState.BATCH_STATE_CANCELLED,
    );
  });

  it('answers each bad input with its precise status and keeps serving', async () => {
    const good = batch('bad-x', ['Hello there']);
    const r0 = good.requests[0];
    if (!r0) throw new Error('no request');
    const cases: [string, ExecuteBatchRequest, number, RegExp][] = [
      ['no batch id', { ...good, batchId: '' }, status.INVALID_ARGUMENT, /batch_id is required/],
      ['empty batch', { ...good, requests: [] }, status.INVALID_ARGUMENT, /no requests/],
      [
        'empty prompt',
        { ...good, requests: [{ ...r0, prompt: '' }] },
        status.INVALID_ARGUMENT,
        /prompt is empty/,
      ],
      [
        'zero max tokens',
        { ...good, requests: [{ ...r0, maxTokens: 0 }] },
        status.INVALID_ARGUMENT,
        /max_tokens must be at least 1/,
      ],
      ['duplicate ids', { ...good, requests: [r0, r0] }, status.INVALID_ARGUMENT, /duplicate/],
      [
        'unknown prompt format',
        // A value this proto does not define, as a client built from a newer proto could send.
        // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment
        { ...good, requests: [{ ...r0, promptFormat: 7 as PromptFormat }] },
        status.INVALID_ARGUMENT,
        /prompt_format 7 is unknown/,
      ],
      ['unknown model', { ...good, model: 'nope' }, status.NOT_FOUND, /not configured/],
      ['model not loaded', { ...good, model: 'cold' }, status.FAILED_PRECONDITION, /LoadModel/],
      [
        'too many sequences',
        batch(
          'bad-x',
          Array.from({ length: MAX_SEQUENCES + 1 }, (_, i) => `p${i}`),
        ),
        status.RESOURCE_EXHAUSTED,
        /at most 8 sequences/,
      ],
      [
        'deadline passed',
        { ...good, requests: [{ ...r0, deadline: new Date(Date.now() - 1000) }] },
        status.DEADLINE_EXCEEDED,
        /already passed/,
      ],
    ];
    for (const [what, request, code, message] of cases) {
      const err = await statusOf(collectBatch(client.executeBatch(request)));
      expect([what, err.code]).toEqual([what, code]);
      expect(err.details).toMatch(message);
    }
    expect((await statusOf(client.getBatch({ batchId: 'never' }))).code).toBe(status.NOT_FOUND);
    expect((await statusOf(client.cancelBatch({ batchId: 'never' }))).code).toBe(status.NOT_FOUND);
    const events = await collectBatch(client.executeBatch(batch('after-bad', ['Still here'], 4)));
    const last = events.at(-1)?.event;
    expect(last?.$case === 'summary' && last.value.state).toBe(BatchState.BATCH_STATE_SUCCEEDED);
  });

  it('rejects alone a request over one sequence’s context; its batch-mates run', async () => {
    const long = 'word '.repeat(SEQUENCE_TOKENS * 2);
    const request = batch('one-bad', ['Hello there', long, 'And you'], 6);
    const events = await collectBatch(client.executeBatch(request));
    const last = events.at(-1)?.event;
    expect(last?.$case === 'summary' && last.value.state).toBe(BatchState.BATCH_STATE_SUCCEEDED);
    const byId = new Map(results(events).map((r) => [r.requestId, r]));
    expect(byId.get('req-1')).toMatchObject({
      finishReason: FinishReason.FINISH_REASON_REJECTED,
      completionTokens: 0,
    });
    expect(byId.get('req-1')?.error).toMatch(
      /prompt is \d+ tokens, over the \d+-token context of one sequence/,
    );
    for (const id of ['req-0', 'req-2']) expect(byId.get(id)?.completionTokens).toBeGreaterThan(0);
    // Only the two that fit reached the runtime.
    expect(runtime.batches.at(-1)).toEqual(['req-0', 'req-2']);
    expect(sumOf(await scrape(), 'edgellm_agent_rejected_requests_total', { model: 'tiny' })).toBe(
      1,
    );
  });

  it('cancels one request with CancelGeneration; the rest of the batch runs on', async () => {
    const maxTokens = 60;
    const stream = client.executeBatch(
      batch('one-off', ['Keep going', 'Stop me', 'Me too'], maxTokens),
    );
    const events: ExecuteBatchResponse[] = [];
    let cancelled: boolean | undefined;
    for await (const event of stream) {
      events.push(event);
      if (cancelled === undefined && event.event?.$case === 'token')
        ({ cancelled } = await client.cancelGeneration({ batchId: 'one-off', requestId: 'req-1' }));
    }
    expect(cancelled).toBe(true);
    const byId = new Map(results(events).map((r) => [r.requestId, r]));
    expect(byId.get('req-1')?.finishReason).toBe(FinishReason.FINISH_REASON_CANCELLED);
    expect(byId.get('req-1')?.completionTokens).toBeLessThan(maxTokens);
    for (const id of ['req-0', 'req-2'])
      expect([id, byId.get(id)?.finishReason]).not.toEqual([
        id,
        FinishReason.FINISH_REASON_CANCELLED,
      ]);
    expect(
      (await client.cancelGeneration({ batchId: 'one-off', requestId: 'req-0' })).cancelled,
    ).toBe(false);
    expect(
      (await statusOf(client.cancelGeneration({ batchId: 'one-off', requestId: 'x' }))).code,
    ).toBe(status.NOT_FOUND);
  });

  it('loads and unloads a configured model', async () => {
    const loaded = await client.loadModel({ name: 'cold' });
    expect(loaded.model).toMatchObject({ name: 'cold', loaded: true });
    const events = await collectBatch(
      client.executeBatch({ ...batch('cold-1', ['Warm up'], 3), model: 'cold' }),
    );
    expect(results(events)).toHaveLength(1);
    await client.unloadModel({ name: 'cold' });
    expect((await client.getInfo()).models.find((m) => m.name === 'cold')?.loaded).toBe(false);
    expect((await statusOf(client.loadModel({ name: 'nope' }))).code).toBe(status.NOT_FOUND);
  });

  it('exposes Prometheus metrics over HTTP that move with the work done', async () => {
    const before = await scrape();
    await collectBatch(client.executeBatch(batch('metrics-1', ['Count me', 'And me'], 5)));
    await statusOf(
      collectBatch(client.executeBatch({ ...batch('metrics-2', ['x']), model: 'nope' })),
    );
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}): number =>
      sumOf(after, name, labels) - sumOf(before, name, labels);
    expect(delta('edgellm_agent_tokens_generated_total', { model: 'tiny' })).toBeGreaterThan(0);
    expect(delta('edgellm_agent_prompt_tokens_total', { model: 'tiny' })).toBeGreaterThan(0);
    expect(delta('edgellm_agent_batch_size_count', { model: 'tiny' })).toBe(1);
    expect(delta('edgellm_agent_batch_size_sum', { model: 'tiny' })).toBe(2);
    expect(delta('edgellm_agent_prefill_duration_seconds_count', { model: 'tiny' })).toBe(1);
    expect(delta('edgellm_agent_decode_duration_seconds_count', { model: 'tiny' })).toBe(1);
    expect(delta('edgellm_agent_errors_total', { method: 'ExecuteBatch', code: 'NOT_FOUND' })).toBe(
      1,
    );
    expect(sumOf(after, 'edgellm_agent_model_load_seconds', { model: 'tiny' })).toBeGreaterThan(0);
    expect(sumOf(after, 'edgellm_agent_queue_length', { model: 'tiny' })).toBe(0);
  });

  it('serves the batches it ran as its latency profile (this agent skipped start-up calibration)', async () => {
    // Greedy decoding repeats a batch exactly, so three runs fill each of its buckets.
    const prompts = Array.from({ length: 5 }, () => 'the river runs past the mill');
    let promptTokens = 0;
    for (let i = 0; i < 3; i++) {
      const events = await collectBatch(client.executeBatch(batch(`profile-${i}`, prompts, 6)));
      promptTokens = results(events)[0]?.promptTokens ?? 0;
    }
    const { profiles } = await client.getProfile({ model: 'tiny' });
    expect(profiles).toHaveLength(1);
    const profile = profiles[0];
    expect(profile).toMatchObject({ model: 'tiny', quantization: 'F32', threads: 2 });
    expect(profile?.perplexity).toBeUndefined();
    const ofFive = (phase: ProfilePhase) =>
      (profile?.samples ?? []).filter((s) => s.phase === phase && s.batchSize === 5);
    // The prompts of a batch of 5, evaluated together; then its decode steps.
    expect(ofFive(ProfilePhase.PROFILE_PHASE_PREFILL)).toEqual([
      expect.objectContaining({ contextTokens: promptTokens, seconds: expect.any(Number) }),
    ]);
    const decode = ofFive(ProfilePhase.PROFILE_PHASE_DECODE);
    expect(decode.length).toBeGreaterThan(0);
    for (const s of decode) {
      expect(s.contextTokens).toBeGreaterThan(promptTokens);
      expect(s.contextTokens).toBeLessThanOrEqual(promptTokens + 6);
    }
    expect(profile?.samples.every((s) => s.seconds > 0)).toBe(true);
  });

  it('refuses clients without a certificate signed by its CA', async () => {
    const refused = async (tls: ConstructorParameters<typeof AgentClient>[0]['tls']) => {
      const c = new AgentClient({ address: agent.address, tls, unarySeconds: 5 });
      try {
        return (await statusOf(c.getInfo())).code;
      } finally {
        c.close();
      }
    };
    expect(await refused({ ca: pki.ca.cert })).toBe(status.UNAVAILABLE);
    expect(
      await refused({ ca: pki.ca.cert, cert: otherPki.client.cert, key: otherPki.client.key }),
    ).toBe(status.UNAVAILABLE);
    expect(await refused({ insecure: true })).toBe(status.UNAVAILABLE);
  });

  it('serves only the allowed client identity: another certificate of the same CA is denied', async () => {
    const other = new AgentClient({
      address: agent.address,
      tls: { ca: pki.ca.cert, cert: pki.otherClient.cert, key: pki.otherClient.key },
      unarySeconds: 5,
    });
    try {
      const err = await statusOf(other.getInfo());
      expect(err.code).toBe(status.PERMISSION_DENIED);
      expect(err.details).toMatch(/someone-else is not allowed to call this agent/);
      const stream = await statusOf(collectBatch(other.executeBatch(batch('intruder', ['x']))));
      expect(stream.code).toBe(status.PERMISSION_DENIED);
    } finally {
      other.close();
    }
    // The operator's identity still works.
    expect((await client.getInfo()).agentVersion).toBe('test');
  });

  it('drains the running batch on shutdown, then refuses new work', async () => {
    let started = (): void => undefined;
    const running = new Promise<void>((resolve) => (started = resolve));
    const stream = (async () => {
      const events: ExecuteBatchResponse[] = [];
      // 96 tokens: still running when drain-2 is queued and the shutdown starts, also under load
      // (with 24, the tiny model sometimes finished first and drain-2 ran instead of queueing).
      for await (const event of client.executeBatch(batch('drain-1', ['Finish me please'], 96))) {
        events.push(event);
        if (event.event?.$case === 'token') started();
      }
      return events;
    })();
    // Shut down only once drain-1 runs: under load the call took longer than a fixed 50 ms to
    // reach the agent, which then refused it as shutting down (UNAVAILABLE: Connection dropped).
    await Promise.race([running, stream]);
    const queued = collectBatch(client.executeBatch(batch('drain-2', ['late'], 4))).catch(
      (err: unknown) => err as ServiceError,
    );
    await new Promise((r) => setTimeout(r, 20));
    await agent.shutdown();
    const events = await stream;
    const last = events.at(-1)?.event;
    expect(last?.$case === 'summary' && last.value.state).toBe(BatchState.BATCH_STATE_SUCCEEDED);
    expect(results(events)[0]?.completionTokens).toBeGreaterThan(0);
    // drain-2 was queued behind drain-1 and cancelled at shutdown (or refused if it came late).
    const late = await queued;
    if (Array.isArray(late)) {
      const end = late.at(-1)?.event;
      expect(end?.$case === 'summary' && end.value.state).toBe(BatchState.BATCH_STATE_CANCELLED);
    } else expect(late.code).toBe(status.UNAVAILABLE);
    expect((await statusOf(client.getInfo(5))).code).toBe(status.UNAVAILABLE);
  });
});
