// `edgellm solve` with split plans: requests with `split: auto` and a client profile count only
// their server share of the FLOPs when the node can execute a partial model; otherwise the
// plans are reported and the decision is the same as without them.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MAIN = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
let dir = '';
let count = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgellm-solve-split-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Decision {
  batch: string[];
  predicted: { computeSeconds: number };
  splitPlans?: Record<
    string,
    { accounting: string; serverComputeFraction: number; plan: { feasible: boolean } | null }
  >;
}

function solve(input: unknown): Decision {
  const file = join(dir, `in-${String(count++)}.json`);
  writeFileSync(file, JSON.stringify(input));
  const r = spawnSync(process.execPath, [MAIN, 'solve', '--input', file], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as Decision;
}

function instance(partialModelExecution: boolean | undefined, split: 'auto' | 'server-only') {
  const base = JSON.parse(
    readFileSync(join(process.cwd(), 'examples', 'instance.json'), 'utf8'),
  ) as { node: Record<string, unknown>; requests: Record<string, unknown>[] };
  return {
    ...base,
    node: {
      ...base.node,
      ...(partialModelExecution === undefined ? {} : { partialModelExecution }),
    },
    requests: base.requests.map((r) => ({
      ...r,
      split,
      // a phone-class client: it can take some layers within the budget, not all
      client: { computeFlops: 5e11, uplinkBytesPerSecond: 1.25e7, downlinkBytesPerSecond: 5e7 },
    })),
  };
}

describe('edgellm solve with split plans', () => {
  test('a node that runs partial models counts only the server share', () => {
    const without = solve(instance(true, 'server-only'));
    const capable = solve(instance(true, 'auto'));
    expect(without.splitPlans).toBeUndefined();
    const plans = Object.values(capable.splitPlans ?? {});
    expect(plans.length).toBeGreaterThan(0);
    expect(plans.every((p) => p.accounting === 'server-share')).toBe(true);
    expect(plans.some((p) => p.serverComputeFraction > 0 && p.serverComputeFraction < 1)).toBe(
      true,
    );
    expect(capable.batch.length).toBeGreaterThanOrEqual(without.batch.length);
    expect(capable.predicted.computeSeconds).toBeLessThan(without.predicted.computeSeconds);
  });

  test('by default (no partial-model runtime) the plans are reported but nothing is saved', () => {
    const without = solve(instance(undefined, 'server-only'));
    const incapable = solve(instance(undefined, 'auto'));
    const plans = Object.values(incapable.splitPlans ?? {});
    expect(plans.length).toBeGreaterThan(0);
    expect(plans.every((p) => p.accounting === 'full-model' && p.serverComputeFraction === 1)).toBe(
      true,
    );
    expect(plans.every((p) => p.plan !== null)).toBe(true);
    expect(incapable.batch).toEqual(without.batch);
    expect(incapable.predicted.computeSeconds).toBe(without.predicted.computeSeconds);
  });
});
