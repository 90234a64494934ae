// The search budget's meter (src/core/scheduler/budget.ts): node limits, the clock read every
// clockCheckInterval nodes, and expired(), which reads the clock at once.
import { describe, expect, it } from '@jest/globals';
import { budgetMeter, SEARCH_BUDGET_DEFAULTS } from '../../../../src/core/scheduler/budget.js';

describe('budgetMeter', () => {
  it('refuses after maxNodes, counting the nodes it started with', () => {
    const meter = budgetMeter({ maxNodes: 5 }, 0, 3);
    expect(meter.take()).toBe(true);
    expect(meter.take()).toBe(true);
    expect(meter.take()).toBe(false);
    expect(meter.nodes).toBe(5);
    expect(meter.spent).toBe(true);
  });

  it('reads the clock only every clockCheckInterval nodes in take()', () => {
    let now = 0;
    let reads = 0;
    const clock = (): number => {
      reads++;
      return now;
    };
    const meter = budgetMeter({ maxSeconds: 1, clock }, 0);
    now = 10; // past the budget, but take() has not looked yet
    for (let i = 0; i < SEARCH_BUDGET_DEFAULTS.clockCheckInterval; i++) {
      expect(meter.take()).toBe(true);
    }
    expect(reads).toBe(0);
    expect(meter.take()).toBe(false);
    expect(reads).toBe(1);
  });

  it('expired() reads the clock at once and stops take() too', () => {
    let now = 0;
    const meter = budgetMeter({ maxSeconds: 1, clock: () => now }, 0);
    expect(meter.expired()).toBe(false);
    now = SEARCH_BUDGET_DEFAULTS.searchShare * 1 - 0.01;
    expect(meter.expired()).toBe(false);
    expect(meter.take()).toBe(true);
    now = SEARCH_BUDGET_DEFAULTS.searchShare * 1;
    expect(meter.expired()).toBe(true);
    expect(meter.spent).toBe(true);
    expect(meter.take()).toBe(false);
  });

  it('never expires without a time budget', () => {
    const meter = budgetMeter({ maxNodes: 10 }, 0);
    expect(meter.expired()).toBe(false);
    expect(meter.take()).toBe(true);
  });
});
