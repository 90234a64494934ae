// Exact branch and bound for one deadline threshold: every batch it builds contains `forced`
// (the member whose deadline is the batch's tightest) and otherwise only members of `pool`
// (deadline >= forced's), so its latency limit is a constant; the batch's latency is
// fixed(count, longest output) + the sum of its members' latency terms (decomposition.ts), and
// under ragged padding its KV tokens must fit too. What is left is a knapsack with a cardinality
// limit, searched depth-first over the pool in a fixed order (children add a later member, so
// every subset appears once), with bounds on the suffix that remains:
// - size: at most r more members, the largest r whose r smallest latency terms, r smallest KV
//   footprints and r smallest surrogate weights (w = latencyWeight * latency + kvWeight * kv,
//   one constraint that every feasible batch meets) fit in what is left. Under objective
//   `requests` the pool is sorted by w, so the r smallest of a suffix are its first r.
// - tokens: the r largest outputs of the suffix (a table of sorted suffixes); under `tokens`,
//   also the pool is sorted by tokens per unit of w and the fractional
//   knapsack over the suffix bounds them (the smaller of the two counts).
// Every bound only shrinks along the pool, so the first member whose bound cannot beat the
// incumbent ends its siblings. Comparisons tolerate 1e-9 relative float error (they never cut a
// batch CostModel accepts); a batch becomes the incumbent only after CostModel.check accepts it.
import type { PreparedRequest } from '../../model/batch.js';
import { OBJECTIVE, type Objective } from '../../model/types.js';
import { largestWhere } from './order.js';

/** Relative slack of every pruning comparison (float sums taken in a different order). */
export const PRUNE_TOLERANCE = 1e-9;

/** value <= limit up to PRUNE_TOLERANCE. */
export function within(value: number, limit: number): boolean {
  return value <= tolerantLimit(limit);
}

/** The largest value `within` accepts under `limit` (for limits compared many times). */
export function tolerantLimit(limit: number): number {
  return limit + Math.abs(limit) * PRUNE_TOLERANCE + 1e-12;
}

/** Per-candidate terms, indexed like the candidate list. */
export interface MemberTerms {
  readonly members: readonly PreparedRequest[];
  /** Additive latency term of each candidate, seconds (decomposition.ts). */
  readonly latency: Float64Array;
  /** KV tokens each adds under ragged padding; unused under static padding. */
  readonly kv: Float64Array;
  readonly tokens: Float64Array;
}

export interface ThresholdProblem {
  /** Candidate index every batch contains; its deadline is the limit. */
  readonly forced: number;
  /** Candidate indices that may join. */
  readonly pool: readonly number[];
  readonly deadlineSeconds: number;
  readonly maxCount: number;
  /** KV tokens that fit; Infinity when memory is already covered by maxCount (static padding). */
  readonly kvCapacity: number;
  /** Latency every batch pays given its size and longest output; nondecreasing in both. */
  readonly fixedSeconds: (count: number, maxOutput: number) => number;
  /** Surrogate multipliers (>= 0) of the latency and KV constraints. */
  readonly latencyWeight: number;
  readonly kvWeight: number;
}

/** The best batch so far; searches replace it only with a strictly better one. */
export interface Incumbent {
  primary: number;
  secondary: number;
  members: readonly PreparedRequest[];
}

export interface SearchControl {
  /** CostModel's verdict on a batch (the search's own sums only guide it). */
  readonly accept: (members: readonly PreparedRequest[]) => boolean;
  /** Called once per evaluated batch; false stops the search (budget spent). */
  readonly tick: () => boolean;
  /** Read before setup work that evaluates no batch (a threshold's); true stops the search. */
  readonly expired: () => boolean;
}

export function beats(incumbent: Incumbent, primary: number, secondary: number): boolean {
  return (
    primary > incumbent.primary ||
    (primary === incumbent.primary && secondary > incumbent.secondary)
  );
}

/**
 * table[j * (K+1) + k] = sum of the k largest of values[j..] for k <= min(K, length - j).
 * O(length * K) by inserting from the back into a sorted list of the K largest.
 */
export function suffixLargestSums(values: Float64Array, K: number): Float64Array {
  const M = values.length;
  const width = K + 1;
  const table = new Float64Array((M + 1) * width);
  const kept = new Float64Array(Math.max(K, 1));
  let size = 0;
  for (let j = M - 1; j >= 0; j--) {
    const x = values[j] ?? 0;
    let at = size;
    while (at > 0 && x > (kept[at - 1] ?? 0)) at--;
    if (at < K) {
      for (let t = Math.min(size, K - 1); t > at; t--) kept[t] = kept[t - 1] ?? 0;
      kept[at] = x;
      if (size < K) size++;
    }
    const row = j * width;
    let sum = 0;
    for (let k = 0; k < size; k++) {
      sum += kept[k] ?? 0;
      table[row + k + 1] = sum;
    }
  }
  return table;
}

/**
 * Searches one threshold for a batch strictly better than `incumbent` (lexicographic on the
 * objective's keys: size then tokens, or tokens then size) and updates it in place. Returns
 * false when `control.tick` stopped the search.
 */
export function searchThreshold(
  problem: ThresholdProblem,
  terms: MemberTerms,
  objective: Objective,
  incumbent: Incumbent,
  control: SearchControl,
): boolean {
  const countFirst = objective === OBJECTIVE.requests;
  const { latencyWeight: lw, kvWeight: kw } = problem;
  const ragged = Number.isFinite(problem.kvCapacity);
  const weightOf = (i: number): number =>
    lw * (terms.latency[i] ?? 0) + (ragged ? kw * (terms.kv[i] ?? 0) : 0);
  const order = [...problem.pool];
  if (countFirst) {
    order.sort(
      (a, b) => weightOf(a) - weightOf(b) || (terms.tokens[b] ?? 0) - (terms.tokens[a] ?? 0),
    );
  } else {
    const ratio = (i: number): number => {
      const w = weightOf(i);
      return w > 0 ? (terms.tokens[i] ?? 0) / w : Infinity;
    };
    order.sort((a, b) => ratio(b) - ratio(a) || weightOf(a) - weightOf(b));
  }
  const P = order.length;
  const c = Float64Array.from(order, (i) => terms.latency[i] ?? 0);
  const kv = Float64Array.from(order, (i) => terms.kv[i] ?? 0);
  const n = Float64Array.from(order, (i) => terms.tokens[i] ?? 0);
  const w = Float64Array.from(order, weightOf);
  const prefW = new Float64Array(P + 1);
  const prefN = new Float64Array(P + 1);
  for (let i = 0; i < P; i++) {
    prefW[i + 1] = (prefW[i] ?? 0) + (w[i] ?? 0);
    prefN[i + 1] = (prefN[i] ?? 0) + (n[i] ?? 0);
  }
  const minC = new Float64Array(P + 1).fill(Infinity);
  const minKv = new Float64Array(P + 1).fill(Infinity);
  const minW = new Float64Array(P + 1).fill(Infinity);
  for (let i = P - 1; i >= 0; i--) {
    minC[i] = Math.min(minC[i + 1] ?? Infinity, c[i] ?? 0);
    minKv[i] = Math.min(minKv[i + 1] ?? Infinity, kv[i] ?? 0);
    minW[i] = Math.min(minW[i + 1] ?? Infinity, w[i] ?? 0);
  }
  const K = Math.max(0, Math.min(problem.maxCount - 1, P));
  const width = K + 1;
  // The r largest outputs of each suffix; not needed when the pool has no tokens (size only).
  // Under objective tokens it caps the fractional bound where the size limit binds (memory or
  // a batch size cap under static padding), which the fractional bound ignores.
  const topN = (prefN[P] ?? 0) > 0 ? suffixLargestSums(n, K) : null;
  const tau = problem.deadlineSeconds;
  const kvCapacity = problem.kvCapacity;

  /** Most members of order[i..] that may still join, by every size bound. */
  const moreAllowed = (
    i: number,
    count: number,
    sumC: number,
    sumKv: number,
    maxOutput: number,
  ): number => {
    const cap = Math.min(problem.maxCount - count, P - i);
    const kvLeft = kvCapacity - sumKv;
    const fits = (r: number): boolean => {
      const latencyLeft = tau - problem.fixedSeconds(count + r, maxOutput) - sumC;
      if (!within(r * (minC[i] ?? 0), latencyLeft)) return false;
      if (ragged && !within(r * (minKv[i] ?? 0), kvLeft)) return false;
      const surrogateLeft = lw * latencyLeft + (ragged ? kw * kvLeft : 0);
      const smallest = countFirst ? (prefW[i + r] ?? 0) - (prefW[i] ?? 0) : r * (minW[i] ?? 0);
      return within(smallest, surrogateLeft);
    };
    return largestWhere(0, cap, fits);
  };

  /** Upper bound on the tokens order[i..] can add: fractional knapsack in ratio order. */
  const fractionalTokens = (i: number, capacity: number): number => {
    const base = prefW[i] ?? 0;
    const lo = largestWhere(i, P, (t) => within((prefW[t] ?? 0) - base, capacity));
    let tokens = (prefN[lo] ?? 0) - (prefN[i] ?? 0);
    if (lo < P) {
      const wi = w[lo] ?? 0;
      const left = capacity - ((prefW[lo] ?? 0) - base);
      if (wi > 0 && left > 0) tokens += ((n[lo] ?? 0) * left) / wi;
    }
    return tokens;
  };

  const chosen: number[] = [];
  let stopped = false;
  const consider = (primary: number, secondary: number): void => {
    if (!beats(incumbent, primary, secondary)) return;
    const members = [problem.forced, ...chosen.map((j) => order[j] ?? 0)].map(
      (i) => terms.members[i] as PreparedRequest,
    );
    if (control.accept(members)) {
      incumbent.primary = primary;
      incumbent.secondary = secondary;
      incumbent.members = members;
    }
  };

  const visit = (
    from: number,
    count: number,
    sumC: number,
    sumKv: number,
    sumN: number,
    maxOutput: number,
  ): void => {
    for (let i = from; i < P; i++) {
      if (stopped) return;
      const more = moreAllowed(i, count, sumC, sumKv, maxOutput);
      if (more === 0) return;
      let tokenBound: number;
      if (countFirst) {
        tokenBound = sumN + (topN?.[i * width + more] ?? 0);
      } else {
        const latencyLeft = tau - problem.fixedSeconds(count + 1, maxOutput) - sumC;
        const capacity = lw * latencyLeft + (ragged ? kw * (kvCapacity - sumKv) : 0);
        tokenBound = sumN + Math.min(fractionalTokens(i, capacity), topN?.[i * width + more] ?? 0);
      }
      const countBound = count + more;
      if (
        !(countFirst
          ? beats(incumbent, countBound, tokenBound)
          : beats(incumbent, tokenBound, countBound))
      )
        return;
      if (!control.tick()) {
        stopped = true;
        return;
      }
      const nextCount = count + 1;
      const nextC = sumC + (c[i] ?? 0);
      const nextKv = sumKv + (kv[i] ?? 0);
      const nextMax = Math.max(maxOutput, n[i] ?? 0);
      if (
        !within(problem.fixedSeconds(nextCount, nextMax) + nextC, tau) ||
        (ragged && !within(nextKv, kvCapacity))
      )
        continue; // and every batch of this branch, which contains this one
      const nextN = sumN + (n[i] ?? 0);
      chosen.push(i);
      if (countFirst) consider(nextCount, nextN);
      else consider(nextN, nextCount);
      visit(i + 1, nextCount, nextC, nextKv, nextN, nextMax);
      chosen.pop();
    }
  };

  const f = problem.forced;
  const c0 = terms.latency[f] ?? 0;
  const kv0 = terms.kv[f] ?? 0;
  const n0 = terms.tokens[f] ?? 0;
  if (
    !within(problem.fixedSeconds(1, n0) + c0, tau) ||
    (ragged && !within(kv0, kvCapacity)) ||
    problem.maxCount < 1
  )
    return true;
  if (!control.tick()) return false;
  if (countFirst) consider(1, n0);
  else consider(n0, 1);
  visit(0, 1, c0, kv0, n0, n0);
  return !stopped;
}
