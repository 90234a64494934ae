// The split plan's hook into the scheduler's cost model: the server share of a split request's
// FLOPs is what the compute term counts, unless the node cannot run a partial model; and the
// cost model stays anti-monotone with split requests in the batch.
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { CostModel, stateOf } from '../../../../src/core/model/batch.js';
import {
  COST_DEFAULTS,
  type ModelVariant,
  type NodeResources,
  type RequestDemand,
} from '../../../../src/core/model/types.js';
import { applySplitPlan, SPLIT_ACCOUNTING } from '../../../../src/core/scheduler/split.js';
import { llama7b } from '../../../support/models.js';

const model: ModelVariant = llama7b();
const node: NodeResources = {
  memoryBytes: 80e9,
  computeFlops: 2e14,
  utilization: 0.5,
  uplinkBandwidthHz: 2e7,
  downlinkBandwidthHz: 2e7,
};
const demand: RequestDemand = {
  id: 'a',
  promptTokens: 512,
  maxTokens: 32,
  latencyBudgetSeconds: 0.5,
  maxPerplexityIncrease: 1,
  uplinkSpectralEfficiency: 4,
  downlinkSpectralEfficiency: 4,
};
const laptop = {
  computeFlops: 5e12,
  uplinkBytesPerSecond: 1.25e8,
  downlinkBytesPerSecond: 1.25e8,
};

function computeSeconds(d: RequestDemand): number {
  const cost = new CostModel(node, model, COST_DEFAULTS);
  return cost.computeSeconds(stateOf([cost.prepare(d, 0)]));
}

describe('split wiring into the cost model', () => {
  test('split: auto with a client profile counts only the server share', () => {
    const a = applySplitPlan(
      demand,
      model,
      node,
      { split: 'auto', client: laptop },
      {
        partialModelExecution: true,
      },
    );
    expect(a.accounting).toBe(SPLIT_ACCOUNTING.serverShare);
    expect(a.plan?.feasible).toBe(true);
    const fraction = a.demand.serverComputeFraction ?? 1;
    expect(fraction).toBeGreaterThan(0);
    expect(fraction).toBeLessThan(1);
    expect(fraction).toBeCloseTo(
      (a.plan?.serverFlops ?? 0) / ((a.plan?.serverFlops ?? 0) + (a.plan?.clientFlops ?? 0)),
      12,
    );
    expect(computeSeconds(a.demand)).toBeCloseTo(fraction * computeSeconds(demand), 9);
  });

  test('a node that cannot run a partial model gets the plan reported but the full model counted', () => {
    const a = applySplitPlan(
      demand,
      model,
      node,
      { split: 'auto', client: laptop },
      {
        partialModelExecution: false,
      },
    );
    expect(a.accounting).toBe(SPLIT_ACCOUNTING.fullModel);
    expect(a.plan?.clientFlops).toBeGreaterThan(0);
    expect(a.demand.serverComputeFraction).toBe(1);
    expect(a.reason).toMatch(/cannot execute a partial model/);
    expect(computeSeconds(a.demand)).toBe(computeSeconds(demand));
  });

  test('server-only requests and requests without a client profile are not planned', () => {
    for (const context of [{ split: 'server-only', client: laptop }, { split: 'auto' }] as const) {
      const a = applySplitPlan(demand, model, node, context, { partialModelExecution: true });
      expect(a.plan).toBeNull();
      expect(a.demand.serverComputeFraction).toBe(1);
    }
  });

  test('adding a split request never lowers the batch cost (anti-monotonicity kept)', () => {
    const request = fc.record({
      promptTokens: fc.integer({ min: 1, max: 4096 }),
      maxTokens: fc.integer({ min: 1, max: 512 }),
      latencyBudgetSeconds: fc.double({ min: 0.05, max: 60, noNaN: true }),
      clientFlops: fc.double({ min: 1e10, max: 1e13, noNaN: true }),
      rate: fc.double({ min: 1e5, max: 1e9, noNaN: true }),
      auto: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(request, { minLength: 1, maxLength: 6 }), request, (batch, extra) => {
        const cost = new CostModel(node, model, COST_DEFAULTS);
        const prepared = [...batch, extra].map((r, i) =>
          cost.prepare(
            applySplitPlan(
              { ...demand, id: String(i), ...r },
              model,
              node,
              {
                split: r.auto ? 'auto' : 'server-only',
                client: {
                  computeFlops: r.clientFlops,
                  uplinkBytesPerSecond: r.rate,
                  downlinkBytesPerSecond: r.rate,
                },
              },
              { partialModelExecution: true },
            ).demand,
            i,
          ),
        );
        const before = cost.evaluate(stateOf(prepared.slice(0, -1)));
        const after = cost.evaluate(stateOf(prepared));
        expect(after.computeSeconds).toBeGreaterThanOrEqual(before.computeSeconds);
        expect(after.memoryBytes).toBeGreaterThanOrEqual(before.memoryBytes);
        expect(after.totalSeconds).toBeGreaterThanOrEqual(before.totalSeconds);
        expect(after.deadlineSeconds).toBeLessThanOrEqual(before.deadlineSeconds);
      }),
      { numRuns: 300 },
    );
  });
});
