// DFTSP: exact depth-first tree search with online pruning (spec §4).
//
// Tree: the root is the empty batch; a child adds one request with a larger index in a fixed
// order (ascending demand), so every subset appears once and depth is batch size.
// Rule 1: pre-filter (candidates.ts). Rule 2: an infeasible child's subtree is discarded (every
// constraint is anti-monotone). Rule 3: a branch stops when an upper bound on what it can reach
// does not beat the incumbent; the bound is the tighter of "all remaining candidates" and "the
// smallest remaining KV footprints that still fit in memory" and "the smallest remaining latency
// increments that still fit in the batch's slack" (CostModel.minLatencyIncrementSeconds). Rule 4: stop when every candidate
// is in the incumbent. Sums and maxima live on the DFS stack, so each child costs O(1) to check
// for the default cost options. The incumbent starts from the smallest-demand greedy batch.
import { addInto, emptyState, type BatchState, type PreparedRequest } from '../model/batch.js';
import { OBJECTIVE, PADDING } from '../model/types.js';
import { budgetMeter } from './budget.js';
import { demandOrder, prefilter } from './candidates.js';
import { better, EMPTY_SCORE, scoreOf, type Score } from './objective.js';
import { buildResult } from './result.js';
import { POLICY, type ScheduleInstance, type ScheduleResult, type SearchBudget } from './types.js';

export function dftsp(instance: ScheduleInstance, budget: SearchBudget = {}): ScheduleResult {
  const started = budget.clock?.() ?? 0;
  const candidates = prefilter(instance);
  const { cost } = candidates;
  const order = [...candidates.feasible].sort(demandOrder);
  const n = order.length;
  const objective = instance.options.objective;
  const staticPadding = instance.options.padding === PADDING.static;
  const needsMembers = cost.evaluationNeedsMembers;

  // Bound tables over the order: prefix sums of KV tokens (non-decreasing footprints).
  const prefixKv = new Float64Array(n + 1);
  order.forEach((r, i) => (prefixKv[i + 1] = (prefixKv[i] ?? 0) + r.kvTokens));
  const kvTokenCapacity = (instance.node.memoryBytes - cost.weightBytes) / cost.kvBytesPerToken;
  const latencyBound = buildLatencyBound(order.map((r) => cost.minLatencyIncrementSeconds(r)));
  const tokenBound = buildTokenBound(order.map((r) => r.outputTokens));
  const maxBatch = instance.maxBatchSize ?? Infinity;

  /** Upper bound on how many of order[i..] can still join a batch in `state` (latency `t`). */
  const maxMoreRequests = (state: BatchState, latency: number, i: number): number => {
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
    let bound = Math.min(lo, latencyBound(i, state.minDeadlineSeconds - latency));
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
  const mayBeat = (state: BatchState, latency: number, i: number, best: Score): boolean => {
    const more = maxMoreRequests(state, latency, i);
    if (more === 0) return false;
    const tokensBound = state.sumOutputTokens + tokenBound(i, more);
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
  const latencyStack = new Float64Array(n + 1);
  const path: PreparedRequest[] = [];
  let prunedInfeasible = 0;
  let prunedByBound = 0;
  let stopped = false;
  let exhausted = false;
  const meter = budgetMeter(budget, started, nodesEvaluated);

  const visit = (depth: number, from: number): void => {
    const parent = stack[depth] as BatchState;
    for (let i = from; i < n; i++) {
      if (stopped) return;
      // Rule 3. The bound only shrinks as i grows, so the remaining siblings are cut too.
      if (!mayBeat(parent, latencyStack[depth] ?? 0, i, bestScore)) {
        prunedByBound++;
        return;
      }
      if (!meter.take()) {
        stopped = true;
        exhausted = true;
        return;
      }
      const r = order[i] as PreparedRequest;
      const child = addInto(stack[depth + 1] as BatchState, parent, r);
      path.push(r);
      const latency = cost.fitsMemory(child)
        ? cost.latencySeconds(child, needsMembers ? path : undefined)
        : Infinity;
      if (!(latency <= child.minDeadlineSeconds)) {
        prunedInfeasible++; // Rule 2: no superset of an infeasible batch is feasible.
        path.pop();
        continue;
      }
      latencyStack[depth + 1] = latency;
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
    nodesEvaluated: meter.nodes,
    prunedInfeasible,
    prunedByBound,
    optimal: !exhausted,
  });
}

/** Suffixes longer than this fall back to O(1) bounds (sorted suffixes cost O(N^2) memory). */
const SORTED_SUFFIX_LIMIT = 512;

/**
 * prefixes[i][k] = sum of the k smallest (or largest) of values[i..]: the sorted suffixes,
 * built by insertion from the back in O(N^2). Null when N > SORTED_SUFFIX_LIMIT.
 */
function sortedSuffixPrefixes(
  values: readonly number[],
  largestFirst: boolean,
): Float64Array[] | null {
  const n = values.length;
  if (n > SORTED_SUFFIX_LIMIT) return null;
  const prefixes: Float64Array[] = new Array<Float64Array>(n + 1);
  const sorted: number[] = [];
  prefixes[n] = new Float64Array(1);
  const before = (a: number, b: number): boolean => (largestFirst ? a > b : a < b);
  for (let i = n - 1; i >= 0; i--) {
    const x = values[i] ?? 0;
    let at = sorted.findIndex((v) => before(x, v));
    if (at < 0) at = sorted.length;
    sorted.splice(at, 0, x);
    const prefix = new Float64Array(sorted.length + 1);
    sorted.forEach((v, k) => (prefix[k + 1] = (prefix[k] ?? 0) + v));
    prefixes[i] = prefix;
  }
  return prefixes;
}

/**
 * For the latency part of rule 3: given per-candidate lower bounds on the latency each adds,
 * returns (i, slack) => the most candidates of order[i..] whose increments fit in `slack`
 * (the k smallest increments must fit), in O(log N); beyond SORTED_SUFFIX_LIMIT candidates,
 * slack / (smallest increment) in O(1).
 */
function buildLatencyBound(increments: readonly number[]): (i: number, slack: number) => number {
  const n = increments.length;
  const tolerance = (slack: number): number => slack * (1 + 1e-9) + 1e-12;
  const prefixes = sortedSuffixPrefixes(increments, false);
  if (!prefixes) {
    const suffixMin = new Float64Array(n + 1).fill(Infinity);
    for (let i = n - 1; i >= 0; i--)
      suffixMin[i] = Math.min(suffixMin[i + 1] ?? Infinity, increments[i] ?? 0);
    return (i, slack) => {
      const m = suffixMin[i] ?? Infinity;
      return m > 0 ? Math.floor(tolerance(slack) / m) : n;
    };
  }
  return (i, slack) => {
    const prefix = prefixes[i];
    if (!prefix) return 0;
    const limit = tolerance(slack);
    let lo = 0;
    let hi = prefix.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((prefix[mid] ?? Infinity) <= limit) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
}

/**
 * For the token bound: (i, k) => the largest total output of k candidates of order[i..] (the
 * k largest), in O(1); beyond SORTED_SUFFIX_LIMIT, min(suffix sum, k * suffix max).
 */
function buildTokenBound(outputTokens: readonly number[]): (i: number, k: number) => number {
  const n = outputTokens.length;
  const prefixes = sortedSuffixPrefixes(outputTokens, true);
  if (!prefixes) {
    const sum = new Float64Array(n + 1);
    const max = new Float64Array(n + 1);
    for (let i = n - 1; i >= 0; i--) {
      sum[i] = (sum[i + 1] ?? 0) + (outputTokens[i] ?? 0);
      max[i] = Math.max(max[i + 1] ?? 0, outputTokens[i] ?? 0);
    }
    return (i, k) => Math.min(sum[i] ?? 0, k * (max[i] ?? 0));
  }
  return (i, k) => {
    const prefix = prefixes[i];
    if (!prefix) return 0;
    return prefix[Math.min(k, prefix.length - 1)] ?? 0;
  };
}
