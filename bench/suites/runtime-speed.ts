// The agent against llama.cpp itself: aggregate generation tokens/s of a batch of 1..16
// sequences through a running agent (its own process, ExecuteBatch over gRPC) and through
// llama.cpp's `llama-batched-bench` (bench/llama-cpp/) on the same model file, threads, prompt
// and output lengths, KV cache, batch size and flash-attention setting, alternated in one run so
// machine noise hits both alike.
//
// Both make one prompt evaluation and then one decode step per further token: the agent's
// 32 tokens per sequence are the token sampled after the prompt plus 31 decode steps, so
// llama-batched-bench runs `-ntg 31` and its tokens/s is pl * 32 / (t_pp + t_tg). The agent
// samples (greedy, over the whole vocabulary) and streams every token; llama-batched-bench feeds
// random tokens and samples nothing: that work is the agent's overhead the ratio includes.
import { performance } from 'node:perf_hooks';
import { readFile } from 'node:fs/promises';
import type { AgentClient } from '../../src/agent-client/client.js';
import { collectBatch } from '../../src/agent-client/client.js';
import type {
  ExecuteBatchResponse,
  GenerationRequest,
} from '../../src/gen/edgellm/agent/v1/agent.js';
import { runBatchedBench, type BatchedBenchOptions } from '../llama-cpp/batched-bench.js';
import { markdownTable, median, quantile } from '../suite.js';

export interface SpeedSetup {
  readonly client: AgentClient;
  /** The agent's model name for the GGUF file. */
  readonly model: string;
  readonly modelPath: string;
  /** pid of the agent process (its loaded CPU kernel library is read from /proc). */
  readonly agentPid: number;
  readonly batchedBench: string;
  readonly threads: number;
  readonly batchSizes: readonly number[];
  /** Prompts of exactly `promptTokens` tokens that generate `generatedTokens` tokens greedily. */
  readonly prompts: readonly string[];
  readonly promptTokens: number;
  readonly generatedTokens: number;
  readonly contextTokens: number;
  readonly batchTokens: number;
  /** The agent runtime's flash-attention setting, given to llama-batched-bench as -fa. */
  readonly flashAttention: 'on' | 'off' | 'auto';
  readonly repeats: number;
}

export interface SpeedRow {
  readonly batchSize: number;
  readonly agentTokensPerSecond: readonly number[];
  readonly llamaTokensPerSecond: readonly number[];
  /** llama-batched-bench's own decode-phase figure (S_TG), for reference. */
  readonly llamaDecodeTokensPerSecond: readonly number[];
  /** Per repeat: agent / llama.cpp, from the pair run back to back. */
  readonly ratios: readonly number[];
  /** Agent-side decode calls the batches made (prompt evaluation + decode steps), per repeat. */
  readonly agentEvaluations: readonly number[];
}

export interface SpeedResult {
  readonly rows: readonly SpeedRow[];
  readonly agentCpuVariant: string | undefined;
  readonly llamaCpuVariant: string | undefined;
}

/** A plain-text request, greedy, no deadline. */
export function greedyRequest(id: string, prompt: string, maxTokens: number): GenerationRequest {
  return {
    id,
    prompt,
    maxTokens,
    sampling: { temperature: 0 },
    deadline: undefined,
    messages: [],
    stop: [],
  };
}

function tokensOf(events: readonly ExecuteBatchResponse[]): number {
  let total = 0;
  for (const e of events) if (e.event?.$case === 'result') total += e.event.value.completionTokens;
  return total;
}

const SENTENCES = [
  'The old lighthouse keeper climbed the stairs every evening to light the lamp',
  'Once upon a time in a small village by the sea there lived a fisherman',
  'The best way to learn a new language is to speak it every single day',
  'In the morning the baker lights the oven and shapes the first loaves',
  'A short history of the bicycle begins in Germany in the early nineteenth century',
  'The river runs past the mill, under the stone bridge and into the lake',
  'Water boils at a lower temperature high in the mountains because the air is thin',
  'The train to the coast leaves at seven and stops at every small station',
] as const;

/**
 * Prompts of exactly `promptTokens` tokens (as the agent counts them) that generate `maxTokens`
 * tokens greedily without an end-of-generation token: word prefixes of SENTENCES, probed
 * through the agent in batches of `maxSequences`.
 */
export async function findPrompts(
  client: AgentClient,
  model: string,
  promptTokens: number,
  maxTokens: number,
  maxSequences: number,
): Promise<string[]> {
  const candidates = SENTENCES.flatMap((s) => {
    const words = s.split(' ');
    return Array.from({ length: words.length - 1 }, (_, k) => words.slice(0, k + 2).join(' '));
  });
  const found: string[] = [];
  for (let i = 0; i < candidates.length; i += maxSequences) {
    const chunk = candidates.slice(i, i + maxSequences);
    const events = await collectBatch(
      client.executeBatch({
        batchId: `probe-${process.pid}-${i}`,
        model,
        requests: chunk.map((prompt, j) => greedyRequest(`p${j}`, prompt, maxTokens)),
      }),
    );
    for (const e of events) {
      if (e.event?.$case !== 'result') continue;
      const r = e.event.value;
      const prompt = chunk[Number(r.requestId.slice(1))];
      if (
        prompt !== undefined &&
        r.promptTokens === promptTokens &&
        r.completionTokens === maxTokens
      )
        found.push(prompt);
    }
  }
  if (found.length === 0)
    throw new Error(
      `no probe prompt has ${promptTokens} tokens and generates ${maxTokens} tokens greedily`,
    );
  return found;
}

/** The ggml CPU kernel library a process has mapped (the agent loads it from the prebuilt folder). */
export async function mappedCpuVariant(pid: number): Promise<string | undefined> {
  const maps = await readFile(`/proc/${pid}/maps`, 'utf8').catch(() => '');
  return /\/(libggml-cpu-[\w.-]+\.so)/.exec(maps)?.[1];
}

export async function measureSpeed(setup: SpeedSetup): Promise<SpeedResult> {
  const { client, batchSizes, prompts, generatedTokens } = setup;
  let batchNo = 0;
  const agentRun = async (n: number): Promise<{ tps: number; evaluations: number }> => {
    const start = performance.now();
    const events = await collectBatch(
      client.executeBatch({
        batchId: `speed-${process.pid}-${batchNo++}`,
        model: setup.model,
        requests: Array.from({ length: n }, (_, i) =>
          greedyRequest(`r${i}`, prompts[i % prompts.length] ?? '', generatedTokens),
        ),
      }),
    );
    const seconds = (performance.now() - start) / 1000;
    const tokens = tokensOf(events);
    if (tokens !== n * generatedTokens)
      throw new Error(`agent batch of ${n} generated ${tokens} tokens, not ${n * generatedTokens}`);
    const summary = events.find((e) => e.event?.$case === 'summary');
    const steps = summary?.event?.$case === 'summary' ? summary.event.value.decodeSteps : 0;
    return { tps: tokens / seconds, evaluations: 1 + steps };
  };
  const options = (n: number): BatchedBenchOptions => ({
    model: setup.modelPath,
    threads: setup.threads,
    promptTokens: setup.promptTokens,
    decodeSteps: generatedTokens - 1,
    parallel: [n],
    contextTokens: setup.contextTokens,
    batchTokens: setup.batchTokens,
    flashAttention: setup.flashAttention,
  });
  let llamaCpuVariant: string | undefined;
  const llamaRun = async (n: number): Promise<{ tps: number; decodeTps: number }> => {
    const result = await runBatchedBench(setup.batchedBench, options(n));
    llamaCpuVariant ??= result.cpuVariant;
    const row = result.rows[0];
    if (!row) throw new Error('llama-batched-bench printed no result');
    return { tps: (row.pl * (row.tg + 1)) / row.t, decodeTps: row.speed_tg };
  };

  // Warm-up: page cache, first-evaluation allocations on both sides.
  await agentRun(1);
  await llamaRun(1);
  const cells = new Map<
    number,
    { agent: number[]; llama: number[]; decode: number[]; ratio: number[]; evals: number[] }
  >(batchSizes.map((b) => [b, { agent: [], llama: [], decode: [], ratio: [], evals: [] }]));
  for (let rep = 0; rep < setup.repeats; rep++) {
    for (const n of batchSizes) {
      const cell = cells.get(n);
      if (!cell) continue;
      // Alternate which side goes first so a load change between the two hits both.
      const agentFirst = (rep + n) % 2 === 0;
      let a: { tps: number; evaluations: number } | undefined;
      let l: { tps: number; decodeTps: number } | undefined;
      if (agentFirst) {
        a = await agentRun(n);
        l = await llamaRun(n);
      } else {
        l = await llamaRun(n);
        a = await agentRun(n);
      }
      cell.agent.push(a.tps);
      cell.evals.push(a.evaluations);
      cell.llama.push(l.tps);
      cell.decode.push(l.decodeTps);
      cell.ratio.push(a.tps / l.tps);
      process.stderr.write(
        `runtime bench: batch ${n} rep ${rep + 1}: agent ${a.tps.toFixed(1)} tok/s, llama.cpp ${l.tps.toFixed(1)} tok/s (${(a.tps / l.tps).toFixed(2)})\n`,
      );
    }
  }
  return {
    rows: batchSizes.map((b) => {
      const c = cells.get(b) ?? { agent: [], llama: [], decode: [], ratio: [], evals: [] };
      return {
        batchSize: b,
        agentTokensPerSecond: c.agent,
        llamaTokensPerSecond: c.llama,
        llamaDecodeTokensPerSecond: c.decode,
        ratios: c.ratio,
        agentEvaluations: c.evals,
      };
    }),
    agentCpuVariant: await mappedCpuVariant(setup.agentPid),
    llamaCpuVariant,
  };
}

function spread(values: readonly number[], digits: number): string {
  if (values.length < 2) return median(values).toFixed(digits);
  return `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;
}

/** Markdown: per batch size, both tokens/s (median and range), the ratio, both batching gains. */
export function speedTable(result: SpeedResult): string {
  const agentBase = median(result.rows[0]?.agentTokensPerSecond ?? [Number.NaN]);
  const llamaBase = median(result.rows[0]?.llamaTokensPerSecond ?? [Number.NaN]);
  return markdownTable(
    [
      'sequences',
      'agent tok/s',
      'llama.cpp tok/s',
      'agent / llama.cpp',
      'agent gain',
      'llama.cpp gain',
      'agent evaluations',
    ],
    result.rows.map((r) => [
      String(r.batchSize),
      spread(r.agentTokensPerSecond, 1),
      spread(r.llamaTokensPerSecond, 1),
      spread(r.ratios, 2),
      `${(median(r.agentTokensPerSecond) / agentBase).toFixed(2)}x`,
      `${(median(r.llamaTokensPerSecond) / llamaBase).toFixed(2)}x`,
      String(quantile(r.agentEvaluations, 0.5)),
    ]),
  );
}
