// Baselines (labelled as ours: the paper's baseline names could not be read). All apply rule 1
// first, then build one batch in a fixed order:
// - fcfs: arrival order, stops at the first request that does not fit (no overtaking);
// - greedy: smallest demand first (DFTSP's order), skips what does not fit;
// - edf: earliest deadline first, skips what does not fit;
// - random: a seeded random order, skips what does not fit;
// - single: no batching, the first request in arrival order that is feasible alone.
import { addInto, emptyState, type PreparedRequest } from '../model/batch.js';
import { shuffled, type Random } from '../random.js';
import { demandOrder, prefilter } from './candidates.js';
import { buildResult } from './result.js';
import { POLICY, type Policy, type ScheduleInstance, type ScheduleResult } from './types.js';

export type BaselinePolicy = Exclude<Policy, 'dftsp' | 'sweep' | 'bruteforce'>;

export function baseline(
  policy: BaselinePolicy,
  instance: ScheduleInstance,
  rng?: Random,
): ScheduleResult {
  const candidates = prefilter(instance);
  const { cost, feasible } = candidates;
  let order: PreparedRequest[];
  let stopAtFirstMisfit = false;
  let limit = instance.maxBatchSize ?? Infinity;
  switch (policy) {
    case POLICY.fcfs:
      order = [...feasible];
      stopAtFirstMisfit = true;
      break;
    case POLICY.greedy:
      order = [...feasible].sort(demandOrder);
      break;
    case POLICY.edf:
      order = [...feasible].sort(
        (a, b) => a.deadlineSeconds - b.deadlineSeconds || a.index - b.index,
      );
      break;
    case POLICY.random:
      if (!rng) throw new Error('policy "random" needs a seeded random source');
      order = shuffled(rng, feasible);
      break;
    case POLICY.single:
      order = [...feasible];
      limit = Math.min(limit, 1);
      break;
  }
  let state = emptyState();
  const chosen: PreparedRequest[] = [];
  let nodesEvaluated = candidates.checks;
  for (const r of order) {
    if (chosen.length >= limit) break;
    const next = addInto(emptyState(), state, r);
    chosen.push(r);
    nodesEvaluated++;
    if (cost.check(next, cost.evaluationNeedsMembers ? chosen : undefined) === 'ok') {
      state = next;
    } else {
      chosen.pop();
      if (stopAtFirstMisfit) break;
    }
  }
  return buildResult(policy, cost, chosen, candidates, {
    nodesEvaluated,
    prunedInfeasible: 0,
    prunedByBound: 0,
    optimal: false,
  });
}
