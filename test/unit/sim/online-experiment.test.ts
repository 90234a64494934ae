// The online experiment: arrivals as configured, every request accounted for exactly once, a
// light load served in full by every policy, a request too slow even alone missed on arrival,
// deterministic runs, and a summary that agrees with its runs.
import { describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runOnlineSimulation } from '../../../src/cli/online-simulate.js';
import {
  drawArrivals,
  ONLINE_POLICIES,
  runOnline,
  type OnlinePolicy,
} from '../../../src/sim/online-experiment.js';
import { ONLINE_SCENARIOS, type OnlineScenario } from '../../../src/sim/online-scenarios.js';
import { runOnlineFamily } from '../../../src/sim/online-summary.js';

const named = (name: string): OnlineScenario => {
  const s = ONLINE_SCENARIOS.find((x) => x.name === name);
  if (!s) throw new Error(`no scenario ${name}`);
  return s;
};
const policy = (label: string): OnlinePolicy => {
  const p = ONLINE_POLICIES.find((x) => x.label === label);
  if (!p) throw new Error(`no policy ${label}`);
  return p;
};
const short = (s: OnlineScenario): OnlineScenario => ({ ...s, durationSeconds: 4 });

describe('online scenarios', () => {
  test('names are unique and every scenario says what it stresses', () => {
    const names = ONLINE_SCENARIOS.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    for (const s of ONLINE_SCENARIOS) expect(s.stresses.length).toBeGreaterThan(20);
  });

  test('arrivals: Poisson count near rate x duration, bursts add their size at each period', () => {
    const s: OnlineScenario = { ...named('chat-steady'), ratePerSecond: 50, durationSeconds: 40 };
    const counts = [1, 2, 3, 4, 5].map((seed) => drawArrivals(s, seed).length);
    const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
    // 2000 expected per seed, sd 45: the mean of 5 stays within 5%.
    expect(Math.abs(mean - 2000)).toBeLessThan(100);
    const bursty: OnlineScenario = {
      ...s,
      ratePerSecond: 1e-9,
      bursts: { everySeconds: 5, size: 7 },
    };
    const a = drawArrivals(bursty, 1);
    expect(a).toHaveLength(7 * 7);
    expect(new Set(a.map((x) => x.arrivalSeconds))).toEqual(new Set([5, 10, 15, 20, 25, 30, 35]));
    const times = drawArrivals(s, 3).map((x) => x.arrivalSeconds);
    expect(times).toEqual([...times].sort((x, y) => x - y));
  });

  test('every arrival is met or missed exactly once, per class and per budget quartile', () => {
    for (const s of ONLINE_SCENARIOS.map(short)) {
      for (const label of ['dftsp', 'fcfs', 'edf', 'dftsp-h1']) {
        const r = runOnline(s, policy(label), 3);
        expect(r.met + r.misses.expired + r.misses.infeasibleOnArrival).toBe(r.arrived);
        const classes = Object.values(r.byClass);
        expect(classes.reduce((n, c) => n + c.arrived, 0)).toBe(r.arrived);
        expect(classes.reduce((n, c) => n + c.met, 0)).toBe(r.met);
        expect(r.metByBudgetQuartile.reduce((a, b) => a + b, 0)).toBe(r.met);
        expect(r.arrivedByBudgetQuartile.reduce((a, b) => a + b, 0)).toBe(r.arrived);
        expect(r.slaAttainment).toBeCloseTo(r.met / r.arrived, 12);
      }
    }
  });

  test('a light load with generous deadlines is served in full by every policy', () => {
    const s: OnlineScenario = {
      ...named('chat-steady'),
      ratePerSecond: 0.5,
      durationSeconds: 20,
      classes: [
        {
          name: 'easy',
          weight: 1,
          promptTokens: [64, 128],
          maxTokens: [16, 32],
          latencyBudgetSeconds: [30, 60],
        },
      ],
    };
    for (const p of ONLINE_POLICIES) {
      const r = runOnline(s, p, 1);
      expect(r.arrived).toBeGreaterThan(0);
      expect(r.slaAttainment).toBe(1);
    }
  });

  test('a request too slow even alone is missed on arrival, not served', () => {
    const s: OnlineScenario = {
      ...named('chat-steady'),
      ratePerSecond: 1,
      classes: [
        {
          name: 'impossible',
          weight: 1,
          promptTokens: [1000, 1000],
          maxTokens: [500, 500],
          latencyBudgetSeconds: [0.01, 0.02],
        },
      ],
    };
    const r = runOnline(s, policy('dftsp'), 1);
    expect(r.met).toBe(0);
    expect(r.misses.infeasibleOnArrival).toBe(r.arrived);
  });

  test('deterministic for a seed; every policy sees the same arrivals', () => {
    const s = short(named('mixed-deadlines'));
    expect(runOnline(s, policy('dftsp'), 9)).toEqual(runOnline(s, policy('dftsp'), 9));
    const arrived = ONLINE_POLICIES.map((p) => runOnline(s, p, 9).arrived);
    expect(new Set(arrived).size).toBe(1);
  });

  test('the summary is the median and range of its runs', () => {
    const scenarios = [short(named('bursts'))];
    const e = runOnlineFamily(scenarios, [policy('dftsp'), policy('edf')], [1, 2, 3]);
    for (const row of e.summary) {
      const mine = e.runs.filter((r) => r.policy === row.policy).map((r) => r.slaAttainment);
      expect(row.seeds).toBe(3);
      expect(row.slaAttainment.median).toBe([...mine].sort((a, b) => a - b)[1]);
      expect(row.slaAttainment.min).toBe(Math.min(...mine));
      expect(row.slaAttainment.max).toBe(Math.max(...mine));
    }
    const behind = e.summary.reduce((n, r) => n + r.behindBestOther, 0);
    const ties = [1, 2, 3].filter((seed) => {
      const [a, b] = e.runs.filter((r) => r.seed === seed).map((r) => r.slaAttainment);
      return a === b;
    }).length;
    expect(behind).toBe(3 - ties);
  });

  test('the command writes online.json and prints one table per scenario; unknown names fail', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgellm-online-'));
    try {
      let printed = '';
      await runOnlineSimulation(
        { out: dir, seed: 1, seeds: 1, scenarios: ['memory-tight'] },
        (t) => (printed += t),
      );
      expect(printed).toContain('**memory-tight**');
      expect(printed).not.toContain('**bursts**');
      const json = JSON.parse(readFileSync(join(dir, 'online.json'), 'utf8')) as {
        summary: unknown[];
      };
      expect(json.summary).toHaveLength(ONLINE_POLICIES.length);
      await expect(
        runOnlineSimulation({ out: dir, seed: 1, seeds: 1, scenarios: ['nope'] }, () => undefined),
      ).rejects.toThrow(/unknown scenario nope/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
