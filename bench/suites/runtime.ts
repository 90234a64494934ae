// `runtime`: the agent as a node runs it (`edgellm agent` in its own process, ExecuteBatch over
// gRPC) on the real small model (SmolLM2-135M Q4_1 from PyPI), against llama.cpp's own
// llama-batched-bench on the same file, threads and lengths (runtime-speed.ts), and the
// calibrated cost model's error on the agent's batches (runtime-calibration.ts).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentClient } from '../../src/agent-client/client.js';
import { createLlamaRuntime, LLAMA_RUNTIME_DEFAULTS } from '../../src/runtime/llama.js';
import { REGISTRY_MODEL, registryModelPath } from '../../src/runtime/models/catalog.js';
import { startAgentProcess } from '../../test/support/agent-process.js';
import { buildBatchedBench } from '../llama-cpp/batched-bench.js';
import type { BenchSuite } from '../suite.js';
import {
  calibrationErrors,
  calibrationTable,
  measureCalibrationError,
  type CalibrationWorkload,
} from './runtime-calibration.js';
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

/** Shapes the calibrated model is checked on: batch sizes, prompt lengths and output lengths. */
const CALIBRATION_WORKLOAD: CalibrationWorkload = {
  batchSizes: BATCH_SIZES,
  promptChars: [40, 320],
  maxTokens: [12, 40],
  passes: 3,
};
const QUICK_CALIBRATION_WORKLOAD: CalibrationWorkload = {
  batchSizes: [1, 4, 16],
  promptChars: [40, 320],
  maxTokens: [12],
  passes: 2,
};

function uptime(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
}

/** Agent over gRPC vs llama-batched-bench (runtime-speed.ts), with the agent in its own process. */
async function speedPart(threads: number, repeats: number) {
  const batchedBench = await buildBatchedBench();
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
  const agent = await startAgentProcess(['--config', config]);
  const client = new AgentClient({ address: agent.address, tls: { insecure: true } });
  try {
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

/** The calibrated cost model's error on the real runtime, in this process (runtime-calibration.ts). */
async function calibrationPart(threads: number, workload: CalibrationWorkload) {
  const runtime = await createLlamaRuntime({ threads });
  try {
    const loaded = await runtime.loadModel({
      name: MODEL,
      quantization: REGISTRY_MODEL.quantization,
      path: registryModelPath(),
      maxSequences: MAX_SEQUENCES,
      contextTokens: MAX_SEQUENCES * SEQUENCE_TOKENS,
    });
    return await measureCalibrationError(runtime, loaded.name, workload);
  } finally {
    await runtime.dispose();
  }
}

export const runtimeSuite: BenchSuite = {
  name: 'runtime',
  description:
    'agent (gRPC, own process) vs llama.cpp llama-batched-bench at 1..16 sequences; calibrated latency error',
  async run({ quick }) {
    // BENCH_THREADS overrides the thread count of both sides (default 2: this machine's cores).
    const threads = Number(process.env.BENCH_THREADS ?? 2);
    const repeats = quick ? 1 : 5;
    const workload = quick ? QUICK_CALIBRATION_WORKLOAD : CALIBRATION_WORKLOAD;
    const loadBefore = uptime();
    const { prompts, speed } = await speedPart(threads, repeats);
    const loadMiddle = uptime();
    const calibration = await calibrationPart(threads, workload);
    const loadAfter = uptime();
    const last = Math.max(...calibration.batches.map((b) => b.pass));
    const refined = calibrationErrors(
      calibration.batches.filter((b) => b.pass === last),
      'refined',
    );
    const startup = calibrationErrors(calibration.batches, 'startup');
    const markdown = [
      `SmolLM2-135M-Instruct ${REGISTRY_MODEL.quantization} (PyPI \`${REGISTRY_MODEL.pypiPackage}\` ` +
        `${REGISTRY_MODEL.version}), CPU, ${threads} threads on both sides, ${PROMPT_TOKENS}-token prompts, ` +
        `${GENERATED_TOKENS} generated tokens per sequence (greedy), KV cache ${MAX_SEQUENCES * SEQUENCE_TOKENS} ` +
        `cells, batch ${BATCH_TOKENS} tokens, flash attention ${FLASH_ATTENTION}; ` +
        `median (min–max) of ${repeats} alternating runs. Agent: \`edgellm agent\` in its own process ` +
        `(UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? 'unset'}), ` +
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
      `Calibrated latency model (in process, ${threads} threads): the agent's start-up calibration ` +
        `(CALIBRATION_PLANS.quick, ${calibration.startupProfile.samples.length} samples, ` +
        `${calibration.calibrationSeconds.toFixed(1)} s) fitted as the operator fits it, predicting each batch's ` +
        `prefill and decode phases from the batch's real shape; "refined" is the agent's ProfileStore fed every ` +
        `batch run before (what GetProfile serves). ${workload.passes} passes over batch sizes ` +
        `${workload.batchSizes.join(', ')} x prompts of about ${workload.promptChars.map((c) => Math.round(c / 4)).join(' and ')} ` +
        `tokens (±25% within a batch) x max tokens ${workload.maxTokens.join(' and ')}. Error = |predicted − measured| / measured per batch.`,
      '',
      calibrationTable(calibration),
      '',
      `Calibrated error, refined, pass ${last}: median **${(refined.total.median * 100).toFixed(1)}%**, ` +
        `p90 ${(refined.total.p90 * 100).toFixed(1)}% (goal: median < 10%, p90 < 25%); start-up calibration ` +
        `alone: median ${(startup.total.median * 100).toFixed(1)}%, p90 ${(startup.total.p90 * 100).toFixed(1)}%.`,
      '',
      `Load average (1, 5, 15 min): ${loadBefore} before, ${loadMiddle} between the two parts, ${loadAfter} after.`,
    ].join('\n');
    return {
      name: 'runtime',
      title: 'Runtime: the agent against llama.cpp on SmolLM2-135M; calibrated latency error',
      markdown,
      data: {
        threads,
        repeats,
        uvThreadpoolSize: process.env.UV_THREADPOOL_SIZE ?? null,
        promptTokens: PROMPT_TOKENS,
        generatedTokens: GENERATED_TOKENS,
        prompts,
        loadBefore,
        loadMiddle,
        loadAfter,
        speed,
        calibration: {
          workload,
          startup,
          refinedLastPass: refined,
          ...calibration,
        },
      },
    };
  },
};
