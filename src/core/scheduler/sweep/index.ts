// The sweep: an exact single-node solver for (P1) of spec/scheduling.md that uses the problem's
// structure instead of a search over subsets. It returns a batch as good as DFTSP's and brute
// force's (batch size, then tokens; or tokens, then size) and proves it at a few hundred
// candidates within milliseconds. See docs/scheduling-solvers.md.
//
// - static padding (static.ts): cells of (longest prompt, longest output); the largest size by
//   a sweep over deadlines per cell, the tokens by an exact search of the cells that can win.
// - ragged padding (ragged.ts): one cell, latency and KV footprint additive, exact search.
// - cost options where a batch's latency is not a constant plus a sum over its members
//   (noise-scaled links; roofline with ragged padding or with split requests): DFTSP.
import { stateOf, type PreparedRequest } from '../../model/batch.js';
import { PADDING } from '../../model/types.js';
import { budgetMeter } from '../budget.js';
import { prefilter } from '../candidates.js';
import { dftsp } from '../dftsp.js';
import { buildResult } from '../result.js';
import { POLICY, type ScheduleInstance, type ScheduleResult, type SearchBudget } from '../types.js';
import type { SearchControl } from './threshold-search.js';
import { decompositionUnsupported } from './decomposition.js';
import { sweepRagged } from './ragged.js';
import { sweepStatic } from './static.js';

export function sweep(instance: ScheduleInstance, budget: SearchBudget = {}): ScheduleResult {
  const started = budget.clock?.() ?? 0;
  const candidates = prefilter(instance);
  const { cost, feasible } = candidates;
  if (decompositionUnsupported(cost, feasible) !== null) {
    return { ...dftsp(instance, budget), policy: POLICY.sweep };
  }
  const maxBatchSize = Math.min(instance.maxBatchSize ?? Infinity, feasible.length);
  const meter = budgetMeter(budget, started, candidates.checks);
  const needsMembers = cost.evaluationNeedsMembers;
  const control: SearchControl = {
    accept: (members: readonly PreparedRequest[]) =>
      members.length <= maxBatchSize &&
      cost.check(stateOf(members), needsMembers ? members : undefined) === 'ok',
    tick: () => meter.take(),
    expired: () => meter.expired(),
  };
  const input = {
    cost,
    candidates: feasible,
    maxBatchSize,
    objective: instance.options.objective,
    control,
  };
  const outcome =
    instance.options.padding === PADDING.static ? sweepStatic(input) : sweepRagged(input);
  return buildResult(POLICY.sweep, cost, outcome.best, candidates, {
    nodesEvaluated: meter.nodes,
    prunedInfeasible: 0,
    prunedByBound: 0,
    optimal: outcome.complete,
  });
}
