// Property tests of the discretised split DP (`dp-steps`, spec/split.md's recurrence) against the
// exhaustive oracle and the baselines, over thousands of random instances. (The planner's `dp`,
// the exact frontier DP, is tested in frontier.property.test.ts.) What exactly holds here:
//  1. DP = oracle over the same rounded-up step costs (exact optimality of the DP).
//  2. The DP plan's real latency <= SLA (rounding up is conservative).
//  3. Real-time oracle <= DP (the oracle may use slack that rounding hides); with integer costs
//     and a step of 1 nothing is rounded, and DP = real-time oracle.
//  4. DP <= every baseline whose plan fits in K rounded steps; with integer costs, DP <= every
//     baseline that meets the SLA in real time. planSplit('dp-steps') never exceeds server-only.
//  5. For a fixed step, DP's workload does not rise as the SLA loosens.
//  6. Halving the step (any step that divides the coarse one) never makes the DP worse. This
//     does NOT hold for an arbitrary finer step (e.g. 1 -> 0.9 can lose a plan), so the test
//     uses power-of-two steps, for which the division is also exact in floating point.
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import {
  budgetSteps,
  DpWorkspace,
  evaluatePlacement,
  placementSteps,
  planSplit,
  solveClientOnly,
  solveExhaustive,
  solvePrefixGreedy,
  solveRatioGreedy,
  solveServerOnly,
  solveSplitDp,
  SPLIT_ALGORITHM,
  type SplitProfile,
} from '../../../../src/core/planner/index.js';
import { integerInstance, realInstance, type Instance } from './instances.js';

const MAX_STEPS = 1_000_000;
const RUNS = 2000;
/** Floating-point slack when comparing sums taken in different orders. */
const REL = 1e-9;

function close(a: number, b: number): boolean {
  if (a === b) return true;
  return Math.abs(a - b) <= REL * Math.max(Math.abs(a), Math.abs(b));
}
function atMost(a: number, b: number): boolean {
  return a <= b || close(a, b);
}

function dp(inst: Instance, stepSeconds = 2 ** inst.stepExponent, sla = inst.slaSeconds) {
  return solveSplitDp(inst.profile, sla, stepSeconds, inst.ends, MAX_STEPS);
}

function workloadOf(profile: SplitProfile, codes: Uint8Array): number {
  return codes.reduce((sum, c, u) => sum + (c === 1 ? (profile.serverWorkload[u] ?? 0) : 0), 0);
}

describe('split DP properties', () => {
  test('DP equals the exhaustive oracle over the same rounded costs (L <= 12)', () => {
    fc.assert(
      fc.property(realInstance(12), (inst) => {
        const step = 2 ** inst.stepExponent;
        const result = dp(inst, step);
        const oracle = solveExhaustive(inst.profile, inst.slaSeconds, inst.ends, step);
        expect(result.codes === null).toBe(oracle.codes === null);
        if (result.codes === null) return;
        expect(close(result.serverWorkload, oracle.serverWorkload)).toBe(true);
        // the placement really has that workload and fits in K steps
        expect(close(workloadOf(inst.profile, result.codes), result.serverWorkload)).toBe(true);
        const steps = placementSteps(inst.profile, result.codes, inst.ends, step, MAX_STEPS);
        expect(steps).toBe(result.stepsUsed);
        expect(steps).toBeLessThanOrEqual(result.budgetSteps);
      }),
      { numRuns: RUNS },
    );
  });

  test('a reused workspace gives the same answers as fresh memory', () => {
    const workspace = new DpWorkspace();
    fc.assert(
      fc.property(realInstance(16), (inst) => {
        const step = 2 ** inst.stepExponent;
        const fresh = dp(inst, step);
        const reused = solveSplitDp(
          inst.profile,
          inst.slaSeconds,
          step,
          inst.ends,
          MAX_STEPS,
          workspace,
        );
        expect(reused).toEqual(fresh);
      }),
      { numRuns: 500 },
    );
  });

  test("the DP plan's undiscretised latency is within the SLA", () => {
    fc.assert(
      fc.property(realInstance(16), (inst) => {
        const result = dp(inst);
        if (result.codes === null) return;
        const latency = evaluatePlacement(inst.profile, result.codes, inst.ends).latency;
        expect(atMost(latency.totalSeconds, inst.slaSeconds)).toBe(true);
        expect(latency.totalSeconds).toBeLessThanOrEqual(
          result.stepsUsed * result.timeStepSeconds * (1 + REL),
        );
      }),
      { numRuns: RUNS },
    );
  });

  test('the real-time oracle is a lower bound; with integer costs it equals the DP', () => {
    fc.assert(
      fc.property(realInstance(10), (inst) => {
        const result = dp(inst);
        const oracle = solveExhaustive(inst.profile, inst.slaSeconds, inst.ends);
        if (result.codes !== null) {
          expect(oracle.codes).not.toBeNull();
          expect(atMost(oracle.serverWorkload, result.serverWorkload)).toBe(true);
        }
      }),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(integerInstance(12), (inst) => {
        const result = dp(inst, 1);
        const oracle = solveExhaustive(inst.profile, inst.slaSeconds, inst.ends);
        expect(result.codes === null).toBe(oracle.codes === null);
        if (result.codes !== null) {
          expect(close(result.serverWorkload, oracle.serverWorkload)).toBe(true);
        }
      }),
      { numRuns: RUNS },
    );
  });

  test('DP is never worse than any baseline that fits', () => {
    const baselines = [solveServerOnly, solveClientOnly, solvePrefixGreedy, solveRatioGreedy];
    fc.assert(
      fc.property(realInstance(16), (inst) => {
        const step = 2 ** inst.stepExponent;
        const result = dp(inst, step);
        const K = budgetSteps(inst.slaSeconds, step);
        for (const solve of baselines) {
          const base = solve(inst.profile, inst.slaSeconds, inst.ends);
          if (!base.feasible) continue;
          if (placementSteps(inst.profile, base.codes, inst.ends, step, K + 1) > K) continue;
          expect(result.codes).not.toBeNull();
          expect(atMost(result.serverWorkload, workloadOf(inst.profile, base.codes))).toBe(true);
        }
        // planSplit's dp-steps (with its server-only fallback) never exceeds server-only
        const plan = planSplit(inst.profile, inst.slaSeconds, {
          ...inst.ends,
          algorithm: SPLIT_ALGORITHM.dpSteps,
          timeStepSeconds: step,
        });
        const serverOnly = solveServerOnly(inst.profile, inst.slaSeconds, inst.ends);
        if (serverOnly.feasible) {
          expect(plan.feasible).toBe(true);
          expect(atMost(plan.serverWorkload, workloadOf(inst.profile, serverOnly.codes))).toBe(
            true,
          );
        }
      }),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(integerInstance(16), (inst) => {
        const result = dp(inst, 1);
        for (const solve of baselines) {
          const base = solve(inst.profile, inst.slaSeconds, inst.ends);
          if (!base.feasible) continue;
          expect(result.codes).not.toBeNull();
          expect(atMost(result.serverWorkload, workloadOf(inst.profile, base.codes))).toBe(true);
        }
      }),
      { numRuns: RUNS },
    );
  });

  test("DP's workload does not rise as the SLA loosens (fixed step)", () => {
    fc.assert(
      fc.property(realInstance(16), fc.double({ min: 0, max: 2, noNaN: true }), (inst, extra) => {
        const step = 2 ** inst.stepExponent;
        const tight = dp(inst, step);
        const loose = dp(inst, step, inst.slaSeconds * (1 + extra) + extra);
        if (tight.codes !== null) expect(loose.codes).not.toBeNull();
        expect(loose.serverWorkload).toBeLessThanOrEqual(tight.serverWorkload);
      }),
      { numRuns: RUNS },
    );
  });

  test('a step that divides the coarse step is never worse', () => {
    fc.assert(
      fc.property(realInstance(16), fc.integer({ min: 1, max: 3 }), (inst, halvings) => {
        const coarse = dp(inst, 2 ** inst.stepExponent);
        const fine = dp(inst, 2 ** (inst.stepExponent - halvings));
        if (coarse.codes !== null) expect(fine.codes).not.toBeNull();
        expect(fine.serverWorkload).toBeLessThanOrEqual(coarse.serverWorkload);
      }),
      { numRuns: RUNS },
    );
  });

  test('planSplit dispatches every algorithm and reports consistent numbers', () => {
    fc.assert(
      fc.property(realInstance(10), (inst) => {
        for (const algorithm of Object.values(SPLIT_ALGORITHM)) {
          const plan = planSplit(inst.profile, inst.slaSeconds, {
            ...inst.ends,
            algorithm,
            ...(algorithm === SPLIT_ALGORITHM.dpSteps
              ? { timeStepSeconds: 2 ** inst.stepExponent }
              : {}),
          });
          expect(plan.placement).not.toBeNull();
          const l = plan.latency;
          expect(
            close(
              l.totalSeconds,
              l.clientComputeSeconds + l.serverComputeSeconds + l.uplinkSeconds + l.downlinkSeconds,
            ),
          ).toBe(true);
          if (plan.feasible) expect(l.totalSeconds).toBeLessThanOrEqual(inst.slaSeconds);
          else expect(plan.decision).toBe('server-only-flagged');
        }
      }),
      { numRuns: 300 },
    );
  });

  test('a time step is refused for every algorithm but dp-steps, saying which one takes it', () => {
    fc.assert(
      fc.property(realInstance(4), (inst) => {
        for (const algorithm of Object.values(SPLIT_ALGORITHM)) {
          const plan = (): unknown =>
            planSplit(inst.profile, inst.slaSeconds, {
              ...inst.ends,
              algorithm,
              timeStepSeconds: 1,
            });
          if (algorithm === SPLIT_ALGORITHM.dpSteps) expect(plan).not.toThrow();
          else expect(plan).toThrow(/timeStepSeconds applies to algorithm dp-steps only/);
        }
      }),
      { numRuns: 20 },
    );
  });
});
