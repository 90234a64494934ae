// The sweep under ragged padding: a batch costs fixed(longest output) + the sum of its members'
// latency terms and holds the sum of their KV tokens, so the candidate list is one cell with two
// additive constraints (latency, memory), split by deadline threshold (thresholds.ts) and
// searched exactly (threshold-search.ts). The two constraints are combined into one surrogate
// constraint whose multiplier is chosen per threshold to make its size bound the tightest (on a
// grid of SURROGATE_STEPS); that bound is within a request or two of the LP bound's floor. The
// incumbent starts from the best of the greedy batches (smallest latency term first, smallest
// KV footprint first; under objective tokens also the most tokens per latency term first). Under objective requests the size is decided first, with tokens left out
// (fast: the size bound is tight), then the most tokens at that size by a Lagrangian branch and
// bound (fixed-size.ts): the tie-break is where the work is (many batches of the largest size
// differ by a few tokens). Under objective tokens the same branch and bound runs over every size
// up to the largest allowed.
import type { CostModel, PreparedRequest } from '../../model/batch.js';
import { OBJECTIVE, type Objective } from '../../model/types.js';
import { raggedFixedSeconds, raggedKvCapacity } from './decomposition.js';
import type { SweepOutcome } from './static.js';
import {
  beats,
  within,
  type Incumbent,
  type MemberTerms,
  type SearchControl,
} from './threshold-search.js';
import { maximizeTokensAtSize } from './fixed-size.js';
import { orderBy, orderByDescending, ranksOf } from './order.js';
import { searchThresholds, thresholdBounds, type SurrogateChooser } from './thresholds.js';

/** Multipliers tried per threshold: lambda = k / SURROGATE_STEPS, k = 0..SURROGATE_STEPS. */
export const SURROGATE_STEPS = 8;

export interface RaggedSweepInput {
  readonly cost: CostModel;
  readonly candidates: readonly PreparedRequest[];
  readonly maxBatchSize: number;
  readonly objective: Objective;
  readonly control: SearchControl;
}

export function sweepRagged(input: RaggedSweepInput): SweepOutcome {
  const { cost, candidates, control } = input;
  const M = candidates.length;
  const kvCapacity = raggedKvCapacity(cost);
  // fixed(longest output), asked twice at every node of the searches: computed once per output
  // length, kept in an array indexed by it (a Map lookup was 5% of a decision's time).
  const fixedSeconds = fixedByOutput(cost, candidates);
  const terms: MemberTerms = {
    members: candidates,
    latency: Float64Array.from(candidates, (r) => cost.minLatencyIncrementSeconds(r)),
    kv: Float64Array.from(candidates, (r) => r.kvTokens),
    tokens: Float64Array.from(candidates, (r) => r.outputTokens),
  };
  const countFirst = input.objective === OBJECTIVE.requests;

  const incumbent: Incumbent = { primary: 0, secondary: 0, members: [] };
  // Greedy orders: smallest latency term first, smallest KV footprint first, and under
  // objective tokens also the most tokens per second of latency term first.
  const greedyKeys = [terms.latency, terms.kv];
  if (!countFirst) {
    greedyKeys.push(
      Float64Array.from(terms.tokens, (n, i) => -n / Math.max(terms.latency[i] ?? 0, 1e-12)),
    );
  }
  for (const key of greedyKeys) {
    const chosen: PreparedRequest[] = [];
    let latency = 0;
    let kv = 0;
    let maxOutput = 0;
    let deadline = Infinity;
    let tokens = 0;
    for (const i of orderBy(key)) {
      if (chosen.length >= input.maxBatchSize) break;
      const r = candidates[i] as PreparedRequest;
      const nextMax = Math.max(maxOutput, r.outputTokens);
      const nextDeadline = Math.min(deadline, r.deadlineSeconds);
      const nextLatency = latency + (terms.latency[i] ?? 0);
      if (
        !within(fixedSeconds(chosen.length + 1, nextMax) + nextLatency, nextDeadline) ||
        !within(kv + r.kvTokens, kvCapacity)
      )
        continue;
      chosen.push(r);
      latency = nextLatency;
      kv += r.kvTokens;
      maxOutput = nextMax;
      deadline = nextDeadline;
      tokens += r.outputTokens;
    }
    // The sums above only guide; CostModel decides (a float boundary drops the batch).
    const [primary, secondary] = countFirst ? [chosen.length, tokens] : [tokens, chosen.length];
    if (beats(incumbent, primary, secondary) && control.accept(chosen)) {
      incumbent.primary = primary;
      incumbent.secondary = secondary;
      incumbent.members = chosen;
    }
  }

  const chooseSurrogate: SurrogateChooser = (problem) => {
    const f = problem.forced;
    const latencyLeft =
      problem.deadlineSeconds -
      problem.fixedSeconds(1, terms.tokens[f] ?? 0) -
      (terms.latency[f] ?? 0);
    const kvLeft = problem.kvCapacity - (terms.kv[f] ?? 0);
    if (!(latencyLeft > 0) || !(kvLeft > 0)) return { latencyWeight: 1, kvWeight: 0 };
    let best = { latencyWeight: 1 / latencyLeft, kvWeight: 0 };
    let bestCount = Infinity;
    const weights = new Float64Array(problem.pool.length);
    for (let step = 0; step <= SURROGATE_STEPS; step++) {
      const lambda = step / SURROGATE_STEPS;
      const lw = lambda / latencyLeft;
      const kw = (1 - lambda) / kvLeft;
      problem.pool.forEach(
        (i, k) => (weights[k] = lw * (terms.latency[i] ?? 0) + kw * (terms.kv[i] ?? 0)),
      );
      weights.sort();
      let sum = 0;
      let count = 0;
      while (count < weights.length && within(sum + (weights[count] ?? 0), 1)) {
        sum += weights[count] ?? 0;
        count++;
      }
      if (count < bestCount) {
        bestCount = count;
        best = { latencyWeight: lw, kvWeight: kw };
      }
    }
    return best;
  };

  const byDeadline = orderByDescending(Float64Array.from(candidates, (r) => r.deadlineSeconds));
  const ranks = {
    latency: ranksOf(orderBy(terms.latency)),
    kv: ranksOf(orderBy(terms.kv)),
    tokens: ranksOf(orderByDescending(terms.tokens)),
  };
  const cell = {
    members: Array.from(byDeadline),
    terms,
    maxCount: Math.min(input.maxBatchSize, M),
    kvCapacity,
    fixedSeconds,
  };
  if (!countFirst) {
    // Objective tokens: the most tokens over every size, more members breaking ties.
    const complete = maximizeTokensAtSize(
      { terms, byDeadline, size: cell.maxCount, exactSize: false, kvCapacity, fixedSeconds },
      incumbent,
      control,
    );
    return { best: incumbent.members, complete, cellsSearched: 1 };
  }
  // Objective requests: the largest size first (with every output counted as 0 tokens, so that
  // no batch of equal size beats another), then the most tokens at that size (fixed-size.ts).
  const sizeOnly = { ...cell, terms: { ...terms, tokens: new Float64Array(M) } };
  const probe: Incumbent = { primary: incumbent.primary, secondary: 0, members: incumbent.members };
  const sizeBounds = thresholdBounds(sizeOnly, ranks);
  if (!searchThresholds(sizeBounds, input.objective, probe, control, chooseSurrogate)) {
    return { best: probe.members, complete: false, cellsSearched: 1 };
  }
  const sized: Incumbent = {
    primary: probe.members.length,
    secondary: probe.members.reduce((a, r) => a + r.outputTokens, 0),
    members: probe.members,
  };
  const complete = maximizeTokensAtSize(
    { terms, byDeadline, size: sized.primary, exactSize: true, kvCapacity, fixedSeconds },
    sized,
    control,
  );
  return { best: sized.members, complete, cellsSearched: 1 };
}

/** Outputs up to this many tokens get a slot in fixedByOutput's array; longer ones a Map. */
const DENSE_OUTPUT_LIMIT = 1 << 16;

/** raggedFixedSeconds(cost, maxOutput) for count > 0 (0 for an empty batch), cached. */
function fixedByOutput(
  cost: CostModel,
  candidates: readonly PreparedRequest[],
): (count: number, maxOutput: number) => number {
  let longest = 0;
  for (const r of candidates) longest = Math.max(longest, r.outputTokens);
  const dense = new Float64Array(Math.min(longest, DENSE_OUTPUT_LIMIT) + 1).fill(NaN);
  const sparse = new Map<number, number>();
  return (count, maxOutput) => {
    if (count <= 0) return 0;
    if (Number.isInteger(maxOutput) && maxOutput >= 0 && maxOutput < dense.length) {
      let fixed = dense[maxOutput] ?? NaN;
      if (Number.isNaN(fixed)) dense[maxOutput] = fixed = raggedFixedSeconds(cost, maxOutput);
      return fixed;
    }
    let fixed = sparse.get(maxOutput);
    if (fixed === undefined) sparse.set(maxOutput, (fixed = raggedFixedSeconds(cost, maxOutput)));
    return fixed;
  };
}
