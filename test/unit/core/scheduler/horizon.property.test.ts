// The urgency horizon against an exhaustive oracle: on the capped instance DFTSP finds the best
// batch (size, then tokens) among every batch of the original instance that meets its members'
// deadlines and also ends within the horizon; and GAH with the option never starts a longer batch.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { isEligible } from '../../../../src/core/model/accuracy.js';
import { CostModel, stateOf } from '../../../../src/core/model/batch.js';
import { fitsSequence } from '../../../../src/core/model/context.js';
import { COST_DEFAULTS } from '../../../../src/core/model/types.js';
import { dftsp } from '../../../../src/core/scheduler/dftsp.js';
import { assignAcrossNodes, type ClusterRequest } from '../../../../src/core/scheduler/gah.js';
import { capAtUrgencyHorizon } from '../../../../src/core/scheduler/horizon.js';
import type { ScheduleInstance } from '../../../../src/core/scheduler/types.js';
import { instanceArb, optionsWith } from '../../../support/instances.js';
import { llama7b } from '../../../support/models.js';

const RUNS = Number(process.env.EDGELLM_PROPERTY_RUNS ?? 1000);

/** Best (objective key) over all subsets of the original instance that end within `horizon`. */
function oracle(instance: ScheduleInstance, horizon: number): [number, number] {
  const cost = new CostModel(instance.node, instance.model, instance.options);
  const usable = instance.requests
    .map((d, i) => ({ d, r: cost.prepare(d, i) }))
    .filter(
      ({ d }) =>
        isEligible(instance.model, instance.bestPerplexity, d.maxPerplexityIncrease) &&
        fitsSequence(instance.model, d),
    );
  let best: [number, number] = [0, 0];
  for (let mask = 1; mask < 1 << usable.length; mask++) {
    const members = usable.filter((_, i) => (mask >> i) & 1).map((u) => u.r);
    if (members.length > (instance.maxBatchSize ?? Infinity)) continue;
    const c = cost.evaluate(stateOf(members), members);
    if (!c.fitsMemory || c.totalSeconds > c.deadlineSeconds || c.totalSeconds > horizon) continue;
    const requests = members.length;
    const tokens = members.reduce((s, r) => s + r.outputTokens, 0);
    const key: [number, number] =
      instance.options.objective === 'tokens' ? [tokens, requests] : [requests, tokens];
    if (key[0] > best[0] || (key[0] === best[0] && key[1] > best[1])) best = key;
  }
  return best;
}

describe('urgency horizon', () => {
  it('caps budgets above factor x the smallest and leaves the others alone', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0.01, max: 100, noNaN: true }), { maxLength: 20 }),
        fc.constantFrom(0.5, 1, 2, Infinity),
        (budgets, factor) => {
          const requests = budgets.map((b, i) => ({
            ...llamaRequest(`r${i}`),
            latencyBudgetSeconds: b,
          }));
          const capped = capAtUrgencyHorizon(requests, factor);
          const horizon = factor * Math.min(...budgets);
          capped.forEach((r, i) => {
            expect(r.id).toBe(requests[i]?.id);
            expect(r.latencyBudgetSeconds).toBe(Math.min(budgets[i] ?? 0, horizon));
          });
        },
      ),
    );
    expect(() => capAtUrgencyHorizon([], 0)).toThrow(RangeError);
  });

  it('DFTSP on the capped instance is the best batch that ends within the horizon (oracle)', () => {
    fc.assert(
      fc.property(
        instanceArb(0, 8, optionsWith(['linear'])),
        fc.constantFrom(0.5, 1, 2, 4),
        (instance, factor) => {
          const capped = { ...instance, requests: capAtUrgencyHorizon(instance.requests, factor) };
          const horizon =
            factor * Math.min(...instance.requests.map((r) => r.latencyBudgetSeconds));
          const found = dftsp(capped);
          expect(found.optimal).toBe(true);
          const key =
            instance.options.objective === 'tokens'
              ? [found.tokens, found.requests]
              : [found.requests, found.tokens];
          expect(key).toEqual(oracle(instance, horizon));
          if (found.requests > 0)
            expect(found.predicted.totalSeconds).toBeLessThanOrEqual(horizon * (1 + 1e-12));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('GAH with a horizon starts no batch longer than it; without one, a longer batch', () => {
    const model = llama7b('F16', 16, 5.68);
    const node = {
      name: 'n',
      resources: {
        memoryBytes: 80e9,
        computeFlops: 100e12,
        utilization: 0.5,
        uplinkBandwidthHz: 10e6,
        downlinkBandwidthHz: 10e6,
      },
      variants: [model],
      options: COST_DEFAULTS,
    };
    // One urgent request and many relaxed long ones (each over 0.3 s alone): the largest batch
    // takes the relaxed ones and runs past the urgent one's budget.
    const requests: ClusterRequest[] = [
      { ...llamaRequest('urgent'), promptTokens: 32, maxTokens: 16, latencyBudgetSeconds: 0.3 },
      ...Array.from({ length: 12 }, (_, i) => ({
        ...llamaRequest(`relaxed${i}`),
        promptTokens: 2048,
        maxTokens: 512,
        latencyBudgetSeconds: 30,
      })),
    ];
    const plain = assignAcrossNodes([node], requests);
    const capped = assignAcrossNodes([node], requests, { urgencyHorizon: 1 });
    const seconds = (d: typeof plain): number =>
      d.assignments[0]?.result.predicted.totalSeconds ?? 0;
    expect(seconds(plain)).toBeGreaterThan(0.3);
    expect(plain.assignments[0]?.result.batch).not.toContain('urgent');
    expect(seconds(capped)).toBeLessThanOrEqual(0.3);
    expect(capped.assignments[0]?.result.batch).toContain('urgent');
  });
});

function llamaRequest(id: string): ClusterRequest {
  return {
    id,
    model: 'llama-7b',
    promptTokens: 256,
    maxTokens: 64,
    latencyBudgetSeconds: 10,
    maxPerplexityIncrease: 1,
    uplinkSpectralEfficiency: 4,
    downlinkSpectralEfficiency: 4,
  };
}
