// The deadline sweep of one cell: every batch has a tightest deadline, the deadline of one of
// its members, so the cell's batches split by that member (the threshold): a batch with
// threshold j holds j and members whose deadline is at least j's (ties: earlier in the order).
// For every threshold an upper bound on the size and tokens it can reach comes from Fenwick
// trees over the members seen so far (r smallest latency terms and KV footprints that fit, r
// largest outputs), in O(log^2 n); thresholds are then searched (threshold-search.ts) in the
// order of their bounds, best first, until no bound beats the incumbent.
import { OBJECTIVE, type Objective } from '../../model/types.js';
import { Fenwick } from './fenwick.js';
import { largestWhere } from './order.js';
import {
  beats,
  searchThreshold,
  within,
  type Incumbent,
  type MemberTerms,
  type SearchControl,
  type ThresholdProblem,
} from './threshold-search.js';

/** The members of one cell and what a batch of them pays. */
export interface Cell {
  /** Candidate indices, ordered by deadline, latest first (ties by index). */
  readonly members: readonly number[];
  readonly terms: MemberTerms;
  readonly maxCount: number;
  /** KV tokens that fit (ragged padding); Infinity under static padding. */
  readonly kvCapacity: number;
  readonly fixedSeconds: (count: number, maxOutput: number) => number;
}

export interface ThresholdBound {
  readonly cell: Cell;
  /** Position of the threshold member in cell.members. */
  readonly position: number;
  readonly count: number;
  readonly tokens: number;
}

/** Ranks of every candidate for the Fenwick trees of thresholdBounds. */
export interface TermRanks {
  /** By the cell's latency term, ascending. */
  readonly latency: Int32Array;
  /** By KV tokens, ascending (ragged padding). */
  readonly kv: Int32Array;
  /** By output tokens, descending. */
  readonly tokens: Int32Array;
}

/**
 * Upper bounds (size, tokens) of every threshold of `cell` whose size bound reaches `minCount`
 * (thresholds whose deadline is under `minLatency`, a lower bound on the latency of any batch
 * of minCount members, cannot).
 */
export function thresholdBounds(
  cell: Cell,
  ranks: TermRanks,
  minCount = 1,
  minLatency = 0,
): ThresholdBound[] {
  const { members, terms } = cell;
  const size = terms.members.length;
  const latencyTree = new Fenwick(size);
  const kvTree = new Fenwick(size);
  const tokenTree = new Fenwick(size);
  const ragged = Number.isFinite(cell.kvCapacity);
  const out: ThresholdBound[] = [];
  for (let position = 0; position < members.length; position++) {
    const j = members[position] ?? 0;
    const tau = terms.members[j]?.deadlineSeconds ?? 0;
    if (!within(minLatency, tau)) break; // deadlines only fall from here
    const n = terms.tokens[j] ?? 0;
    const c = terms.latency[j] ?? 0;
    if (position + 1 >= minCount) {
      const kvLeft = cell.kvCapacity - (terms.kv[j] ?? 0);
      const fits = (r: number): boolean =>
        within(latencyTree.sumOfFirst(r) + c + cell.fixedSeconds(1 + r, n), tau) &&
        (!ragged || within(kvTree.sumOfFirst(r), kvLeft));
      const hi = Math.min(cell.maxCount - 1, position);
      if (minCount - 1 <= hi && fits(minCount - 1)) {
        const lo = largestWhere(minCount - 1, hi, fits);
        out.push({ cell, position, count: 1 + lo, tokens: n + tokenTree.sumOfFirst(lo) });
      }
    }
    latencyTree.add(ranks.latency[j] ?? 0, c);
    if (ragged) kvTree.add(ranks.kv[j] ?? 0, terms.kv[j] ?? 0);
    tokenTree.add(ranks.tokens[j] ?? 0, n);
  }
  return out;
}

/** Surrogate multipliers of a threshold: latency alone under static padding (KV is in maxCount). */
export type SurrogateChooser = (problem: Omit<ThresholdProblem, 'latencyWeight' | 'kvWeight'>) => {
  latencyWeight: number;
  kvWeight: number;
};

const LATENCY_ONLY: SurrogateChooser = () => ({ latencyWeight: 1, kvWeight: 0 });

/**
 * Searches thresholds in the order of their bounds (best first) until none can beat the
 * incumbent, which it updates. Returns false when the control stopped the search.
 */
export function searchThresholds(
  bounds: readonly ThresholdBound[],
  objective: Objective,
  incumbent: Incumbent,
  control: SearchControl,
  chooseSurrogate: SurrogateChooser = LATENCY_ONLY,
): boolean {
  const countFirst = objective === OBJECTIVE.requests;
  const key = (b: ThresholdBound): [number, number] =>
    countFirst ? [b.count, b.tokens] : [b.tokens, b.count];
  const sorted = [...bounds].sort((a, b) => {
    const [a1, a2] = key(a);
    const [b1, b2] = key(b);
    return b1 - a1 || b2 - a2;
  });
  for (const bound of sorted) {
    const [primary, secondary] = key(bound);
    if (!beats(incumbent, primary, secondary)) break;
    // A threshold's setup (its order, bound tables, surrogate) costs O(n log n) or more before
    // it evaluates any batch: read the clock first.
    if (control.expired()) return false;
    const { cell, position } = bound;
    const forced = cell.members[position] ?? 0;
    const base = {
      forced,
      pool: cell.members.slice(0, position),
      deadlineSeconds: cell.terms.members[forced]?.deadlineSeconds ?? 0,
      maxCount: cell.maxCount,
      kvCapacity: cell.kvCapacity,
      fixedSeconds: cell.fixedSeconds,
    };
    const problem: ThresholdProblem = { ...base, ...chooseSurrogate(base) };
    if (!searchThreshold(problem, cell.terms, objective, incumbent, control)) return false;
  }
  return true;
}
