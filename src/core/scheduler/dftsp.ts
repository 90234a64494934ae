// DFTSP: exact depth-first tree search with online pruning (spec §4).
//
// Tree: the root is the empty batch; a child adds one request with a larger index in a fixed
// order (ascending demand), so every subset appears once and depth is batch size.
// Rule 1: pre-filter (candidates.ts). Rule 2: an infeasible child's subtree is discarded (every
// constraint is anti-monotone). Rule 3: a branch stops when an upper bound on what it can reach
// does not beat the incumbent; the bound is the tighter of "all remaining candidates" and "the
// smallest remaining KV footprints that still fit in memory". Rule 4: stop when every candidate
// is in the incumbent. Sums and maxima live on the DFS stack, so each child costs O(1) to check
// for the default cost options. The incumbent starts from the smallest-demand greedy batch.
import { addInto, emptyState, type BatchState, type PreparedRequest } from '../model/batch.js';
import { OBJECTIVE, PADDING } from '../model/types.js';
import { demandOrder, prefilter } from './candidates.js';
import { better, EMPTY_SCORE, scoreOf, type Score } from './objective.js';
import { buildResult } from './result.js';
import { POLICY, type ScheduleInstance, type ScheduleResult, type SearchBudget } from './types.js';

/** How often (in evaluated nodes) the clock of a time budget is read. */
const CLOCK_CHECK_INTERVAL = 256;

export function dftsp(instance: ScheduleInstance, budget: SearchBudget = {}): ScheduleResult {
  const candidates = prefilter(instance);
  const { cost } = candidates;
  const order = [...candidates.feasible].sort(demandOrder);
  const n = order.length;
  const objective = instance.options.objective;
  const staticPadding = instance.options.padding === PADDING.static;
  const needsMembers = cost.evaluationNeedsMembers;

  // Bound tables over the order: prefix sums of KV tokens (non-decreasing footprints), suffix
  // sums and maxima of output tokens.
  const prefixKv = new Float64Array(n + 1);
  const suffixTokens = new Float64Array(n + 1);
  const suffixMaxTokens = new Float64Array(n + 1);
  order.forEach((r, i) => (prefixKv[i + 1] = (prefixKv[i] ?? 0) + r.kvTokens));
  for (let i = n - 1; i >= 0; i--) {
    const r = order[i] as PreparedRequest;
    suffixTokens[i] = (suffixTokens[i + 1] ?? 0) + r.outputTokens;
    suffixMaxTokens[i] = Math.max(suffixMaxTokens[i + 1] ?? 0, r.outputTokens);
  }
  const kvTokenCapacity = (instance.node.memoryBytes - cost.weightBytes) / cost.kvBytesPerToken;
  const maxBatch = instance.maxBatchSize ?? Infinity;

  /** Upper bound on how many of order[i..] can still join a batch in `state`. */
  const maxMoreRequests = (state: BatchState, i: number): number => {
    const remaining = Math.min(n - i, maxBatch - state.count);
    if (remaining <= 0) return 0;
    const used = staticPadding
      ? state.count * (state.maxPromptTokens + state.maxOutputTokens)
      : state.sumKvTokens;
    const free = kvTokenCapacity - used;
    // Ragged footprints are additive and order[i..] ascends: the k cheapest are the next k.
    let lo = 0;
    let hi = remaining;
    const base = prefixKv[i] ?? 0;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((prefixKv[i + mid] ?? Infinity) - base <= free + 1e-9) lo = mid;
      else hi = mid - 1;
    }
    let bound = lo;
    if (staticPadding) {
      // Static padding charges every member the longest prompt plus the longest output.
      const perMember = Math.max(
        state.maxPromptTokens + state.maxOutputTokens,
        (order[i] as PreparedRequest).kvTokens,
      );
      bound = Math.min(
        bound,
        Math.max(0, Math.floor((kvTokenCapacity + 1e-9) / perMember) - state.count),
      );
    }
    return bound;
  };

  /** Rule 3: can extending `state` with order[i..] beat `best`? */
  const mayBeat = (state: BatchState, i: number, best: Score): boolean => {
    const more = maxMoreRequests(state, i);
    if (more === 0) return false;
    const tokensBound =
      state.sumOutputTokens + Math.min(suffixTokens[i] ?? 0, more * (suffixMaxTokens[i] ?? 0));
    const countBound = state.count + more;
    const [primaryBound, secondaryBound] =
      objective === OBJECTIVE.tokens ? [tokensBound, countBound] : [countBound, tokensBound];
    return (
      primaryBound > best.primary ||
      (primaryBound === best.primary && secondaryBound > best.secondary)
    );
  };

  // Incumbent from the smallest-demand greedy (the same order, skipping what does not fit).
  let nodesEvaluated = candidates.checks;
  const members: PreparedRequest[] = [];
  let greedyState = emptyState();
  for (const r of order) {
    if (greedyState.count >= maxBatch) break;
    const next = addInto(emptyState(), greedyState, r);
    members.push(r);
    nodesEvaluated++;
    if (cost.check(next, needsMembers ? members : undefined) === 'ok') greedyState = next;
    else members.pop();
  }
  let best: PreparedRequest[] = [...members];
  let bestScore = members.length > 0 ? scoreOf(greedyState, objective) : EMPTY_SCORE;
  const all =
    n > 0
      ? scoreOf(
          order.reduce<BatchState>((s, r) => addInto(s, s, r), emptyState()),
          objective,
        )
      : EMPTY_SCORE;

  const stack: BatchState[] = Array.from({ length: n + 1 }, emptyState);
  const path: PreparedRequest[] = [];
  let prunedInfeasible = 0;
  let prunedByBound = 0;
  let stopped = false;
  let exhausted = false;
  const started = budget.clock?.() ?? 0;

  const overBudget = (): boolean => {
    if (budget.maxNodes !== undefined && nodesEvaluated >= budget.maxNodes) return true;
    if (
      budget.maxSeconds !== undefined &&
      budget.clock &&
      nodesEvaluated % CLOCK_CHECK_INTERVAL === 0
    ) {
      return budget.clock() - started >= budget.maxSeconds;
    }
    return false;
  };

  const visit = (depth: number, from: number): void => {
    const parent = stack[depth] as BatchState;
    for (let i = from; i < n; i++) {
      if (stopped) return;
      // Rule 3. The bound only shrinks as i grows, so the remaining siblings are cut too.
      if (!mayBeat(parent, i, bestScore)) {
        prunedByBound++;
        return;
      }
      if (overBudget()) {
        stopped = true;
        exhausted = true;
        return;
      }
      const r = order[i] as PreparedRequest;
      const child = addInto(stack[depth + 1] as BatchState, parent, r);
      path.push(r);
      nodesEvaluated++;
      if (cost.check(child, needsMembers ? path : undefined) !== 'ok') {
        prunedInfeasible++; // Rule 2: no superset of an infeasible batch is feasible.
        path.pop();
        continue;
      }
      const score = scoreOf(child, objective);
      if (better(score, bestScore)) {
        bestScore = score;
        best = [...path];
        // Rule 4: every candidate is in the batch.
        if (score.primary === all.primary && score.secondary === all.secondary) stopped = true;
      }
      visit(depth + 1, i + 1);
      path.pop();
    }
  };
  if (!(bestScore.primary === all.primary && bestScore.secondary === all.secondary)) visit(0, 0);

  return buildResult(POLICY.dftsp, cost, best, candidates, {
    nodesEvaluated,
    prunedInfeasible,
    prunedByBound,
    optimal: !exhausted,
  });
}
