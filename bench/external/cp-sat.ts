// Solves single-node batch instances with OR-tools CP-SAT (bench/external/batch_model.py) in the
// pinned virtual environment of bench/external/requirements.txt (made once under .cache/python/
// by test/support/python-venv.ts): one Python process for a whole list of instances.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { z } from 'zod';
import { repoRoot } from '../../src/runtime/models/catalog.js';
import { pythonWith } from '../../test/support/python-venv.js';
import type { ExternalInstance } from './instance.js';

export const REQUIREMENTS = 'bench/external/requirements.txt';
const MODEL_SCRIPT = join('bench', 'external', 'batch_model.py');

/** OPTIMAL: proven within the limit; FEASIBLE: the limit hit with a batch; TIMEOUT: none. */
export const EXTERNAL_STATUS = {
  optimal: 'OPTIMAL',
  feasible: 'FEASIBLE',
  timeout: 'TIMEOUT',
} as const;

const resultSchema = z.object({
  name: z.string(),
  status: z.enum([EXTERNAL_STATUS.optimal, EXTERNAL_STATUS.feasible, EXTERNAL_STATUS.timeout]),
  batch: z.array(z.string()),
  requests: z.number().int().nonnegative(),
  tokens: z.number().int().nonnegative(),
  /** CP-SAT's own wall time for the solve. */
  solveSeconds: z.number().nonnegative(),
  /** Building the model in Python, before the solve. */
  buildSeconds: z.number().nonnegative(),
});
export type ExternalResult = z.output<typeof resultSchema>;

export interface CpSatOptions {
  /** Per instance. */
  readonly timeLimitSeconds: number;
  /** CP-SAT search workers (its portfolio runs one strategy per worker). */
  readonly workers: number;
}

export class ExternalSolverError extends Error {
  override name = 'ExternalSolverError';
}

/** CP-SAT's answer for each instance, in order. */
export async function solveWithCpSat(
  instances: readonly ExternalInstance[],
  options: CpSatOptions,
): Promise<ExternalResult[]> {
  if (instances.length === 0) return [];
  const python = await pythonWith(REQUIREMENTS);
  const input = JSON.stringify({ ...options, instances });
  // Generous: the limit per instance, plus model building and Python's start.
  const timeoutMs = 30_000 + instances.length * (options.timeLimitSeconds + 5) * 1000;
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = spawn(python, [MODEL_SCRIPT], {
      cwd: repoRoot(),
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: timeoutMs,
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve(out);
      else
        reject(
          new ExternalSolverError(
            `${MODEL_SCRIPT} ended with ${signal ?? `exit code ${String(code)}`}: ${err.trim() || 'no message'}`,
          ),
        );
    });
    child.stdin.end(input);
  });
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  const results = lines.map((line, i) => {
    const parsed = resultSchema.safeParse(JSON.parse(line));
    if (!parsed.success)
      throw new ExternalSolverError(`${MODEL_SCRIPT} line ${i + 1}: ${parsed.error.message}`);
    return parsed.data;
  });
  if (results.length !== instances.length || results.some((r, i) => r.name !== instances[i]?.name))
    throw new ExternalSolverError(
      `${MODEL_SCRIPT} answered ${results.length} instances for ${instances.length}, or out of order`,
    );
  return results;
}
