// `edgellm agent --config` as a process (the built CLI, as bin/edgellm runs it): it serves mTLS
// gRPC with the configured tiny model, calibrates it at start (GetProfile), and SIGTERM drains
// and exits 0.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentClient, collectBatch } from '../../../src/agent-client/client.js';
import { BatchState, ProfilePhase } from '../../../src/gen/edgellm/agent/v1/agent.js';
import { buildTinyModel } from '../../../src/runtime/gguf/tiny-model.js';
import { createTestPki, type TestPki } from '../../support/certs.js';
import { startAgentProcess, type AgentProcess } from '../../support/agent-process.js';

let dir: string;
let pki: TestPki;
let child: ChildProcess | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgellm-cli-agent-'));
  pki = createTestPki();
  await writeFile(join(dir, 'ca.pem'), pki.ca.cert);
  await writeFile(join(dir, 'server.pem'), pki.server.cert);
  await writeFile(join(dir, 'server.key'), pki.server.key);
  await writeFile(join(dir, 'tiny-q8.gguf'), buildTinyModel({ type: 'Q8_0' }));
  await writeFile(
    join(dir, 'agent.yaml'),
    [
      'listen: 127.0.0.1:0',
      'metricsListen: false',
      'tls: {caFile: ca.pem, certFile: server.pem, keyFile: server.key}',
      'models:',
      '  - {name: tiny, quantization: Q8_0, path: tiny-q8.gguf, contextTokens: 512, maxSequences: 4}',
      'threads: 2',
      'calibrateOnStart: true',
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  child?.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

async function startAgent(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): Promise<AgentProcess> {
  const started = await startAgentProcess(args, env);
  child = started.proc;
  return started;
}

/** Threads of process `pid` that are libuv's pool workers (by the name libuv gives them). */
async function libuvWorkers(pid: number): Promise<number> {
  const tasks = await readdir(`/proc/${pid}/task`);
  const names = await Promise.all(
    tasks.map((t) => readFile(`/proc/${pid}/task/${t}/comm`, 'utf8').catch(() => '')),
  );
  return names.filter((n) => n.includes('libuv')).length;
}

describe('edgellm agent --config', () => {
  it('serves the configured model over mTLS and drains on SIGTERM', async () => {
    const { proc, address, lines, exited } = await startAgent([
      '--config',
      join(dir, 'agent.yaml'),
    ]);
    const client = new AgentClient({
      address,
      tls: { ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key },
    });
    try {
      const info = await client.getInfo();
      expect(info.models.map((m) => [m.name, m.loaded])).toEqual([['tiny', true]]);
      // Calibrated at start: prefill and decode samples plus perplexity, over gRPC.
      const { profiles } = await client.getProfile({ model: 'tiny' });
      expect(profiles).toHaveLength(1);
      const profile = profiles[0];
      expect(profile?.quantization).toBe('Q8_0');
      expect(new Set(profile?.samples.map((s) => s.phase))).toEqual(
        new Set([ProfilePhase.PROFILE_PHASE_PREFILL, ProfilePhase.PROFILE_PHASE_DECODE]),
      );
      expect(profile?.samples.every((s) => s.seconds > 0 && s.batchSize >= 1)).toBe(true);
      expect(profile?.perplexity).toBeGreaterThan(1);
      const events = await collectBatch(
        client.executeBatch({
          batchId: 'cli-1',
          model: 'tiny',
          requests: [
            {
              id: 'a',
              prompt: 'Hello',
              maxTokens: 4,
              sampling: undefined,
              deadline: undefined,
              messages: [],
              stop: [],
            },
          ],
        }),
      );
      const last = events.at(-1)?.event;
      expect(last?.$case === 'summary' && last.value.state).toBe(BatchState.BATCH_STATE_SUCCEEDED);
    } finally {
      client.close();
    }
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(lines.map((l) => l.msg)).toEqual(
      expect.arrayContaining(['signal received', 'agent stopped']),
    );
    child = undefined;
  });

  it("runs llama.cpp's calls on one libuv pool thread unless UV_THREADPOOL_SIZE is set", async () => {
    // The model loaded and the start-up calibration ran on the pool before 'agent serving'.
    // Per-call llama.cpp threads: a persistent pool's threads take the name of the libuv worker
    // that created them (the next test counts those).
    const perCall = { EDGELLM_LLAMA_THREAD_POOL: 'per-call' };
    for (const [env, expected] of [
      [{ ...perCall, UV_THREADPOOL_SIZE: undefined }, 1],
      [{ ...perCall, UV_THREADPOOL_SIZE: '3' }, 3],
    ] as const) {
      const { proc, exited } = await startAgent(['--config', join(dir, 'agent.yaml')], env);
      expect(await libuvWorkers(proc.pid ?? 0)).toBe(expected);
      proc.kill('SIGTERM');
      expect(await exited).toBe(0);
      child = undefined;
    }
  });

  it("keeps llama.cpp's threads in a persistent pool per context unless EDGELLM_LLAMA_THREAD_POOL=per-call", async () => {
    const threadsAfterBatch = new Map<string, number>();
    for (const mode of ['persistent', 'per-call'] as const) {
      const { proc, address, lines, exited } = await startAgent(
        ['--config', join(dir, 'agent.yaml')],
        { EDGELLM_LLAMA_THREAD_POOL: mode === 'persistent' ? undefined : mode },
      );
      expect(lines.find((l) => l.msg === 'agent serving')?.threadPool).toBe(mode);
      const client = new AgentClient({
        address,
        tls: { ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key },
      });
      try {
        const events = await collectBatch(
          client.executeBatch({
            batchId: `pool-${mode}`,
            model: 'tiny',
            requests: ['a', 'b'].map((id) => ({
              id,
              prompt: 'Hello',
              maxTokens: 8,
              sampling: undefined,
              deadline: undefined,
              messages: [],
              stop: [],
            })),
          }),
        );
        const last = events.at(-1)?.event;
        expect(last?.$case === 'summary' && last.value.state).toBe(
          BatchState.BATCH_STATE_SUCCEEDED,
        );
      } finally {
        client.close();
      }
      threadsAfterBatch.set(mode, (await readdir(`/proc/${proc.pid ?? 0}/task`)).length);
      proc.kill('SIGTERM');
      expect(await exited).toBe(0);
      child = undefined;
    }
    // threads: 2 is the caller and one pool thread, for the model's one context; the start-up
    // calibration's context was freed with its pool.
    expect(
      (threadsAfterBatch.get('persistent') ?? 0) - (threadsAfterBatch.get('per-call') ?? 0),
    ).toBe(1);
  });

  it('--simulate serves a configured model without reading its file, with an exact profile', async () => {
    await writeFile(
      join(dir, 'sim.yaml'),
      [
        'listen: 127.0.0.1:0',
        'metricsListen: false',
        'tls: {insecure: true}',
        'models:',
        '  - {name: sim, quantization: Q4_0, path: does-not-exist.gguf, maxSequences: 8}',
        'calibrateOnStart: true',
        '',
      ].join('\n'),
    );
    const { proc, address } = await startAgent(['--config', join(dir, 'sim.yaml'), '--simulate']);
    const client = new AgentClient({ address, tls: { insecure: true } });
    try {
      const info = await client.getInfo();
      expect(info.models.map((m) => [m.name, m.loaded])).toEqual([['sim', true]]);
      const { profiles } = await client.getProfile({ model: 'sim' });
      expect(profiles[0]?.samples.length).toBeGreaterThan(6);
      const events = await collectBatch(
        client.executeBatch({
          batchId: 'sim-1',
          model: 'sim',
          requests: ['a', 'b'].map((id) => ({
            id,
            prompt: 'Hello',
            maxTokens: 3,
            sampling: undefined,
            deadline: undefined,
            messages: [],
            stop: [],
          })),
        }),
      );
      const results = events.flatMap((e) => (e.event?.$case === 'result' ? [e.event.value] : []));
      expect(results.map((r) => [r.requestId, r.completionTokens])).toEqual([
        ['a', 3],
        ['b', 3],
      ]);
    } finally {
      client.close();
      proc.kill('SIGTERM');
    }
  });
});
