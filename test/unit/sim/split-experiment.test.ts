// The split experiment: deterministic for a seed, consistent summaries, a queue simulation that
// agrees with M/D/1 theory, and waiting times ordered as the service times are (the arrival
// sequence is shared, so with Lindley's recursion these orderings are exact, not statistical).
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '../../../src/core/random.js';
import {
  EXPERIMENT_ALGORITHMS,
  runSplitExperiment,
  simulateQueue,
  SPLIT_EXPERIMENT_DEFAULTS,
  type SplitExperimentConfig,
  type SplitExperimentResult,
} from '../../../src/sim/split-experiment.js';

const config: SplitExperimentConfig = {
  ...SPLIT_EXPERIMENT_DEFAULTS,
  queueing: {
    ...SPLIT_EXPERIMENT_DEFAULTS.queueing,
    arrivals: 3000,
    loadFactors: [0.3, 0.6, 0.9, 1.2, 2],
  },
};
let result: SplitExperimentResult;
let dir = '';

beforeAll(() => {
  result = runSplitExperiment(config, createRng(7), 7);
  dir = mkdtempSync(join(tmpdir(), 'edgellm-split-sim-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('split experiment', () => {
  test('is deterministic for a seed; the seed only moves the queueing numbers', () => {
    expect(runSplitExperiment(config, createRng(7), 7)).toEqual(result);
    const other = runSplitExperiment(config, createRng(8), 8);
    expect(other.types).toEqual(result.types);
    expect(other.queueing.points).not.toEqual(result.queueing.points);
  });

  test('covers the documented mix and never puts more on the server than server-only', () => {
    expect(result.types).toHaveLength(2 * 4 * 3 * 3);
    for (const t of result.types) {
      for (const a of EXPERIMENT_ALGORITHMS) {
        expect(t.serverFlops[a]).toBeLessThanOrEqual(t.serverFlops['server-only'] * (1 + 1e-12));
      }
    }
    const so = result.summary.find((s) => s.algorithm === 'server-only');
    const dp = result.summary.find((s) => s.algorithm === 'dp');
    expect(so?.reductionVsServerOnly).toBe(0);
    expect(dp?.reductionVsServerOnly).toBeCloseTo(
      1 - (dp?.totalServerFlops ?? 0) / (so?.totalServerFlops ?? 1),
      12,
    );
    for (const g of result.perTypeVsOthers) {
      // the exact DP is never worse than a planner that meets the SLA
      expect(g.worse).toBe(0);
      expect(g.maxImprovement).toBeGreaterThanOrEqual(0);
    }
    // long prompts on a slow phone with a tight SLA leave everything on the 7B server
    const stuck = result.types.find(
      (t) =>
        t.model === '7b-like' &&
        t.prompt === 'long' &&
        t.slaSeconds === 2 &&
        t.client === 'phone-cpu',
    );
    expect(stuck?.dpClientUnits).toBe(0);
  });

  test('queue simulation matches M/D/1: mean wait = rho / (2 mu (1 - rho))', () => {
    const n = 200_000;
    const rng = createRng(3);
    const types = new Uint32Array(n);
    const gaps = Float64Array.from({ length: n }, () => -Math.log(1 - rng()));
    for (const rho of [0.3, 0.7]) {
      const r = simulateQueue([1], types, gaps, rho);
      const theory = rho / (2 * (1 - rho));
      expect(Math.abs(r.mean - theory) / theory).toBeLessThan(0.08);
      expect(Math.abs(r.utilization - rho) / rho).toBeLessThan(0.03);
    }
  });

  test('waits rise with the arrival rate and fall with the service times', () => {
    for (const a of EXPERIMENT_ALGORITHMS) {
      const points = result.queueing.points.filter((p) => p.algorithm === a);
      for (let i = 1; i < points.length; i++) {
        expect(points[i]?.meanWaitSeconds ?? 0).toBeGreaterThanOrEqual(
          points[i - 1]?.meanWaitSeconds ?? 0,
        );
      }
    }
    const so = result.queueing.points.filter((p) => p.algorithm === 'server-only');
    const dp = result.queueing.points.filter((p) => p.algorithm === 'dp');
    dp.forEach((p, i) => {
      expect(p.meanWaitSeconds).toBeLessThanOrEqual(so[i]?.meanWaitSeconds ?? 0);
      expect(p.p99WaitSeconds).toBeLessThanOrEqual(so[i]?.p99WaitSeconds ?? 0);
    });
    const cap = (name: string): number =>
      result.queueing.summary.find((q) => q.algorithm === name)?.capacityPerSecond ?? 0;
    expect(cap('dp')).toBeGreaterThan(cap('server-only'));
  });

  test('`edgellm simulate --split` prints the tables and writes JSON and SVG', () => {
    const main = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
    const r = spawnSync(
      process.execPath,
      [main, 'simulate', '--split', '--out', dir, '--seed', '3', '--arrivals', '500'],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('### Server workload');
    expect(r.stdout).toContain('| dp |');
    const json = JSON.parse(readFileSync(join(dir, 'split-experiment.json'), 'utf8')) as {
      seed: number;
      types: unknown[];
    };
    expect(json.seed).toBe(3);
    expect(json.types).toHaveLength(72);
    for (const f of ['split-workload.svg', 'split-queueing.svg']) {
      expect(existsSync(join(dir, f))).toBe(true);
      expect(readFileSync(join(dir, f), 'utf8')).toMatch(/^<svg [^>]*>[\s\S]*<\/svg>\n$/);
    }
    const bad = spawnSync(process.execPath, [main, 'simulate', '--split', '--seed', 'x'], {
      encoding: 'utf8',
    });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('--seed');
  });
});
