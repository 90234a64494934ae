// Checks shared by the scheduler's property tests: a result's objective key and a from-scratch
// feasibility check of its batch.
import { expect } from '@jest/globals';
import { isEligible } from '../../src/core/model/accuracy.js';
import { fitsSequence } from '../../src/core/model/context.js';
import { CostModel, stateOf } from '../../src/core/model/batch.js';
import type { ScheduleInstance, ScheduleResult } from '../../src/core/scheduler/types.js';

/** (primary, secondary) of the instance's objective: (requests, tokens) or (tokens, requests). */
export function objectiveKey(instance: ScheduleInstance, r: ScheduleResult): [number, number] {
  return instance.options.objective === 'tokens' ? [r.tokens, r.requests] : [r.requests, r.tokens];
}

/** a is lexicographically at most b. */
export function atMost(a: readonly [number, number], b: readonly [number, number]): boolean {
  return a[0] < b[0] || (a[0] === b[0] && a[1] <= b[1]);
}

/** Re-evaluates a result's batch from scratch: every member eligible, memory and latency met. */
export function assertFeasible(instance: ScheduleInstance, result: ScheduleResult): void {
  const cost = new CostModel(instance.node, instance.model, instance.options);
  const byId = new Map(instance.requests.map((d, i) => [d.id, cost.prepare(d, i)]));
  const members = result.batch.map((id) => byId.get(id)).filter((r) => r !== undefined);
  expect(members).toHaveLength(result.batch.length);
  expect(new Set(result.batch).size).toBe(result.batch.length);
  expect(members.length).toBeLessThanOrEqual(instance.maxBatchSize ?? Infinity);
  for (const r of members) {
    expect(
      isEligible(instance.model, instance.bestPerplexity, r.demand.maxPerplexityIncrease),
    ).toBe(true);
    expect(fitsSequence(instance.model, r.demand)).toBe(true);
  }
  if (members.length === 0) return;
  const c = cost.evaluate(stateOf(members), members);
  expect(c.fitsMemory).toBe(true);
  expect(c.totalSeconds).toBeLessThanOrEqual(c.deadlineSeconds);
  expect(result.predicted.totalSeconds).toBeCloseTo(c.totalSeconds, 9);
}
