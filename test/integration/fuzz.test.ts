// Fuzzed inputs to the real components, generated with fast-check: InferenceRequest specs to the
// real API server with the operator and a real agent running, and hostile HTTP bodies to the
// operator's OpenAI-compatible endpoint. A spec is rejected by the API server with a message that
// names the field, or runs to a terminal phase with a reason; never a crash, a stuck request or a
// failed neighbour. Every HTTP answer has a status from OpenAI's list and, when it is an error,
// OpenAI's error shape; the endpoint serves on. The counts go to stdout for the record.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { InferenceRequestSpec } from '../../src/gen/crds/inferencerequest.js';
import type { Manager } from '../../src/operator/manager.js';
import { serverMessage, statusCode } from '../harness/cluster.js';
import { finished, OperatorEnv, ready, unique } from '../support/operator-env.js';
import { waitFor } from '../support/wait.js';

let env: OperatorEnv;
let manager: Manager;
let model: string;
const tally = {
  specs: 0,
  rejected: 0,
  succeeded: 0,
  failedWithReason: {} as Record<string, number>,
  http: 0,
  httpErrors: {} as Record<number, number>,
};

beforeAll(async () => {
  env = await OperatorEnv.create('fuzz');
  model = unique('tiny');
  const agent = await env.startAgent(
    'fuzz',
    { [model]: env.tinyModelPath },
    { maxSequences: 8, contextTokens: 8 * 256 },
  );
  const node = unique('edge-fuzz');
  await env.createNode(node, env.nodeSpec(agent.address, model));
  manager = await env.startManager({
    leaseDurationSeconds: 15,
    // No rate limit: the fuzzer sends as fast as it can.
    openai: { listen: '127.0.0.1:0', advertise: '127.0.0.1:0', ratePerSecond: 0 },
  });
  await env.waitForNode(node, ready);
}, 180_000);

afterAll(async () => {
  process.stdout.write(`fuzz: ${JSON.stringify(tally)}\n`);
  await env.teardown();
});

const anyValue = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 2 }),
);
/** Mostly valid values, sometimes just outside the rules, sometimes anything at all. */
const field = <T>(valid: fc.Arbitrary<T>, outside?: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 16, arbitrary: valid },
    { weight: 1, arbitrary: outside ?? anyValue },
    { weight: 1, arbitrary: anyValue },
  );

describe('fuzzed InferenceRequest specs against the real API server and operator', () => {
  it('each is rejected naming a field, or ends with a phase and a reason; none is stuck', async () => {
    const created: string[] = [];
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            model: field(fc.constant(model), fc.string({ maxLength: 70 })),
            prompt: field(fc.string({ minLength: 1, maxLength: 200 }), fc.constant('')),
            promptFormat: field(fc.constantFrom('text', 'chat'), fc.constant('markdown')),
            maxTokens: field(fc.integer({ min: 1, max: 24 }), fc.integer({ min: -2, max: 9000 })),
            latencyBudget: field(
              fc.constantFrom('30s', '500ms', '1m30s', '45s', '1h'),
              fc.oneof(fc.constant('0s'), fc.string({ maxLength: 12 })),
            ),
            sampling: field(
              fc.record(
                {
                  temperature: fc.double({ min: 0, max: 2, noNaN: true }),
                  topK: fc.integer({ min: 1, max: 1000 }),
                  topP: fc.double({ min: 0.01, max: 1, noNaN: true }),
                },
                { requiredKeys: [] },
              ),
              fc.record({ temperature: fc.double({ min: -1, max: 3 }) }),
            ),
            accuracy: field(
              fc.record({ maxPerplexityIncrease: fc.double({ min: 0, max: 1e6, noNaN: true }) }),
              fc.record({ maxPerplexityIncrease: fc.double({ min: -1, max: 1e7 }) }),
            ),
            split: field(fc.constant('server-only'), fc.constantFrom('auto', 'half')),
            ttlSecondsAfterFinished: field(fc.integer({ min: 0, max: 10 }), fc.constant(-1)),
          },
          { requiredKeys: ['model', 'prompt', 'maxTokens', 'latencyBudget'] },
        ),
        async (spec) => {
          tally.specs++;
          const name = unique('fuzz');
          try {
            await env.createRequest(name, spec as unknown as InferenceRequestSpec);
            created.push(name);
          } catch (error) {
            // 422 Invalid (or 400 for a body the server cannot decode), naming the field.
            if (process.env['EDGELLM_FUZZ_DEBUG'])
              process.stdout.write(`${serverMessage(error)}\n`);
            expect([400, 422]).toContain(statusCode(error));
            expect(serverMessage(error)).toMatch(/spec(\.|\b)/);
            tally.rejected++;
          }
        },
      ),
      { numRuns: 120 },
    );
    // The accepted ones: a terminal phase with a reason, within their budget and a round.
    for (const name of created) {
      const r = await waitFor(
        `fuzzed request ${name}`,
        () => env.getRequest(name).catch(() => undefined),
        // A request with ttlSecondsAfterFinished 0 may be gone at once: deleted after it ended.
        (x) => x === undefined || finished(x),
        { timeoutMs: 120_000 },
      );
      if (r === undefined) continue;
      if (r.status?.phase === 'Succeeded') tally.succeeded++;
      else {
        expect(r.status?.reason?.length).toBeGreaterThan(0);
        expect(r.status?.message?.length).toBeGreaterThan(0);
        const reason = r.status?.reason ?? '';
        tally.failedWithReason[reason] = (tally.failedWithReason[reason] ?? 0) + 1;
      }
    }
    expect(tally.rejected).toBeGreaterThan(0);
    expect(created.length).toBeGreaterThan(0);
  }, 600_000);
});

describe('hostile HTTP bodies against the OpenAI-compatible endpoint', () => {
  const STATUSES = new Set([200, 400, 404, 405, 413, 415, 429, 503, 504]);
  /** Sampling and the rest, shared by both endpoints: mostly valid, sometimes not. */
  const params = {
    max_tokens: field(fc.integer({ min: 1, max: 12 }), fc.integer({ min: -1, max: 1e6 })),
    temperature: field(fc.double({ min: 0, max: 2, noNaN: true }), fc.double()),
    top_p: field(fc.double({ min: 0.01, max: 1, noNaN: true }), fc.double()),
    n: field(fc.constant(1), fc.integer({ min: 0, max: 3 })),
    stop: field(
      fc.array(fc.string({ minLength: 1, maxLength: 10 }), { maxLength: 4 }),
      fc.array(fc.string(), { minLength: 5, maxLength: 6 }),
    ),
    stream: field(fc.boolean()),
    seed: field(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer()),
    edgellm: field(
      fc.record({ latency_budget: fc.constantFrom('30s', '1m') }),
      fc.record({ latency_budget: fc.string({ maxLength: 10 }) }),
    ),
  };
  /** Anything, a string, bytes, or a request-shaped object with hostile fields. */
  const bodies = (servedModel: string, path: string): fc.Arbitrary<string> => {
    const shaped =
      path === 'chat/completions'
        ? fc.record(
            {
              model: field(fc.constant(servedModel), fc.string({ maxLength: 20 })),
              messages: field(
                fc.array(
                  fc.record({
                    role: field(
                      fc.constantFrom('system', 'user', 'assistant'),
                      fc.constant('tool'),
                    ),
                    content: field(fc.string({ minLength: 1, maxLength: 50 })),
                  }),
                  { minLength: 1, maxLength: 3 },
                ),
                fc.constant([]),
              ),
              ...params,
            },
            { requiredKeys: ['model', 'messages'] },
          )
        : fc.record(
            {
              model: field(fc.constant(servedModel), fc.string({ maxLength: 20 })),
              prompt: field(
                fc.string({ minLength: 1, maxLength: 50 }),
                fc.array(fc.string(), { maxLength: 3 }),
              ),
              ...params,
            },
            { requiredKeys: ['model', 'prompt'] },
          );
    return fc.oneof(
      { weight: 1, arbitrary: fc.json() },
      { weight: 1, arbitrary: fc.string({ maxLength: 100 }) },
      {
        weight: 1,
        arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')),
      },
      { weight: 5, arbitrary: shaped.map((r) => JSON.stringify(r)) },
    );
  };

  it('answers each with a status from OpenAI’s list, errors in OpenAI’s shape, and serves on', async () => {
    const base = `http://${manager.openaiAddress ?? ''}/v1`;
    await fc.assert(
      fc.asyncProperty(
        fc
          .constantFrom('chat/completions', 'completions')
          .chain((path) => fc.tuple(fc.constant(path), bodies(model, path))),
        fc.constantFrom('application/json', 'application/json', 'text/plain'),
        async ([path, text], contentType) => {
          tally.http++;
          const res = await fetch(`${base}/${path}`, {
            method: 'POST',
            headers: { 'content-type': contentType },
            body: text,
          });
          const answer = await res.text();
          expect([res.status, STATUSES.has(res.status)]).toEqual([res.status, true]);
          if (process.env['EDGELLM_FUZZ_DEBUG'])
            process.stdout.write(`${res.status} ${answer.slice(0, 150)}\n`);
          if (res.status !== 200) {
            tally.httpErrors[res.status] = (tally.httpErrors[res.status] ?? 0) + 1;
            const parsed = JSON.parse(answer) as {
              error?: { message?: unknown; type?: unknown };
            };
            expect(typeof parsed.error?.message).toBe('string');
            expect(typeof parsed.error?.type).toBe('string');
          }
        },
      ),
      { numRuns: 200 },
    );
    const models = await fetch(`${base}/models`);
    expect(models.status).toBe(200);
  }, 600_000);
});
