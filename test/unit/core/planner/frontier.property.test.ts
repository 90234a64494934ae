// Property tests of the exact split DP (frontier.ts) against exhaustive search over all 2^U
// placements with real (undiscretised) latency, up to 16 units: random per-unit costs, SLAs from
// "nothing fits" to "everything fits", SLAs within 0.01% of the optimum's latency (and exactly
// equal to it), and profiles built from model shapes as the scheduler builds them.
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import {
  buildSplitProfile,
  evaluatePlacement,
  FrontierWorkspace,
  LOC_SERVER,
  OUTPUT_AT,
  planSplit,
  solveClientOnly,
  solveExhaustive,
  solvePrefixGreedy,
  solveRatioGreedy,
  solveServerOnly,
  solveSplitExact,
  SPLIT_ALGORITHM,
  type Endpoints,
  type OutputAt,
  type SplitProfile,
} from '../../../../src/core/planner/index.js';
import { realInstance } from './instances.js';

/** The oracle's answer and the DP's must agree exactly: same workload, same latency. */
function expectSameOptimum(profile: SplitProfile, sla: number, ends: Endpoints): void {
  const oracle = solveExhaustive(profile, sla, ends);
  const exact = solveSplitExact(profile, sla, ends);
  expect(exact.codes === null).toBe(oracle.codes === null);
  if (exact.codes === null || oracle.codes === null) return;
  const mine = evaluatePlacement(profile, exact.codes, ends);
  const theirs = evaluatePlacement(profile, oracle.codes, ends);
  expect(exact.serverWorkload).toBe(oracle.serverWorkload);
  expect(mine.serverWorkload).toBe(exact.serverWorkload);
  expect(mine.latency.totalSeconds).toBe(exact.latencySeconds);
  // ties on workload go to the lower latency, as in the oracle
  expect(mine.latency.totalSeconds).toBe(theirs.latency.totalSeconds);
  // the plan's real latency never exceeds the SLA
  expect(mine.latency.totalSeconds).toBeLessThanOrEqual(sla);
}

/** A 6-16 layer model on a client and a server, as the scheduler's wiring builds it. */
const shapedInstance = fc
  .record({
    layers: fc.integer({ min: 6, max: 16 }),
    hiddenSize: fc.constantFrom(768, 2048, 4096),
    ffnFactor: fc.constantFrom(2.6875, 4),
    promptTokens: fc.integer({ min: 16, max: 2048 }),
    outputTokens: fc.integer({ min: 1, max: 256 }),
    clientFlops: fc.double({ min: 1e10, max: 1e13, noNaN: true }),
    serverFlops: fc.double({ min: 1e13, max: 2e14, noNaN: true }),
    uplink: fc.double({ min: 1e5, max: 1e9, noNaN: true }),
    downlink: fc.double({ min: 1e5, max: 1e9, noNaN: true }),
    linkLatency: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.01, noNaN: true })),
    sublayer: fc.boolean(),
    slaFactor: fc.double({ min: 1.2, max: 40, noNaN: true }),
    inputAtClient: fc.boolean(),
    outputAt: fc.constantFrom<OutputAt>(OUTPUT_AT.client, OUTPUT_AT.server, OUTPUT_AT.anywhere),
  })
  .filter((r) => r.layers * (r.sublayer ? 2 : 1) <= 16)
  .map((r) => {
    const profile = buildSplitProfile({
      model: {
        layers: r.layers,
        hiddenSize: r.hiddenSize,
        ffnSize: Math.round(r.hiddenSize * r.ffnFactor),
        bytesPerElement: 2,
      },
      request: { promptTokens: r.promptTokens, outputTokens: r.outputTokens },
      client: {
        computeFlops: r.clientFlops,
        uplinkBytesPerSecond: r.uplink,
        downlinkBytesPerSecond: r.downlink,
        linkLatencySeconds: r.linkLatency,
      },
      server: { computeFlops: r.serverFlops },
      granularity: r.sublayer ? 'sublayer' : 'layer',
    });
    const ends: Endpoints = { inputAtClient: r.inputAtClient, outputAt: r.outputAt };
    const units = profile.clientSeconds.length;
    const serverOnly = evaluatePlacement(profile, new Uint8Array(units).fill(LOC_SERVER), ends);
    return { profile, ends, sla: serverOnly.latency.totalSeconds * r.slaFactor };
  });

/** SLA at the optimum's latency times 1 + delta, delta in [0, 1e-4] (0 included). */
const tightDelta = fc.oneof(
  { weight: 1, arbitrary: fc.constant(0) },
  { weight: 3, arbitrary: fc.double({ min: 0, max: 1e-4, noNaN: true }) },
);

function tighten(profile: SplitProfile, sla: number, ends: Endpoints, delta: number): number {
  const oracle = solveExhaustive(profile, sla, ends);
  if (oracle.codes === null) return sla;
  return evaluatePlacement(profile, oracle.codes, ends).latency.totalSeconds * (1 + delta);
}

describe('exact split DP', () => {
  test('equals exhaustive search, random per-unit costs, up to 16 units', () => {
    fc.assert(
      fc.property(realInstance(16), (inst) => {
        expectSameOptimum(inst.profile, inst.slaSeconds, inst.ends);
      }),
      { numRuns: 400 },
    );
  });

  test('equals exhaustive search with the SLA within 0.01% of the optimum latency', () => {
    fc.assert(
      fc.property(realInstance(16), tightDelta, (inst, delta) => {
        const sla = tighten(inst.profile, inst.slaSeconds, inst.ends, delta);
        expectSameOptimum(inst.profile, sla, inst.ends);
      }),
      { numRuns: 400 },
    );
  });

  test('equals exhaustive search on model-shaped profiles (6-16 layers, SLA 1.2x-40x server-only)', () => {
    fc.assert(
      fc.property(shapedInstance, tightDelta, fc.boolean(), (inst, delta, tight) => {
        const sla = tight ? tighten(inst.profile, inst.sla, inst.ends, delta) : inst.sla;
        expectSameOptimum(inst.profile, sla, inst.ends);
      }),
      { numRuns: 300 },
    );
  });

  test('is never worse than dp-steps or any baseline that meets the SLA', () => {
    const baselines = [solveServerOnly, solveClientOnly, solvePrefixGreedy, solveRatioGreedy];
    fc.assert(
      fc.property(shapedInstance, (inst) => {
        const exact = planSplit(inst.profile, inst.sla, inst.ends);
        const steps = planSplit(inst.profile, inst.sla, {
          ...inst.ends,
          algorithm: SPLIT_ALGORITHM.dpSteps,
        });
        if (steps.feasible) {
          expect(exact.feasible).toBe(true);
          expect(exact.serverWorkload).toBeLessThanOrEqual(steps.serverWorkload);
        }
        for (const solve of baselines) {
          const base = solve(inst.profile, inst.sla, inst.ends);
          if (!base.feasible) continue;
          const workload = evaluatePlacement(inst.profile, base.codes, inst.ends).serverWorkload;
          expect(exact.feasible).toBe(true);
          expect(exact.serverWorkload).toBeLessThanOrEqual(workload);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('workload does not rise as the SLA loosens', () => {
    fc.assert(
      fc.property(realInstance(16), fc.double({ min: 0, max: 2, noNaN: true }), (inst, extra) => {
        const tight = solveSplitExact(inst.profile, inst.slaSeconds, inst.ends);
        const loose = solveSplitExact(inst.profile, inst.slaSeconds * (1 + extra), inst.ends);
        if (tight.codes !== null) expect(loose.codes).not.toBeNull();
        expect(loose.serverWorkload).toBeLessThanOrEqual(tight.serverWorkload);
      }),
      { numRuns: 500 },
    );
  });

  test('a reused workspace gives the same answers as fresh memory', () => {
    const workspace = new FrontierWorkspace();
    fc.assert(
      fc.property(realInstance(16), (inst) => {
        const fresh = solveSplitExact(inst.profile, inst.slaSeconds, inst.ends);
        const reused = solveSplitExact(inst.profile, inst.slaSeconds, inst.ends, workspace);
        expect(reused).toEqual(fresh);
      }),
      { numRuns: 300 },
    );
  });

  test('frontiers stay small when every layer carries the same workload (at most L + 1)', () => {
    fc.assert(
      fc.property(shapedInstance, (inst) => {
        if (new Set(inst.profile.serverWorkload).size !== 1) return; // attention/FFN units
        const result = solveSplitExact(inst.profile, inst.sla, inst.ends);
        expect(result.peakFrontier).toBeLessThanOrEqual(inst.profile.clientSeconds.length + 1);
      }),
      { numRuns: 300 },
    );
  });
});
