// The external model's integer data (bench/external/instance.ts) states the same problem as
// CostModel: on random instances and random batches, memory in KV tokens against the capacity
// decides exactly as CostModel's memory check, and the latency and deadline in work units are
// CostModel's seconds times the node's effective FLOP/s (up to the rounding of link seconds and
// deadlines to whole FLOPs). The formulas below are the ones batch_model.py states with CP-SAT.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  externalInstance,
  ExternalModelError,
  type ExternalInstance,
  type ExternalRequest,
} from '../../../bench/external/instance.js';
import { isEligible } from '../../../src/core/model/accuracy.js';
import { CostModel, stateOf } from '../../../src/core/model/batch.js';
import { fitsSequence } from '../../../src/core/model/context.js';
import { createRng } from '../../../src/core/random.js';
import type { ScheduleInstance } from '../../../src/core/scheduler/types.js';
import { externalModelInstanceArb } from '../../support/external-model-instances.js';
import { instanceArb, optionsWith } from '../../support/instances.js';

/** KV tokens, latency work and the tightest deadline of `members` in the external model. */
function integerModel(ext: ExternalInstance, members: readonly ExternalRequest[]) {
  const b = members.length;
  const longest = (key: 'promptTokens' | 'outputTokens'): ExternalRequest =>
    members.reduce((w, r) => (r[key] > w[key] ? r : w));
  const link = members.reduce((sum, r) => sum + r.linkWork, 0);
  const deadline = Math.min(...members.map((r) => r.deadlineWork));
  if (ext.padding === 'ragged') {
    return {
      kvTokens: members.reduce((sum, r) => sum + r.kvTokens, 0),
      work: link + members.reduce((sum, r) => sum + r.raggedFlops, 0),
      deadline,
    };
  }
  const s = longest('promptTokens');
  const n = longest('outputTokens');
  const perMember =
    s.promptFlops + n.outputFlops + ext.crossFlops * s.promptTokens * (n.outputTokens - 1);
  return {
    kvTokens: b * (s.promptTokens + n.outputTokens),
    work: link + b * perMember,
    deadline,
  };
}

describe('the external model states the same problem as CostModel', () => {
  it('agrees on eligibility, memory, latency and deadline for random batches', () => {
    fc.assert(
      fc.property(externalModelInstanceArb(1, 10), fc.integer(), (instance, seed) => {
        const ext = externalInstance('x', instance);
        const cost = new CostModel(instance.node, instance.model, instance.options);
        const rate = cost.effectiveFlops;
        ext.requests.forEach((r, i) => {
          const d = instance.requests[i];
          if (!d) throw new Error('request missing');
          expect(r.id).toBe(d.id);
          expect(r.eligible).toBe(
            isEligible(instance.model, instance.bestPerplexity, d.maxPerplexityIncrease) &&
              fitsSequence(instance.model, d),
          );
        });
        const rng = createRng(seed);
        const picked = ext.requests.map(() => rng() < 0.5);
        const members = ext.requests.filter((_, i) => picked[i]);
        if (members.length === 0) return;
        const prepared = instance.requests
          .map((d, i) => cost.prepare(d, i))
          .filter((_, i) => picked[i]);
        const state = stateOf(prepared);
        const ours = integerModel(ext, members);
        expect(ours.kvTokens <= ext.kvTokenCapacity).toBe(cost.fitsMemory(state));
        const seconds = cost.latencySeconds(state, prepared);
        expect(Math.abs(ours.work / rate - seconds)).toBeLessThanOrEqual(
          1e-12 * seconds + members.length / rate,
        );
        expect(Math.abs(ours.deadline / rate - state.minDeadlineSeconds)).toBeLessThanOrEqual(
          1 / rate,
        );
      }),
      { numRuns: 1000 },
    );
  });

  it('says which options and requests it cannot state', () => {
    const sample = (compute: 'roofline' | 'calibrated', communication: 'linear' | 'noise-scaled') =>
      fc.sample(
        instanceArb(
          1,
          3,
          optionsWith([communication]).map((o) => ({ ...o, compute })),
        ),
        { numRuns: 1, seed: 1 },
      )[0] as ScheduleInstance;
    expect(() => externalInstance('x', sample('roofline', 'linear'))).toThrow(
      /compute "flops" with "linear" links only/,
    );
    expect(() => externalInstance('x', sample('calibrated', 'linear'))).toThrow(ExternalModelError);
    const flops = fc.sample(externalModelInstanceArb(1, 3), { numRuns: 1, seed: 2 })[0];
    if (!flops) throw new Error('no sample');
    const noisy = {
      ...flops,
      options: { ...flops.options, communication: 'noise-scaled' as const },
    };
    expect(() => externalInstance('x', noisy)).toThrow(ExternalModelError);
    const first = flops.requests[0];
    if (!first) throw new Error('no request');
    const split = { ...flops, requests: [{ ...first, serverComputeFraction: 0.5 }] };
    expect(() => externalInstance('x', split)).toThrow(/states unsplit requests only/);
  });
});
