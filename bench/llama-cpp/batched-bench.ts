// llama.cpp's own `llama-batched-bench` as a reference for the runtime bench: built by
// bench/llama-cpp/build.sh from the llama.cpp source node-llama-cpp ships, linked to the same
// prebuilt libllama/libggml the agent loads, and run from the prebuilt folder so ggml picks the
// same CPU kernel library (libggml-cpu-<variant>.so) the agent's addon picks there.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../src/runtime/models/catalog.js';

const run = promisify(execFile);

/** The prebuilt node-llama-cpp folder of this platform (the libraries and CPU variants). */
export function prebuiltFolder(root = repoRoot()): string {
  const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
  const platform = `${process.platform}-${arch}`;
  return join(root, 'node_modules', '@node-llama-cpp', platform, 'bins', platform);
}

/** Builds llama-batched-bench unless cached (.cache/llama-batched-bench/) and returns its path. */
export async function buildBatchedBench(root = repoRoot()): Promise<string> {
  try {
    const { stdout } = await run(join(root, 'bench', 'llama-cpp', 'build.sh'), [], {
      cwd: root,
      maxBuffer: 16 << 20,
    });
    return stdout.trim().split('\n').at(-1) ?? '';
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(
      `could not build llama.cpp's llama-batched-bench (bench/llama-cpp/build.sh; needs cmake, a C++17 compiler and git): ${stderr.trim().split('\n').slice(-5).join(' | ') || String(error)}`,
      { cause: error },
    );
  }
}

export interface BatchedBenchOptions {
  readonly model: string;
  readonly threads: number;
  /** Prompt tokens per sequence (random tokens, as llama-batched-bench generates them). */
  readonly promptTokens: number;
  /** Decode steps after the prompt evaluation (-ntg). */
  readonly decodeSteps: number;
  /** Parallel sequences (-npl). */
  readonly parallel: readonly number[];
  /** KV cache cells in all (-c); each sequence gets contextTokens / max(parallel). */
  readonly contextTokens: number;
  /** Logical and physical batch size (-b, -ub). */
  readonly batchTokens: number;
  /** -fa: node-llama-cpp's context default is `auto` too. */
  readonly flashAttention: 'on' | 'off' | 'auto';
}

/** One result line of `llama-batched-bench --output-format jsonl` (times in seconds). */
export interface BatchedBenchRow {
  readonly pl: number;
  readonly pp: number;
  readonly tg: number;
  readonly t_pp: number;
  readonly t_tg: number;
  readonly t: number;
  readonly speed_tg: number;
}

export interface BatchedBenchRun {
  readonly rows: readonly BatchedBenchRow[];
  /** The CPU kernel library ggml loaded (from LD_DEBUG), e.g. libggml-cpu-zen4.so. */
  readonly cpuVariant: string | undefined;
}

/** The last libggml-cpu-* library the dynamic loader initialised (ggml probes all, then loads the best). */
export function loadedCpuVariant(ldDebug: string): string | undefined {
  let last: string | undefined;
  for (const m of ldDebug.matchAll(/calling init: \S*\/(libggml-cpu-[\w.-]+\.so)/g)) last = m[1];
  return last;
}

/** Runs llama-batched-bench once; rejects with its output when it fails. */
export async function runBatchedBench(
  binary: string,
  options: BatchedBenchOptions,
): Promise<BatchedBenchRun> {
  const args = [
    '-m',
    options.model,
    '-c',
    String(options.contextTokens),
    '-b',
    String(options.batchTokens),
    '-ub',
    String(options.batchTokens),
    '-npp',
    String(options.promptTokens),
    '-ntg',
    String(options.decodeSteps),
    '-npl',
    options.parallel.join(','),
    '-t',
    String(options.threads),
    '-tb',
    String(options.threads),
    '-fa',
    options.flashAttention,
    '--output-format',
    'jsonl',
  ];
  const { stdout, stderr } = await run(binary, args, {
    cwd: prebuiltFolder(),
    env: { ...process.env, LD_DEBUG: 'files' },
    maxBuffer: 64 << 20,
  });
  const rows = stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as BatchedBenchRow);
  if (rows.length !== options.parallel.length) {
    throw new Error(
      `llama-batched-bench printed ${rows.length} results for ${options.parallel.length} batch sizes: ${stdout.slice(-500)}`,
    );
  }
  return { rows, cpuVariant: loadedCpuVariant(stderr) };
}
