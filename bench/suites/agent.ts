// The agent's serving overhead: aggregate tokens/s for batch sizes 1..16 through the agent over
// gRPC (ExecuteBatch, streamed) versus calling the same node-llama-cpp runtime directly, in the
// same process and run, alternating the two so machine noise hits both alike.
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { Agent } from '../../src/agent/agent.js';
import { AgentClient, collectBatch } from '../../src/agent-client/client.js';
import { agentConfigSchema } from '../../src/agent/config.js';
import type { ExecuteBatchResponse } from '../../src/gen/edgellm/agent/v1/agent.js';
import { buildTinyModel } from '../../src/runtime/gguf/tiny-model.js';
import { createLlamaRuntime } from '../../src/runtime/llama.js';
import {
  REGISTRY_MODEL,
  registryModelPath,
  tinyModelPath,
} from '../../src/runtime/models/catalog.js';
import type { GenerationRequest } from '../../src/runtime/types.js';
import { markdownTable, median, type BenchSuite } from '../suite.js';

const BATCH_SIZES = [1, 2, 4, 8, 16] as const;
const MAX_SEQUENCES = 16;
const SEQUENCE_TOKENS = 256;
const THREADS = 2;
const PROMPTS = [
  'The capital of France is',
  'Once upon a time, there was a',
  'The best way to learn programming is',
  'Water boils at',
  'A good breakfast includes',
  'The tallest mountain in the world is',
  'My favourite book is about',
  'In the year 2050, cities will',
] as const;

interface BenchModel {
  readonly path: string;
  readonly label: string;
  readonly quantization: string;
}

/** The real small model `make models` fetched, else the largest generated tiny model. */
async function benchModel(): Promise<BenchModel | undefined> {
  for (const [path, label, quantization] of [
    [
      registryModelPath(),
      `SmolLM2-135M-Instruct ${REGISTRY_MODEL.quantization} (PyPI ${REGISTRY_MODEL.pypiPackage} ${REGISTRY_MODEL.version})`,
      REGISTRY_MODEL.quantization,
    ],
    [
      tinyModelPath('F32'),
      'generated tiny llama F32 (the registry model was missing: run `make models`)',
      'F32',
    ],
  ] as const) {
    try {
      await stat(path);
      return { path, label, quantization };
    } catch {
      // not fetched/generated; try the next one
    }
  }
  return undefined;
}

function requests(n: number, maxTokens: number): GenerationRequest[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `r${i}`,
    prompt: PROMPTS[i % PROMPTS.length] ?? 'Hello',
    maxTokens,
    sampling: { temperature: 0 },
  }));
}

function completionTokens(events: readonly ExecuteBatchResponse[]): number {
  let total = 0;
  for (const e of events) if (e.event?.$case === 'result') total += e.event.value.completionTokens;
  return total;
}

export const agentSuite: BenchSuite = {
  name: 'agent',
  description: 'agent over gRPC vs node-llama-cpp directly: aggregate tokens/s, batch 1..16',
  async run({ quick }) {
    const dir = await mkdtemp(join(tmpdir(), 'edgellm-bench-agent-'));
    let model = await benchModel();
    if (!model) {
      const path = join(dir, 'tiny-F32.gguf');
      await writeFile(path, buildTinyModel({ type: 'F32' }));
      model = {
        path,
        label: 'generated tiny llama F32 (no registry model; run `make models`)',
        quantization: 'F32',
      };
    }
    const fileBytes = (await stat(model.path)).size;
    const maxTokens = quick ? 8 : 32;
    const reps = quick ? 1 : 5;
    const runtime = await createLlamaRuntime({ threads: THREADS });
    const config = agentConfigSchema.parse({
      listen: '127.0.0.1:0',
      metricsListen: false,
      tls: { insecure: true },
      models: [
        {
          name: 'bench',
          quantization: model.quantization,
          path: model.path,
          contextTokens: MAX_SEQUENCES * SEQUENCE_TOKENS,
          maxSequences: MAX_SEQUENCES,
        },
      ],
      threads: THREADS,
    });
    const agent = await Agent.start({
      config,
      runtime,
      logger: pino({ level: 'silent' }),
      registry: new Registry(),
      version: 'bench',
    });
    const client = new AgentClient({ address: agent.address, tls: { insecure: true } });
    let batchNo = 0;
    const direct = async (n: number): Promise<{ tokens: number; seconds: number }> => {
      const t0 = performance.now();
      const out = await runtime.generateBatch('bench', requests(n, maxTokens), {});
      const seconds = (performance.now() - t0) / 1000;
      return { tokens: out.results.reduce((a, r) => a + r.completionTokens, 0), seconds };
    };
    const viaAgent = async (n: number): Promise<{ tokens: number; seconds: number }> => {
      const t0 = performance.now();
      const events = await collectBatch(
        client.executeBatch({
          batchId: `bench-${batchNo++}`,
          model: 'bench',
          requests: requests(n, maxTokens).map((r) => ({
            id: r.id,
            prompt: r.prompt,
            maxTokens: r.maxTokens,
            sampling: r.sampling,
            deadline: undefined,
            messages: [],
            stop: [],
          })),
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      return { tokens: completionTokens(events), seconds };
    };
    const rows: {
      batchSize: number;
      tokens: number;
      directTokensPerSecond: number;
      agentTokensPerSecond: number;
      overheadPercent: number;
    }[] = [];
    try {
      await direct(1); // warm-up: first evaluation pays one-time costs
      await viaAgent(1);
      for (const n of BATCH_SIZES) {
        const d: number[] = [];
        const a: number[] = [];
        let tokens = 0;
        for (let rep = 0; rep < reps; rep++) {
          const first = rep % 2 === 0 ? direct : viaAgent;
          const second = first === direct ? viaAgent : direct;
          for (const fn of [first, second]) {
            const r = await fn(n);
            (fn === direct ? d : a).push(r.tokens / r.seconds);
            tokens = r.tokens;
          }
        }
        process.stderr.write(
          `agent bench: batch ${n}: direct ${d.map((x) => x.toFixed(1)).join('/')} tok/s, agent ${a.map((x) => x.toFixed(1)).join('/')} tok/s\n`,
        );
        const directTps = median(d);
        const agentTps = median(a);
        rows.push({
          batchSize: n,
          tokens,
          directTokensPerSecond: directTps,
          agentTokensPerSecond: agentTps,
          overheadPercent: ((directTps - agentTps) / directTps) * 100,
        });
      }
    } finally {
      client.close();
      await agent.shutdown(); // disposes the runtime too
      await rm(dir, { recursive: true, force: true });
    }
    const base = rows[0]?.directTokensPerSecond ?? 1;
    const table = markdownTable(
      ['batch', 'tokens', 'direct tok/s', 'agent tok/s', 'overhead %', 'gain vs batch 1 (direct)'],
      rows.map((r) => [
        String(r.batchSize),
        String(r.tokens),
        r.directTokensPerSecond.toFixed(1),
        r.agentTokensPerSecond.toFixed(1),
        r.overheadPercent.toFixed(1),
        `${(r.directTokensPerSecond / base).toFixed(2)}x`,
      ]),
    );
    const worst = Math.max(...rows.map((r) => r.overheadPercent));
    const markdown = [
      `Model: ${model.label}, ${(fileBytes / 1e6).toFixed(1)} MB; ${THREADS} threads, CPU; greedy,`,
      `max ${maxTokens} tokens per request; median of ${reps} alternating runs per cell. The agent`,
      'path is ExecuteBatch over plain-text gRPC on 127.0.0.1 (streamed tokens, results, summary),',
      'the direct path is `generateBatch` on the same loaded runtime. Goal: overhead under 5%;',
      `worst measured: ${worst.toFixed(1)}%.`,
      '',
      table,
      '',
    ].join('\n');
    return {
      name: 'agent',
      title: 'Agent overhead (gRPC vs direct runtime)',
      markdown,
      data: { model: model.label, fileBytes, maxTokens, reps, threads: THREADS, rows },
    };
  },
};
