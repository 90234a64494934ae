// The oracle: evaluates all 2^N subsets of the requests, with no pruning and no reliance on
// anti-monotonicity (it walks into supersets of infeasible batches too). Eligibility is a
// constraint here, not a pre-filter, so its answer is independent of DFTSP's rule 1.
import { isEligible } from '../model/accuracy.js';
import { fitsSequence } from '../model/context.js';
import {
  addInto,
  CostModel,
  emptyState,
  type BatchState,
  type PreparedRequest,
} from '../model/batch.js';
import { better, EMPTY_SCORE, scoreOf, type Score } from './objective.js';
import { buildResult } from './result.js';
import { POLICY, type ScheduleInstance, type ScheduleResult } from './types.js';

/** 2^30 subsets is already minutes of work; the oracle is for small instances. */
export const BRUTE_FORCE_MAX_REQUESTS = 30;

export class InstanceTooLargeError extends Error {
  constructor(n: number) {
    super(
      `brute force evaluates 2^N subsets; N=${n} exceeds ${BRUTE_FORCE_MAX_REQUESTS}: use policy dftsp for large instances`,
    );
    this.name = 'InstanceTooLargeError';
  }
}

export function bruteForce(instance: ScheduleInstance): ScheduleResult {
  const n = instance.requests.length;
  if (n > BRUTE_FORCE_MAX_REQUESTS) throw new InstanceTooLargeError(n);
  const cost = new CostModel(instance.node, instance.model, instance.options);
  const prepared = instance.requests.map((d, i) => cost.prepare(d, i));
  const eligible = instance.requests.map(
    (d) =>
      isEligible(instance.model, instance.bestPerplexity, d.maxPerplexityIncrease) &&
      fitsSequence(instance.model, d),
  );
  const objective = instance.options.objective;
  const needsMembers = cost.evaluationNeedsMembers;
  const maxBatch = instance.maxBatchSize ?? Infinity;
  const stack: BatchState[] = Array.from({ length: n + 1 }, emptyState);
  const path: PreparedRequest[] = [];
  let best: PreparedRequest[] = [];
  let bestScore: Score = EMPTY_SCORE;
  let nodesEvaluated = 1; // the empty batch
  const visit = (depth: number, from: number, allEligible: boolean): void => {
    for (let i = from; i < n; i++) {
      const r = prepared[i] as PreparedRequest;
      const child = addInto(stack[depth + 1] as BatchState, stack[depth] as BatchState, r);
      path.push(r);
      nodesEvaluated++;
      const ok = allEligible && (eligible[i] ?? false);
      if (
        ok &&
        child.count <= maxBatch &&
        cost.check(child, needsMembers ? path : undefined) === 'ok'
      ) {
        const score = scoreOf(child, objective);
        if (better(score, bestScore)) {
          bestScore = score;
          best = [...path];
        }
      }
      visit(depth + 1, i + 1, ok);
      path.pop();
    }
  };
  visit(0, 0, true);
  const rejected = instance.requests
    .filter((_, i) => !eligible[i])
    .map((d) => ({ id: d.id, reason: 'ineligible' as const }));
  return buildResult(
    POLICY.bruteforce,
    cost,
    best,
    { rejected },
    {
      nodesEvaluated,
      prunedInfeasible: 0,
      prunedByBound: 0,
      optimal: true,
    },
  );
}
