// Property tests of the scheduling core against the exhaustive oracle.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { CostModel, addInto, emptyState, stateOf } from '../../../../src/core/model/batch.js';
import { createRng } from '../../../../src/core/random.js';
import { bruteForce } from '../../../../src/core/scheduler/bruteforce.js';
import { dftsp } from '../../../../src/core/scheduler/dftsp.js';
import { schedule } from '../../../../src/core/scheduler/schedule.js';
import { POLICIES, type ScheduleInstance } from '../../../../src/core/scheduler/types.js';
import { instanceArb, optionsArb, optionsWith } from '../../../support/instances.js';
import { assertFeasible, objectiveKey } from '../../../support/schedule-checks.js';

const RUNS = Number(process.env.EDGELLM_PROPERTY_RUNS ?? 2000);

describe('DFTSP against the brute-force oracle', () => {
  const matchesOracle = (instance: ScheduleInstance): void => {
    const exact = bruteForce(instance);
    const found = dftsp(instance);
    expect(found.optimal).toBe(true);
    expect(objectiveKey(instance, found)).toEqual(objectiveKey(instance, exact));
    expect(exact.nodesEvaluated).toBe(2 ** instance.requests.length);
    assertFeasible(instance, found);
    assertFeasible(instance, exact);
  };

  it('finds a batch as good as brute force (size, then tokens) on every instance', () => {
    fc.assert(fc.property(instanceArb(0, 10, optionsWith(['linear'])), matchesOracle), {
      numRuns: RUNS,
    });
  });

  it('matches brute force with noise-scaled links too', () => {
    fc.assert(fc.property(instanceArb(0, 6, optionsWith(['noise-scaled'])), matchesOracle), {
      numRuns: Math.ceil(RUNS / 4),
    });
  });

  it('returns only feasible batches, for every policy but the oracle (checked above)', () => {
    fc.assert(
      fc.property(instanceArb(0, 12), fc.integer(), (instance, seed) => {
        for (const policy of POLICIES.filter((p) => p !== 'bruteforce')) {
          assertFeasible(instance, schedule(instance, policy, { rng: createRng(seed) }));
        }
      }),
      { numRuns: Math.ceil(RUNS / 4) },
    );
  });

  it('is never beaten by a baseline', () => {
    fc.assert(
      fc.property(instanceArb(0, 14), fc.integer(), (instance, seed) => {
        const best = objectiveKey(instance, dftsp(instance));
        for (const policy of ['fcfs', 'greedy', 'edf', 'random', 'single'] as const) {
          const other = objectiveKey(
            instance,
            schedule(instance, policy, { rng: createRng(seed) }),
          );
          expect(other[0] < best[0] || (other[0] === best[0] && other[1] <= best[1])).toBe(true);
        }
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  });

  it('returns a feasible incumbent with optimal=false when the node budget runs out', () => {
    fc.assert(
      fc.property(instanceArb(8, 16), fc.integer({ min: 1, max: 40 }), (instance, maxNodes) => {
        const unbounded = dftsp(instance);
        const limited = dftsp(instance, { maxNodes });
        assertFeasible(instance, limited);
        if (!limited.optimal) {
          const a = objectiveKey(instance, limited);
          const b = objectiveKey(instance, unbounded);
          expect(a[0] < b[0] || (a[0] === b[0] && a[1] <= b[1])).toBe(true);
        } else {
          expect(objectiveKey(instance, limited)).toEqual(objectiveKey(instance, unbounded));
        }
      }),
      { numRuns: Math.ceil(RUNS / 4) },
    );
  });

  it('stops on a time budget through the injected clock', () => {
    let t = 0;
    const clock = (): number => (t += 1); // every read advances one "second"
    const instance = fc.sample(instanceArb(20, 20), { numRuns: 1, seed: 7 })[0] as ScheduleInstance;
    const result = dftsp(instance, { maxSeconds: 0.5, clock });
    assertFeasible(instance, result);
  });
});

describe('cost model properties', () => {
  it('every constraint is anti-monotone: adding a request never lowers memory or time, never raises the deadline', () => {
    fc.assert(
      fc.property(
        instanceArb(1, 10),
        fc.array(fc.boolean(), { minLength: 10, maxLength: 10 }),
        fc.nat(),
        (instance, mask, pick) => {
          const cost = new CostModel(instance.node, instance.model, instance.options);
          const prepared = instance.requests.map((d, i) => cost.prepare(d, i));
          const base = prepared.filter((_, i) => mask[i]);
          const extra = prepared[pick % prepared.length];
          if (!extra || base.includes(extra)) return;
          const bigger = [...base, extra];
          const a = cost.evaluate(stateOf(base), base);
          const b = cost.evaluate(stateOf(bigger), bigger);
          const tol = (x: number): number => x * (1 + 1e-9) + 1e-12;
          expect(b.memoryBytes).toBeGreaterThanOrEqual(a.memoryBytes);
          expect(tol(b.uplinkSeconds)).toBeGreaterThanOrEqual(a.uplinkSeconds);
          expect(tol(b.computeSeconds)).toBeGreaterThanOrEqual(a.computeSeconds);
          expect(tol(b.downlinkSeconds)).toBeGreaterThanOrEqual(a.downlinkSeconds);
          expect(b.deadlineSeconds).toBeLessThanOrEqual(a.deadlineSeconds);
          if (!a.fitsMemory || !a.meetsDeadline) {
            expect(b.fitsMemory && b.meetsDeadline).toBe(false);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('shares sum to the node bandwidth and finish every user together', () => {
    fc.assert(
      fc.property(instanceArb(1, 12), (instance) => {
        const cost = new CostModel(instance.node, instance.model, instance.options);
        const members = instance.requests.map((d, i) => cost.prepare(d, i));
        const { uplinkHz, downlinkHz } = cost.shares(members);
        const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
        expect(sum(uplinkHz)).toBeCloseTo(instance.node.uplinkBandwidthHz, 3);
        expect(sum(downlinkHz)).toBeCloseTo(instance.node.downlinkBandwidthHz, 3);
        const state = stateOf(members);
        const tUp = cost.uplinkSeconds(state, members);
        members.forEach((r, i) => {
          const x = uplinkHz[i] ?? 0;
          const rate =
            instance.options.communication === 'linear'
              ? x * r.demand.uplinkSpectralEfficiency
              : x *
                Math.log2(
                  1 +
                    ((2 ** r.demand.uplinkSpectralEfficiency - 1) *
                      instance.node.uplinkBandwidthHz) /
                      x,
                );
          const seconds = (r.promptTokens * instance.options.bitsPerToken) / rate;
          expect(seconds).toBeLessThanOrEqual(tUp * (1 + 1e-6));
          expect(seconds).toBeGreaterThanOrEqual(tUp * (1 - 1e-6));
        });
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  });

  it('the O(1) incremental state equals the state built from scratch', () => {
    fc.assert(
      fc.property(instanceArb(1, 12, optionsArb), (instance) => {
        const cost = new CostModel(instance.node, instance.model, instance.options);
        const members = instance.requests.map((d, i) => cost.prepare(d, i));
        let s = emptyState();
        for (const r of members) s = addInto(emptyState(), s, r);
        expect(s).toEqual(stateOf(members));
      }),
      { numRuns: 200 },
    );
  });
});
