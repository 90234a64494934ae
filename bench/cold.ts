// Cold runs: a fresh Node process per sample, so the code under test runs once, unoptimised,
// as in a CLI call or an operator's first rounds. The child is a compiled script under
// dist/bench/cold/ that prints one JSON line with its own measurements.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What every cold script prints: wall and CPU milliseconds of the measured call. */
export interface ColdSample {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly [key: string]: unknown;
}

const coldDir = join(dirname(fileURLToPath(import.meta.url)), 'cold');

/**
 * Runs `dist/bench/cold/<script>.js` with `args` in a fresh process and returns its sample.
 * Throws with the child's stderr when it fails.
 */
export function coldSample(script: string, args: readonly string[]): ColdSample {
  const r = spawnSync(process.execPath, [join(coldDir, `${script}.js`), ...args], {
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    throw new Error(
      `cold run ${script} ${args.join(' ')} failed (${String(r.status)}): ${r.stderr}`,
    );
  }
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as ColdSample;
}

/**
 * The wall time and the calling thread's CPU time of `fn`, in milliseconds, with its result.
 * Thread CPU time (process.threadCpuUsage) leaves out the time the thread was preempted and the
 * work of V8's background threads (compilers, GC helpers), which process.cpuUsage would add.
 */
export function measure<T>(fn: () => T): { result: T; wallMs: number; cpuMs: number } {
  const c0 = process.threadCpuUsage();
  const t0 = performance.now();
  const result = fn();
  const wallMs = performance.now() - t0;
  const c = process.threadCpuUsage(c0);
  return { result, wallMs, cpuMs: (c.user + c.system) / 1000 };
}
