// Multi-node assignment (GAH) on top of DFTSP.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  assignAcrossNodes,
  type ClusterNode,
  type ClusterRequest,
} from '../../../../src/core/scheduler/gah.js';
import { COST_DEFAULTS, type ModelVariant } from '../../../../src/core/model/types.js';
import { CostModel, stateOf } from '../../../../src/core/model/batch.js';
import { llama7b } from '../../../support/models.js';

const variant = (quantization: string, weightBits: number, perplexity: number): ModelVariant => ({
  ...llama7b(quantization, weightBits, perplexity),
});
const fp16 = variant('F16', 16, 5.68);
const q4 = variant('Q4_0', 4, 5.96);

const node = (
  name: string,
  computeFlops: number,
  variants: ModelVariant[],
  maxBatchSize?: number,
): ClusterNode => ({
  name,
  resources: {
    memoryBytes: 24e9,
    computeFlops,
    utilization: 0.5,
    uplinkBandwidthHz: 10e6,
    downlinkBandwidthHz: 10e6,
  },
  variants,
  options: COST_DEFAULTS,
  ...(maxBatchSize === undefined ? {} : { maxBatchSize }),
});

const request = (id: string, extra: Partial<ClusterRequest> = {}): ClusterRequest => ({
  id,
  model: 'llama-7b',
  promptTokens: 128,
  maxTokens: 64,
  latencyBudgetSeconds: 20,
  maxPerplexityIncrease: 1,
  uplinkSpectralEfficiency: 4,
  downlinkSpectralEfficiency: 4,
  ...extra,
});

describe('GAH', () => {
  it('fails fast with NoEligibleNode and DeadlineInfeasible, and says what to change', () => {
    const nodes = [node('a', 100e12, [fp16, q4])];
    const decision = assignAcrossNodes(nodes, [
      request('unknown-model', { model: 'mistral' }),
      request('too-strict', { maxPerplexityIncrease: -1 }),
      request('too-fast', { latencyBudgetSeconds: 1e-4 }),
      request('ok'),
    ]);
    const failed = Object.fromEntries(decision.failed.map((f) => [f.id, f]));
    expect(failed['unknown-model']?.reason).toBe('NoEligibleNode');
    expect(failed['too-strict']?.reason).toBe('NoEligibleNode');
    expect(failed['too-fast']?.reason).toBe('DeadlineInfeasible');
    expect(failed['too-fast']?.message).toMatch(/latencyBudget/);
    expect(decision.assignments.flatMap((a) => a.result.batch)).toEqual(['ok']);
  });

  it('visits the largest node first and respects node selectors and maxBatchSize', () => {
    const nodes = [node('small', 50e12, [fp16, q4], 2), node('big', 200e12, [fp16, q4], 3)];
    const requests = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'].map((id) => request(id));
    const pinned = request('pinned', { allowedNodes: ['small'] });
    const decision = assignAcrossNodes(nodes, [...requests, pinned]);
    expect(decision.assignments.map((a) => a.node)).toEqual(['big', 'small']);
    expect(decision.assignments[0]?.result.batch).toHaveLength(3);
    expect(decision.assignments[0]?.result.batch).not.toContain('pinned');
    expect(decision.assignments[1]?.result.batch).toHaveLength(2);
    expect(decision.waiting).toHaveLength(7 - 5);
  });

  it('assigns every request at most once, only to nodes it allows, in feasible batches', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ flops: fc.double({ min: 1e12, max: 3e14, noNaN: true }), q: fc.boolean() }),
          {
            minLength: 1,
            maxLength: 4,
          },
        ),
        fc.array(
          fc.record({
            prompt: fc.integer({ min: 1, max: 2048 }),
            out: fc.integer({ min: 1, max: 512 }),
            budget: fc.double({ min: 0.5, max: 60, noNaN: true }),
            acc: fc.constantFrom(0, 0.5, 2),
            pin: fc.option(fc.nat({ max: 3 })),
          }),
          { maxLength: 14 },
        ),
        (nodeSpecs, reqSpecs) => {
          const nodes = nodeSpecs.map((s, i) => node(`n${i}`, s.flops, s.q ? [fp16, q4] : [q4]));
          const reqs = reqSpecs.map((s, i) =>
            request(`r${i}`, {
              promptTokens: s.prompt,
              maxTokens: s.out,
              latencyBudgetSeconds: s.budget,
              maxPerplexityIncrease: s.acc,
              ...(s.pin === null ? {} : { allowedNodes: [`n${s.pin}`] }),
            }),
          );
          const d = assignAcrossNodes(nodes, reqs);
          const seen = d.assignments
            .flatMap((a) => a.result.batch)
            .concat(
              d.waiting,
              d.failed.map((f) => f.id),
            );
          expect([...seen].sort()).toEqual(reqs.map((r) => r.id).sort());
          for (const a of d.assignments) {
            const n = nodes.find((x) => x.name === a.node);
            if (!n) throw new Error('unknown node');
            const cost = new CostModel(n.resources, a.variant, n.options);
            const members = a.result.batch.map((id) => {
              const r = reqs.find((x) => x.id === id);
              if (!r) throw new Error('unknown request');
              expect(r.allowedNodes === undefined || r.allowedNodes.includes(a.node)).toBe(true);
              return cost.prepare(r, 0);
            });
            const c = cost.evaluate(stateOf(members), members);
            expect(c.fitsMemory && c.meetsDeadline).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
