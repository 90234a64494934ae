// `runtime`: the agent as a node runs it (`edgellm agent` in its own process, ExecuteBatch over
// gRPC) on the real small model (SmolLM2-135M Q4_1 from PyPI), against llama.cpp's own
// llama-batched-bench on the same file, threads and lengths (runtime-speed.ts). The calibrated
// cost model's error on the same model is the `calibration` suite (calibration.ts).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentClient } from '../../src/agent-client/client.js';
import { LLAMA_RUNTIME_DEFAULTS } from '../../src/runtime/llama.js';
import { AGENT_THREAD_POOL_SIZE } from '../../src/agent/thread-pool.js';
import { THREAD_POOL_ENV, type ThreadPoolMode } from '../../src/runtime/llama-thread-pool.js';
import { REGISTRY_MODEL, registryModelPath } from '../../src/runtime/models/catalog.js';
import { startAgentProcess } from '../../test/support/agent-process.js';
import { buildBatchedBench } from '../llama-cpp/batched-bench.js';
import type { BenchSuite } from '../suite.js';
import { findPrompts, measureSpeed, speedTable } from './runtime-speed.js';

const MODEL = 'smollm2';
const MAX_SEQUENCES = 16;
const SEQUENCE_TOKENS = 256;
const BATCH_SIZES = [1, 2, 4, 8, 16] as const;
const PROMPT_TOKENS = 8;
const GENERATED_TOKENS = 32;
/** node-llama-cpp's batch size for this context: min(contextTokens, 2048). */
const BATCH_TOKENS = Math.min(MAX_SEQUENCES * SEQUENCE_TOKENS, 2048);
/** The runtime's flash-attention setting, llama-batched-bench's -fa too. */
const FLASH_ATTENTION = LLAMA_RUNTIME_DEFAULTS.flashAttention;

function uptime(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
}

/**
 * Agent over gRPC vs llama-batched-bench (runtime-speed.ts), with the agent in its own process
 * keeping llama.cpp's threads as `threadPool` says (src/runtime/llama-thread-pool.ts).
 */
async function speedPart(
  batchedBench: string,
  threads: number,
  repeats: number,
  threadPool: ThreadPoolMode,
) {
  const dir = await mkdtemp(join(tmpdir(), 'edgellm-bench-runtime-'));
  const config = join(dir, 'agent.yaml');
  await writeFile(
    config,
    [
      'listen: 127.0.0.1:0',
      'metricsListen: false',
      'tls: {insecure: true}',
      'models:',
      `  - {name: ${MODEL}, quantization: ${REGISTRY_MODEL.quantization}, path: ${registryModelPath()}, contextTokens: ${MAX_SEQUENCES * SEQUENCE_TOKENS}, maxSequences: ${MAX_SEQUENCES}}`,
      `threads: ${threads}`,
      'calibrateOnStart: false',
      'logLevel: info', // startAgentProcess waits for the 'agent serving' line (info)
      '',
    ].join('\n'),
  );
  const agent = await startAgentProcess(['--config', config], { [THREAD_POOL_ENV]: threadPool });
  const client = new AgentClient({ address: agent.address, tls: { insecure: true } });
  try {
    const serving = agent.lines.find((l) => l.msg === 'agent serving');
    if (serving?.threadPool !== threadPool) {
      throw new Error(
        `the agent keeps llama.cpp's threads ${String(serving?.threadPool)}, not ${threadPool}: ${String(serving?.threadPoolDetail)}`,
      );
    }
    const prompts = await findPrompts(
      client,
      MODEL,
      PROMPT_TOKENS,
      GENERATED_TOKENS,
      MAX_SEQUENCES,
    );
    const speed = await measureSpeed({
      client,
      model: MODEL,
      modelPath: registryModelPath(),
      agentPid: agent.proc.pid ?? 0,
      batchedBench,
      threads,
      batchSizes: BATCH_SIZES,
      prompts,
      promptTokens: PROMPT_TOKENS,
      generatedTokens: GENERATED_TOKENS,
      contextTokens: MAX_SEQUENCES * SEQUENCE_TOKENS,
      batchTokens: BATCH_TOKENS,
      flashAttention: FLASH_ATTENTION,
      repeats,
    });
    return { prompts, speed };
  } finally {
    client.close();
    agent.proc.kill('SIGTERM');
    await agent.exited;
    await rm(dir, { recursive: true, force: true });
  }
}

export const runtimeSuite: BenchSuite = {
  name: 'runtime',
  description: 'agent (gRPC, own process) vs llama.cpp llama-batched-bench at 1..16 sequences',
  async run({ quick }) {
    // BENCH_THREADS overrides the thread count of both sides (default 2: this machine's cores).
    const threads = Number(process.env.BENCH_THREADS ?? 2);
    const repeats = quick ? 1 : 5;
    const loadBefore = uptime();
    const batchedBench = await buildBatchedBench();
    const { prompts, speed } = await speedPart(batchedBench, threads, repeats, 'persistent');
    const perCall = await speedPart(batchedBench, threads, repeats, 'per-call');
    const loadAfter = uptime();
    const markdown = [
      `SmolLM2-135M-Instruct ${REGISTRY_MODEL.quantization} (PyPI \`${REGISTRY_MODEL.pypiPackage}\` ` +
        `${REGISTRY_MODEL.version}), CPU, ${threads} threads on both sides, ${PROMPT_TOKENS}-token prompts, ` +
        `${GENERATED_TOKENS} generated tokens per sequence (greedy), KV cache ${MAX_SEQUENCES * SEQUENCE_TOKENS} ` +
        `cells, batch ${BATCH_TOKENS} tokens, flash attention ${FLASH_ATTENTION}; ` +
        `median (min–max) of ${repeats} alternating runs. Agent: \`edgellm agent\` in its own process ` +
        `(libuv pool threads: ${process.env.UV_THREADPOOL_SIZE ?? `the agent's default, ${AGENT_THREAD_POOL_SIZE}`}; ` +
        "llama.cpp's threads in a persistent pool per context, the agent's default), " +
        'ExecuteBatch over plain-text gRPC on 127.0.0.1, timed by the client from the call to the end of ' +
        'the stream. llama.cpp: its `llama-batched-bench` built from the source node-llama-cpp ships ' +
        '(bench/llama-cpp/), linked to the same prebuilt libllama/libggml the agent loads, run with ' +
        `\`-ntg ${GENERATED_TOKENS - 1}\` (one prompt evaluation and ${GENERATED_TOKENS - 1} decode steps make ` +
        `${GENERATED_TOKENS} tokens, as in the agent). CPU kernels: agent ${speed.agentCpuVariant ?? 'unknown'}, ` +
        `llama.cpp ${speed.llamaCpuVariant ?? 'unknown'}. Gain: tokens/s over the same side's batch of 1. ` +
        'Agent evaluations: llama_decode calls per batch (one for the prompts, one per decode step).',
      '',
      speedTable(speed),
      '',
      'The same with ggml creating and joining the llama.cpp threads on every llama_decode, as ' +
        'node-llama-cpp leaves them (a second agent process with `EDGELLM_LLAMA_THREAD_POOL=per-call`; ' +
        'the agent gives each context a persistent pool by default, native/llama-thread-pool.cpp), ' +
        'llama-batched-bench unchanged:',
      '',
      speedTable(perCall.speed),
      '',
      `Load average (1, 5, 15 min): ${loadBefore} before, ${loadAfter} after.`,
    ].join('\n');
    return {
      name: 'runtime',
      title: 'Runtime: the agent against llama.cpp on SmolLM2-135M',
      markdown,
      data: {
        threads,
        repeats,
        uvThreadpoolSize: process.env.UV_THREADPOOL_SIZE ?? null,
        promptTokens: PROMPT_TOKENS,
        generatedTokens: GENERATED_TOKENS,
        prompts,
        loadBefore,
        loadAfter,
        speed,
        perCallThreads: perCall.speed,
      },
    };
  },
};
