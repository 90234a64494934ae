// The start-up warm-up (warm-up.ts): its synthetic instances are real decisions (the sweep proves
// a non-empty batch on each, and they are the same for a seed), and it runs the decisions it
// says, each under the budget it is given on the caller's clock.
import { describe, expect, it } from '@jest/globals';
import { schedule } from '../../../../src/core/scheduler/schedule.js';
import { sweep } from '../../../../src/core/scheduler/sweep/index.js';
import { POLICY } from '../../../../src/core/scheduler/types.js';
import {
  WARM_UP_DEFAULTS,
  warmUpInstance,
  warmUpSolvers,
} from '../../../../src/core/scheduler/warm-up.js';

describe('warmUpInstance', () => {
  it('is the same for a seed and different for another', () => {
    expect(warmUpInstance(32, 7, 'static', 'requests')).toEqual(
      warmUpInstance(32, 7, 'static', 'requests'),
    );
    expect(warmUpInstance(32, 8, 'static', 'requests').requests).not.toEqual(
      warmUpInstance(32, 7, 'static', 'requests').requests,
    );
  });

  it.each([
    ['static', 'requests'],
    ['ragged', 'requests'],
    ['static', 'tokens'],
    ['ragged', 'tokens'],
  ] as const)('binds memory or deadlines (%s, %s): the optimum is a proper subset', (p, o) => {
    const instance = warmUpInstance(64, 3, p, o);
    const result = sweep(instance);
    expect(result.optimal).toBe(true);
    expect(result.requests).toBeGreaterThan(1);
    expect(result.requests).toBeLessThan(instance.requests.length);
  });

  it('has one request with a fractional server share (a split plan), the others whole', () => {
    const split = warmUpInstance(64, 3, 'static', 'requests').requests.filter(
      (r) => r.serverComputeFraction !== undefined,
    );
    expect(split).toHaveLength(1);
    expect(split[0]?.serverComputeFraction).toBeGreaterThanOrEqual(0.5);
    expect(split[0]?.serverComputeFraction).toBeLessThan(1);
  });
});

describe('warmUpSolvers', () => {
  it('runs rounds x policies x 2 paddings x 2 objectives decisions and times them on the clock', () => {
    let now = 0;
    const clock = (): number => (now += 0.001);
    const report = warmUpSolvers(clock, {
      policies: [POLICY.sweep, POLICY.dftsp],
      rounds: 2,
      requests: 16,
      maxBatchSize: 4,
    });
    expect(report.decisions).toBe(2 * 2 * 2 * 2);
    // Each decision first plans the splits of 8 of its requests (the split planner warms too).
    expect(report.splitPlans).toBe(8 * report.decisions);
    expect(report.seconds).toBeGreaterThan(0);
  });

  it('starts no round once totalSeconds have passed on the clock', () => {
    let now = 0;
    const clock = (): number => (now += 0.1);
    const report = warmUpSolvers(clock, { rounds: 50, requests: 16, totalSeconds: 0.5 });
    // Each decision reads the clock at least twice (its budget), so a round of 4 takes > 0.5 s.
    expect(report.decisions).toBe(4);
  });

  it('a capped round decides under the cap, as the operator default asks', () => {
    const capped = { ...warmUpInstance(64, 5, 'static', 'requests'), maxBatchSize: 3 };
    expect(schedule(capped, POLICY.sweep).requests).toBe(3);
    expect(WARM_UP_DEFAULTS.policies).toEqual([POLICY.sweep]);
  });
});
