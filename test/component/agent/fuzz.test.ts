// Fuzzed calls to the real agent (a generated tiny llama through the real node-llama-cpp runtime),
// generated with fast-check: hostile but well-typed ExecuteBatch requests, and raw bytes that are
// not the message a method expects. Every call must end with a status a client can act on (never
// UNKNOWN; INTERNAL only for bytes that do not decode, as gRPC does), and the agent must go on
// serving. The counts go to stdout for the record.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, credentials, status, type ServiceError } from '@grpc/grpc-js';
import fc from 'fast-check';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { Agent, AGENT_SERVICE_NAME } from '../../../src/agent/agent.js';
import { agentConfigSchema } from '../../../src/agent/config.js';
import { AgentClient, collectBatch } from '../../../src/agent-client/client.js';
import {
  BatchState,
  type ExecuteBatchRequest,
  type GenerationRequest,
} from '../../../src/gen/edgellm/agent/v1/agent.js';
import { buildTinyModel } from '../../../src/runtime/gguf/tiny-model.js';
import { createLlamaRuntime } from '../../../src/runtime/llama.js';

/** What a client can act on: the request is wrong, unknown, not now, or too late. */
const CLEAR_CODES = new Set<number>([
  status.INVALID_ARGUMENT,
  status.NOT_FOUND,
  status.FAILED_PRECONDITION,
  status.RESOURCE_EXHAUSTED,
  status.DEADLINE_EXCEEDED,
  status.OUT_OF_RANGE,
  status.ALREADY_EXISTS,
]);

let dir: string;
let agent: Agent;
let client: AgentClient;
let raw: Client;
const tally = { tried: 0, ok: 0, clearErrors: 0, undecodable: 0 };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgellm-fuzz-'));
  await writeFile(join(dir, 'tiny.gguf'), buildTinyModel({ type: 'F32' }));
  agent = await Agent.start({
    config: agentConfigSchema.parse({
      listen: '127.0.0.1:0',
      metricsListen: false,
      tls: { insecure: true },
      models: [
        {
          name: 'tiny',
          quantization: 'F32',
          path: join(dir, 'tiny.gguf'),
          contextTokens: 8 * 128,
          maxSequences: 8,
        },
      ],
    }),
    runtime: await createLlamaRuntime({ threads: 1 }),
    logger: pino({ level: 'silent' }),
    registry: new Registry(),
    version: 'fuzz',
  });
  client = new AgentClient({ address: agent.address, tls: { insecure: true } });
  raw = new Client(agent.address, credentials.createInsecure());
}, 120_000);

afterAll(async () => {
  process.stdout.write(
    `agent fuzz: ${tally.tried} calls, ${tally.ok} ran, ${tally.clearErrors} clear errors, ${tally.undecodable} undecodable (INTERNAL), 0 crashes\n`,
  );
  raw.close();
  client.close();
  await agent.shutdown();
  await rm(dir, { recursive: true, force: true });
});

/** The call's outcome: 'ok', or the error, checked to be one a client can act on. */
function expectClear(error: unknown, decodable: boolean): void {
  const e = error as ServiceError;
  if (!decodable && e.code === status.INTERNAL) {
    // grpc-js's answer to a message that does not decode (as grpc-go's): nothing else may be INTERNAL.
    expect(e.details).toMatch(/pars|deserializ|decod|index out of range|invalid wire type/i);
    tally.undecodable++;
    return;
  }
  expect({ code: e.code, details: e.details, clear: CLEAR_CODES.has(e.code) }).toEqual({
    code: e.code,
    details: e.details,
    clear: true,
  });
  expect(e.details.length).toBeGreaterThan(0);
  tally.clearErrors++;
}

const hostileText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom('', ' ', '\u0000', '\uFFFD'.repeat(8), '<|im_start|>system', 'x'.repeat(5000)),
);

// Enum fields take numbers this proto does not define, as a client built from a newer proto could.
// eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment
const generation: fc.Arbitrary<GenerationRequest> = fc.record({
  id: fc.oneof(fc.constantFrom('a', 'b', ''), fc.string({ maxLength: 300 })),
  prompt: hostileText,
  // uint32 on the wire: 0, small, and the largest.
  maxTokens: fc.oneof(fc.integer({ min: 0, max: 6 }), fc.constant(2 ** 32 - 1)),
  sampling: fc.option(
    fc.record({
      temperature: fc.oneof(fc.double({ noNaN: false }), fc.constantFrom(0, 1, -1)),
      topP: fc.option(fc.double(), { nil: undefined }),
      topK: fc.option(fc.oneof(fc.integer({ min: 0, max: 10_000 }), fc.constant(2 ** 32 - 1)), {
        nil: undefined,
      }),
      seed: fc.option(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { nil: undefined }),
    }),
    { nil: undefined },
  ),
  deadline: fc.option(
    fc.date({ min: new Date(0), max: new Date(Date.now() + 3_600_000), noInvalidDate: true }),
    { nil: undefined },
  ),
  promptFormat: fc.integer({ min: 0, max: 5 }),
  messages: fc.array(
    fc.record({
      role: fc.integer({ min: 0, max: 5 }),
      content: hostileText,
    }),
    { maxLength: 3 },
  ),
  stop: fc.array(fc.string({ maxLength: 80 }), { maxLength: 6 }),
});

describe('the agent under fuzzed calls', () => {
  it('answers hostile ExecuteBatch requests with a clear status, or runs them', async () => {
    let serial = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          batchId: fc.oneof(fc.constant(''), fc.constant(' '), fc.string({ maxLength: 300 })),
          model: fc.constantFrom('tiny', '', 'nope', 'tiny '),
          requests: fc.array(generation, { maxLength: 10 }),
        }),
        async (request: ExecuteBatchRequest) => {
          tally.tried++;
          // Unique ids unless the input is about ids: a replay of an earlier batch is fine too.
          const batchId =
            request.batchId.trim() === '' ? request.batchId : `${serial++}-${request.batchId}`;
          try {
            const events = await collectBatch(client.executeBatch({ ...request, batchId }));
            const last = events.at(-1)?.event;
            expect(last?.$case).toBe('summary');
            tally.ok++;
          } catch (error) {
            expectClear(error, true);
          }
        },
      ),
      { numRuns: 150 },
    );
  }, 300_000);

  it('answers bytes that are not the expected message, on every method', async () => {
    const methods = [
      'GetInfo',
      'GetProfile',
      'LoadModel',
      'UnloadModel',
      'GetBatch',
      'CancelBatch',
      'CancelGeneration',
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...methods, 'ExecuteBatch'),
        fc.uint8Array({ maxLength: 512 }),
        async (method, bytes) => {
          tally.tried++;
          const path = `/${AGENT_SERVICE_NAME}/${method}`;
          const identity = (b: Buffer): Buffer => b;
          try {
            if (method === 'ExecuteBatch') {
              await new Promise<void>((resolve, reject) => {
                const call = raw.makeServerStreamRequest(
                  path,
                  identity,
                  identity,
                  Buffer.from(bytes),
                  { deadline: Date.now() + 30_000 },
                );
                call.on('data', () => undefined);
                call.on('error', reject);
                call.on('end', resolve);
              });
            } else {
              await new Promise<void>((resolve, reject) => {
                raw.makeUnaryRequest(
                  path,
                  identity,
                  identity,
                  Buffer.from(bytes),
                  { deadline: Date.now() + 30_000 },
                  (error) => {
                    if (error) reject(error);
                    else resolve();
                  },
                );
              });
            }
            tally.ok++;
          } catch (error) {
            expectClear(error, false);
          }
        },
      ),
      { numRuns: 200 },
    );
  }, 300_000);

  it('still serves after all of it', async () => {
    const info = await client.getInfo();
    expect(info.models.map((m) => m.name)).toContain('tiny');
    const events = await collectBatch(
      client.executeBatch({
        batchId: 'after-fuzz',
        model: 'tiny',
        requests: [
          {
            id: 'r',
            prompt: 'Still here',
            maxTokens: 4,
            sampling: { temperature: 0 },
            deadline: undefined,
            messages: [],
            stop: [],
          },
        ],
      }),
    );
    const last = events.at(-1)?.event;
    expect(last?.$case === 'summary' && last.value.state).toBe(BatchState.BATCH_STATE_SUCCEEDED);
  });
});
