// The OpenAI-compatible endpoint with clients nobody here wrote: the official `openai` npm
// package and the official `openai` Python package (PyPI, in a virtual environment made once under
// .cache/python/), against the operator on the real control plane and real agent processes (the tiny
// random-weight llama for speed and control, the real SmolLM2-135M-Instruct for chat). The API
// keys live in a Secret the operator reads as the chart's RBAC allows.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import OpenAI from 'openai';
import type { Manager } from '../../src/operator/manager.js';
import { REGISTRY_MODEL, registryModelPath } from '../../src/runtime/models/catalog.js';
import { type AgentProcess } from '../support/agent-process.js';
import { localNodeSpec } from '../support/edge-node.js';
import { OperatorEnv, TINY, unique } from '../support/operator-env.js';
import { parsePrometheusText, sumOf } from '../support/prometheus.js';
import { pythonWith } from '../support/python-venv.js';
import { waitFor } from '../support/wait.js';

const run = promisify(execFile);
const KEY = 'sk-test-0123456789abcdef';
const SLOW_KEY = 'sk-slow-0123456789abcdef';

let env: OperatorEnv;
let manager: Manager;
let tinyAgent: AgentProcess;
let tiny: string;
let smol: string;
let client: OpenAI;

function sdk(apiKey: string, address = manager.openaiAddress ?? ''): OpenAI {
  return new OpenAI({ apiKey, baseURL: `http://${address}/v1`, maxRetries: 0, timeout: 120_000 });
}

async function metrics(): Promise<ReturnType<typeof parsePrometheusText>> {
  return parsePrometheusText(await (await fetch(`http://${manager.address ?? ''}/metrics`)).text());
}

beforeAll(async () => {
  env = await OperatorEnv.create('openai');
  tiny = unique('tiny');
  smol = unique('smol');
  tinyAgent = await env.startAgent('tiny', { [tiny]: env.tinyModelPath }, { maxSequences: 8 });
  const smolAgent = await env.startAgent(
    'smol',
    { [smol]: registryModelPath() },
    { maxSequences: 2 },
  );
  await env.createNode(unique('edge-tiny'), env.nodeSpec(tinyAgent.address, tiny));
  await env.createNode(
    unique('edge-smol'),
    localNodeSpec(smolAgent.address, [
      {
        name: smol,
        quantization: REGISTRY_MODEL.quantization,
        ...REGISTRY_MODEL.shape,
        perplexity: 20,
      },
    ]),
  );
  // A node too small for its model: requests for it can never run (InsufficientMemory, 503).
  const cramped = unique('cramped');
  await env.createNode(
    unique('edge-cramped'),
    localNodeSpec(tinyAgent.address, [{ name: cramped, ...TINY, agentModel: tiny }], {
      resources: { memoryBytes: 1024 * 1024 },
    }),
  );
  await env.cluster.api(k8s.CoreV1Api).createNamespacedSecret({
    namespace: env.ns,
    body: {
      metadata: {
        name: 'openai-keys',
        annotations: { 'edgellm.io/rate-limits': JSON.stringify({ slow: 1 }) },
      },
      stringData: { team: KEY, slow: SLOW_KEY },
    },
  });
  // A long lease: a shared machine under load must not make the leader lose it mid-test.
  manager = await env.startManager({
    leaseDurationSeconds: 15,
    openai: {
      listen: '127.0.0.1:0',
      advertise: '127.0.0.1:0',
      apiKeysSecret: { namespace: env.ns, name: 'openai-keys' },
      burst: 1,
    },
  });
  client = sdk(KEY);
  await waitFor(
    'models served',
    async () => (await client.models.list()).data.map((m) => m.id),
    (ids) => [tiny, smol].every((m) => ids.includes(m)),
    { timeoutMs: 120_000 },
  );
}, 240_000);

afterAll(async () => {
  await env.teardown();
});

describe('OpenAI-compatible endpoint (official npm SDK)', () => {
  it('lists the models EdgeNodes serve', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(expect.arrayContaining([tiny, smol]));
    expect(models.data[0]).toMatchObject({ object: 'model', owned_by: 'edgellm' });
  });

  it('answers a chat completion, the conversation rendered with the model’s chat template', async () => {
    const question = { role: 'user', content: 'What is the capital of France?' } as const;
    const alone = await client.chat.completions.create({
      model: smol,
      messages: [question],
      max_completion_tokens: 24,
      temperature: 0,
    });
    const r = await client.chat.completions.create({
      model: smol,
      messages: [
        { role: 'system', content: 'You are a concise assistant.' },
        { role: 'user', content: 'Hello' },
        { role: 'assistant', content: 'Hello! How can I help?' },
        question,
      ],
      max_completion_tokens: 24,
      temperature: 0,
    });
    expect(r.object).toBe('chat.completion');
    expect(r.choices[0]?.message.role).toBe('assistant');
    // An instruct model answers in its template (a plain prompt often ends it at once).
    expect(r.choices[0]?.message.content?.trim().length).toBeGreaterThan(0);
    expect(['stop', 'length']).toContain(r.choices[0]?.finish_reason);
    // Every turn reached the model: the history costs more prompt tokens than the question alone.
    expect(r.usage?.prompt_tokens).toBeGreaterThan((alone.usage?.prompt_tokens ?? Infinity) + 12);
    expect(r.usage?.completion_tokens).toBeGreaterThan(0);
  });

  it('streams a chat completion as server-sent events, ending with a usage chunk', async () => {
    const stream = await client.chat.completions.create({
      model: tiny,
      messages: [{ role: 'user', content: 'Tell me everything' }],
      max_completion_tokens: 32,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let chunks = 0;
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const c of stream) {
      chunks++;
      text += c.choices[0]?.delta.content ?? '';
      finish ??= c.choices[0]?.finish_reason;
      if (c.usage) usage = c.usage;
    }
    expect(chunks).toBeGreaterThan(3);
    expect(finish).toBe('length');
    expect(usage?.completion_tokens).toBe(32);
    // The same request, not streamed, gives the same text (greedy decoding).
    const whole = await client.chat.completions.create({
      model: tiny,
      messages: [{ role: 'user', content: 'Tell me everything' }],
      max_completion_tokens: 32,
      temperature: 0,
    });
    expect(text).toBe(whole.choices[0]?.message.content);
  });

  it('serves /v1/completions, and stops before a stop string', async () => {
    const full = await client.completions.create({
      model: tiny,
      prompt: 'Please continue',
      max_tokens: 40,
      temperature: 0,
    });
    const text = full.choices[0]?.text ?? '';
    expect(full.object).toBe('text_completion');
    expect(full.usage?.completion_tokens).toBe(40);
    // A stop string from the middle of that text: the answer ends right before it.
    const stop = text.slice(20, 23);
    const cut = await client.completions.create({
      model: tiny,
      prompt: 'Please continue',
      max_tokens: 40,
      temperature: 0,
      stop: [stop],
    });
    expect(cut.choices[0]?.finish_reason).toBe('stop');
    expect(cut.choices[0]?.text).toBe(text.slice(0, text.indexOf(stop)));
  });

  it('answers errors in OpenAI’s shape with the right status', async () => {
    await expect(sdk('sk-wrong').models.list()).rejects.toMatchObject({
      status: 401,
      code: 'invalid_api_key',
    });
    await expect(
      client.chat.completions.create({
        model: 'no-such-model',
        messages: [{ role: 'user', content: 'x' }],
      }),
    ).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
    await expect(
      client.chat.completions.create({
        model: tiny,
        messages: [{ role: 'user', content: 'x' }],
        n: 2,
      }),
    ).rejects.toMatchObject({ status: 400, param: 'n' });
    await expect(
      client.chat.completions.create({ model: tiny, messages: [] }),
    ).rejects.toMatchObject({ status: 400, param: 'messages' });
    // Nothing to generate from (the agent would refuse it): 400, not the agent's error.
    await expect(
      client.chat.completions.create({
        model: tiny,
        messages: [{ role: 'system', content: [] as unknown as string }],
      }),
    ).rejects.toMatchObject({ status: 400, param: 'messages.0.content' });
    await expect(
      client.chat.completions.create({ model: tiny, messages: [{ role: 'user', content: '' }] }),
    ).rejects.toMatchObject({ status: 400, param: 'messages' });
    await expect(client.completions.create({ model: tiny, prompt: '' })).rejects.toMatchObject({
      status: 400,
      param: 'prompt',
    });
    // A budget no node can meet (the header extension): 504.
    await expect(
      client.chat.completions.create(
        { model: tiny, messages: [{ role: 'user', content: 'x' }], max_completion_tokens: 400 },
        { headers: { 'X-Edgellm-Latency-Budget': '1ms' } },
      ),
    ).rejects.toMatchObject({ status: 504, code: 'deadline_infeasible' });
    // More than one sequence of context (the body extension names the bound too): 400.
    await expect(
      client.chat.completions.create({
        model: tiny,
        messages: [{ role: 'user', content: 'x' }],
        max_completion_tokens: 8000,
      }),
    ).rejects.toMatchObject({ status: 400, code: 'context_length_exceeded' });
    // Its only node lacks the memory for it: 503.
    const cramped = (await client.models.list()).data
      .map((m) => m.id)
      .find((m) => m.startsWith('cramped'));
    await expect(
      client.chat.completions.create({
        model: cramped ?? '',
        messages: [{ role: 'user', content: 'x' }],
      }),
    ).rejects.toMatchObject({ status: 503, code: 'insufficient_memory' });
    // A key over its rate limit (1 per second, burst 1): 429.
    const slow = sdk(SLOW_KEY);
    const results = await Promise.allSettled([slow.models.list(), slow.models.list()]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const rejected = results.find((r) => r.status === 'rejected');
    expect((rejected as PromiseRejectedResult).reason).toMatchObject({ status: 429 });
  });

  it('a client that disconnects mid-stream cancels its generation; its neighbours finish', async () => {
    const abort = new AbortController();
    const neighbour = client.chat.completions.create({
      model: tiny,
      messages: [{ role: 'user', content: 'Keep going for a while' }],
      max_completion_tokens: 300,
      temperature: 0,
    });
    const stream = await client.chat.completions.create(
      {
        model: tiny,
        messages: [{ role: 'user', content: 'Tell me everything' }],
        max_completion_tokens: 450,
        temperature: 0,
        stream: true,
      },
      { signal: abort.signal },
    );
    let received = 0;
    // The SDK ends the iteration quietly once its request is aborted.
    for await (const c of stream) {
      if ((c.choices[0]?.delta.content ?? '') !== '') received++;
      if (received === 5) abort.abort();
    }
    expect(received).toBeGreaterThanOrEqual(5);
    const n = await neighbour;
    expect(n.usage?.completion_tokens).toBe(300);
    // The agent stopped the aborted one's sequence early: cancelled, not run to 450 tokens.
    await waitFor(
      'the cancelled sequence',
      () =>
        tinyAgent.lines.find(
          (l) =>
            l.msg === 'request finished' &&
            l.finishReason === 'cancelled' &&
            (l.requestId ?? '').startsWith('@openai/'),
        ),
      (l) => l !== undefined,
      { timeoutMs: 30_000 },
    );
    expect(
      sumOf(await metrics(), 'edgellm_openai_requests_in_flight', { endpoint: 'chat_completions' }),
    ).toBe(0);
  });

  it('records time to first token, time per output token and requests by status', async () => {
    const m = await metrics();
    expect(
      sumOf(m, 'edgellm_openai_time_to_first_token_seconds_count', { model: tiny }),
    ).toBeGreaterThan(0);
    expect(
      sumOf(m, 'edgellm_openai_time_per_output_token_seconds_count', { model: tiny }),
    ).toBeGreaterThan(0);
    expect(
      sumOf(m, 'edgellm_openai_requests_total', { endpoint: 'chat_completions', code: '200' }),
    ).toBeGreaterThan(0);
    expect(sumOf(m, 'edgellm_openai_rejected_total', { reason: 'unauthorized' })).toBeGreaterThan(
      0,
    );
  });

  it('a follower forwards to the leader', async () => {
    const standby = await env.startManager({
      leaseDurationSeconds: 15,
      openai: {
        listen: '127.0.0.1:0',
        advertise: '127.0.0.1:0',
        apiKeysSecret: { namespace: env.ns, name: 'openai-keys' },
      },
    });
    try {
      expect(standby.isLeader).toBe(false);
      const viaStandby = sdk(KEY, standby.openaiAddress ?? '');
      const r = await viaStandby.chat.completions.create({
        model: tiny,
        messages: [{ role: 'user', content: 'Hello' }],
        max_completion_tokens: 4,
      });
      expect(r.usage?.completion_tokens).toBeGreaterThan(0);
    } finally {
      await env.stopManager(standby);
    }
  });
});

describe('OpenAI-compatible endpoint (official Python SDK, from PyPI in a virtual environment)', () => {
  let python: string;
  const py = async (model: string, scenario: string): Promise<Record<string, unknown>> => {
    const { stdout } = await run(
      python,
      [
        'test/support/python/openai_sdk.py',
        `http://${manager.openaiAddress ?? ''}/v1`,
        KEY,
        model,
        scenario,
      ],
      { timeout: 180_000 },
    );
    return JSON.parse(stdout) as Record<string, unknown>;
  };
  const cancelled = (): number =>
    tinyAgent.lines.filter(
      (l) =>
        l.msg === 'request finished' &&
        l.finishReason === 'cancelled' &&
        (l.requestId ?? '').startsWith('@openai/'),
    ).length;

  beforeAll(async () => {
    python = await pythonWith('test/support/python/requirements.txt');
  }, 600_000);

  it('answers a chat completion through the chat template', async () => {
    const r = await py(smol, 'chat');
    expect(String(r['content']).trim().length).toBeGreaterThan(0);
    expect(r['completion_tokens']).toBeGreaterThan(0);
    expect(r['prompt_tokens']).toBeGreaterThan(5);
  });

  it('streams a chat completion and ends with the usage', async () => {
    const r = await py(tiny, 'stream');
    expect(r['chunks']).toBeGreaterThan(2);
    expect(String(r['text']).length).toBeGreaterThan(0);
    expect(r['completion_tokens']).toBe(16);
  });

  it('serves /v1/completions', async () => {
    const r = await py(tiny, 'completion');
    expect(r['completion_tokens']).toBe(10);
    expect(r['finish_reason']).toBe('length');
  });

  it('raises the SDK’s own exceptions for 404, 401 and 400', async () => {
    const r = await py(tiny, 'errors');
    expect(r['unknown_model']).toEqual(
      expect.objectContaining({ status: 404, code: 'model_not_found' }),
    );
    expect(r['wrong_key']).toEqual(expect.objectContaining({ status: 401 }));
    expect(r['no_messages']).toEqual(expect.objectContaining({ status: 400, param: 'messages' }));
  });

  it('a client that closes its stream cancels its sequence', async () => {
    const before = cancelled();
    const r = await py(tiny, 'disconnect');
    expect(r['received']).toBe(5);
    await waitFor('the cancelled sequence', cancelled, (n) => n === before + 1, {
      timeoutMs: 30_000,
    });
    await waitFor(
      'no request in flight',
      async () =>
        sumOf(await metrics(), 'edgellm_openai_requests_in_flight', {
          endpoint: 'chat_completions',
        }),
      (n) => n === 0,
      { timeoutMs: 30_000 },
    );
  });
});
