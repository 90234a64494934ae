// The most output tokens under additive constraints (ragged padding): among the batches whose
// latency, fixed(size, longest output) plus the sum of the members' latency terms, fits their
// tightest deadline and whose KV tokens fit in memory, one with the most tokens, if it beats
// the incumbent. Two uses: the tie-break of objective `requests` (exactly `size` members, the
// largest size), and objective `tokens` itself (at most `size` members; more members break ties).
//
// Thresholds as in thresholds.ts: a batch's tightest-deadline member j (the last of its members
// in deadline order) and b - 1 members from the ones before it, so both limits are constants.
// Bound: for any multipliers lambda, mu >= 0, the tokens of b - 1 members that fit in latency
// A and KV B are at most lambda A + mu B + the b - 1 largest reduced tokens
// n_u - lambda c_u - mu kv_u (Lagrangian relaxation of the two constraints, keeping the size;
// its minimum over the multipliers is the LP bound); with at most b - 1 members, the positive
// ones among them. One sweep over the thresholds with the reduced tokens in a Fenwick tree
// bounds them all under given multipliers; each threshold keeps the least bound over the
// multipliers fitted so far. The threshold of the largest bound is fitted next (the bound is
// convex and piecewise linear along each multiplier: line fits jump to where the tangents at
// the ends of a bracket meet), and every threshold is bounded again under each fit, until no
// bound beats the incumbent; a threshold whose fitted bound still beats it is searched depth
// first, adding members in order of reduced tokens,
// where the largest reduced tokens of what is left are simply the next ones (prefix sums):
// O(1) per node. The search prunes only as well as its multipliers fit, so it runs with a
// thorough fit.
import type { PreparedRequest } from '../../model/batch.js';
import { Fenwick } from './fenwick.js';
import { kthLargest, orderByDescending, ranksOf } from './order.js';
import {
  within,
  type Incumbent,
  type MemberTerms,
  type SearchControl,
} from './threshold-search.js';

export interface FixedSizeProblem {
  readonly terms: MemberTerms;
  /** Candidate indices by deadline, latest first. */
  readonly byDeadline: Int32Array;
  /** The batch size: exactly this many members, or at most (exactSize false). */
  readonly size: number;
  /**
   * True: every batch has `size` members and the incumbent is (size, tokens) (objective
   * requests' tie-break). False: at most `size` members and the incumbent is (tokens, members)
   * (objective tokens).
   */
  readonly exactSize: boolean;
  /** KV tokens that fit; Infinity when memory is not a sum over the members. */
  readonly kvCapacity: number;
  /** Latency every batch pays given its size and longest output; nondecreasing in both. */
  readonly fixedSeconds: (count: number, maxOutput: number) => number;
}

/** Steps of a line fit towards the minimum (and at most as many to grow its bracket). */
export const LINE_STEPS = 16;

interface Multipliers {
  readonly latency: number;
  readonly kv: number;
}

const ZERO: Multipliers = { latency: 0, kv: 0 };

interface Evaluation {
  readonly value: number;
  readonly latencySlope: number;
  readonly kvSlope: number;
}

type Axis = 'latency' | 'kv';

/**
 * Replaces `incumbent` with a better batch while one exists (exactSize: one of `size` members
 * with more tokens; otherwise more tokens, or as many with more members), ending with the best.
 * Returns false when the control stopped the search.
 */
export function maximizeTokensAtSize(
  problem: FixedSizeProblem,
  incumbent: Incumbent,
  control: SearchControl,
): boolean {
  return new FixedSizeSearch(problem, incumbent, control).run();
}

class FixedSizeSearch {
  /** Candidates in deadline order (position p: the p-th latest deadline) and their terms. */
  private readonly M: number;
  private readonly member: Int32Array;
  private readonly n: Float64Array;
  private readonly c: Float64Array;
  private readonly kv: Float64Array;
  private readonly tau: Float64Array;
  private readonly b: number;
  private readonly exact: boolean;
  private readonly hasKv: boolean;
  /** Tokens are integers: a bound beats the incumbent only if it reaches one more token. */
  private readonly integral: boolean;
  /** Where the line fits start looking: the best tokens per unit of each constraint. */
  private readonly latencyScale: number;
  private readonly kvScale: number;
  /** Per threshold position: latency and KV left beside its own member (NaN: infeasible). */
  private readonly latencyLeft: Float64Array;
  private readonly kvLeft: Float64Array;
  /** Reduced tokens of the positions, and a copy for selection. */
  private readonly reducedTokens: Float64Array;
  private readonly work: Float64Array;
  private stopped = false;

  constructor(
    private readonly problem: FixedSizeProblem,
    private readonly incumbent: Incumbent,
    private readonly control: SearchControl,
  ) {
    const { terms, byDeadline } = problem;
    const M = byDeadline.length;
    this.M = M;
    this.b = problem.size;
    this.exact = problem.exactSize;
    this.member = Int32Array.from(byDeadline);
    this.n = new Float64Array(M);
    this.c = new Float64Array(M);
    this.kv = new Float64Array(M);
    this.tau = new Float64Array(M);
    this.hasKv = Number.isFinite(problem.kvCapacity);
    let integral = true;
    let latencyScale = 0;
    let kvScale = 0;
    for (let p = 0; p < M; p++) {
      const i = byDeadline[p] ?? 0;
      const n = terms.tokens[i] ?? 0;
      const c = terms.latency[i] ?? 0;
      const kv = this.hasKv ? (terms.kv[i] ?? 0) : 0;
      this.n[p] = n;
      this.c[p] = c;
      this.kv[p] = kv;
      this.tau[p] = terms.members[i]?.deadlineSeconds ?? 0;
      if (!Number.isInteger(n)) integral = false;
      if (c > 0) latencyScale = Math.max(latencyScale, n / c);
      if (kv > 0) kvScale = Math.max(kvScale, n / kv);
    }
    this.integral = integral;
    this.latencyScale = latencyScale > 0 ? latencyScale : 1;
    this.kvScale = kvScale > 0 ? kvScale : 1;
    this.reducedTokens = new Float64Array(M);
    this.work = new Float64Array(M);
    this.latencyLeft = new Float64Array(M);
    this.kvLeft = new Float64Array(M);
    for (let p = 0; p < M; p++) {
      // fixed(count, ...) grows with the count: the least count a batch may have.
      const own = (this.c[p] ?? 0) + problem.fixedSeconds(this.exact ? this.b : 1, this.n[p] ?? 0);
      const tau = this.tau[p] ?? 0;
      const kvLeft = this.hasKv ? problem.kvCapacity - (this.kv[p] ?? 0) : 0;
      const feasible = within(own, tau) && within(0, kvLeft);
      this.latencyLeft[p] = feasible ? Math.max(0, tau - own) : NaN;
      this.kvLeft[p] = feasible ? Math.max(0, kvLeft) : NaN;
    }
  }

  /** The incumbent's tokens and members. */
  private get bestTokens(): number {
    return this.exact ? this.incumbent.secondary : this.incumbent.primary;
  }

  private get bestCount(): number {
    return this.exact ? this.incumbent.primary : this.incumbent.secondary;
  }

  /**
   * Whether a batch with at most `bound` tokens and `count` members can beat the incumbent
   * (the count matters only with at most `size` members: more members break a tie on tokens).
   */
  private canBeat(bound: number, count: number = this.b): boolean {
    const slack = Math.abs(bound) * 1e-9 + 1e-9;
    const most = this.integral ? Math.floor(bound + slack) : bound + slack;
    if (most > this.bestTokens) return true;
    return !this.exact && most >= this.bestTokens && count > this.bestCount;
  }

  /** Takes `members` as the incumbent when CostModel accepts them and they beat it. */
  private consider(tokens: number, count: number, members: () => PreparedRequest[]): void {
    const better =
      tokens > this.bestTokens ||
      (!this.exact && tokens === this.bestTokens && count > this.bestCount);
    if (!better) return;
    const batch = members();
    if (!this.control.accept(batch)) return;
    if (this.exact) this.incumbent.secondary = tokens;
    else {
      this.incumbent.primary = tokens;
      this.incumbent.secondary = count;
    }
    this.incumbent.members = batch;
  }

  /** Latency and KV left to the members before threshold position p (NaN: infeasible). */
  private limits(p: number): [number, number] {
    return [this.latencyLeft[p] ?? NaN, this.kvLeft[p] ?? NaN];
  }

  /** reducedTokens[0..count) under `m`. */
  private reduce(m: Multipliers, count: number): void {
    const { n, c, kv, reducedTokens } = this;
    const lambda = m.latency;
    const mu = m.kv;
    for (let p = 0; p < count; p++)
      reducedTokens[p] = (n[p] ?? 0) - lambda * (c[p] ?? 0) - mu * (kv[p] ?? 0);
  }

  /** Bounds of every threshold position under `m` (-Infinity: no batch of size b there). */
  private thresholdBounds(m: Multipliers): Float64Array {
    const { M, b, reducedTokens } = this;
    this.reduce(m, M);
    const rank = ranksOf(orderByDescending(reducedTokens));
    // With at most b - 1 more members, only positive reduced tokens count: ranks below this.
    let positive = 0;
    for (let q = 0; q < M; q++) if ((reducedTokens[q] ?? 0) > 0) positive++;
    const tree = new Fenwick(M);
    const bounds = new Float64Array(M).fill(-Infinity);
    for (let p = 0; p < M; p++) {
      if (p >= b - 1 || !this.exact) {
        const [A, B] = this.limits(p);
        if (!Number.isNaN(A)) {
          const r = this.exact ? b - 1 : Math.min(b - 1, tree.countUpTo(positive - 1));
          bounds[p] = (this.n[p] ?? 0) + m.latency * A + m.kv * B + tree.sumOfFirst(r);
        }
      }
      tree.add(rank[p] ?? 0, reducedTokens[p] ?? 0);
    }
    return bounds;
  }

  /**
   * The bound of threshold position p under `m`, from scratch (O(p)), and its slopes in the
   * two multipliers: the latency and KV left minus what the b - 1 members of the largest
   * reduced tokens use (a subgradient: the bound is convex in the multipliers).
   */
  private boundAt(p: number, m: Multipliers): Evaluation {
    const [A, B] = this.limits(p);
    if (Number.isNaN(A)) return { value: -Infinity, latencySlope: 0, kvSlope: 0 };
    const r = this.b - 1;
    const { reducedTokens, c, kv } = this;
    this.reduce(m, p);
    // The r-th largest reduced tokens, then the members above it and ties with it up to r
    // (with at most r members, only the positive ones).
    const rth = r > 0 && p > 0 ? kthLargest(reducedTokens, p, Math.min(r, p), this.work) : Infinity;
    const cut = this.exact ? rth : Math.max(rth, 0);
    let sum = 0;
    let taken = 0;
    let latencyUsed = 0;
    let kvUsed = 0;
    for (let pass = 0; pass < 2 && taken < r; pass++) {
      for (let q = 0; q < p && taken < r; q++) {
        const x = reducedTokens[q] ?? 0;
        if (pass === 0 ? x > cut : x === cut && (this.exact || x > 0)) {
          sum += x;
          latencyUsed += c[q] ?? 0;
          kvUsed += kv[q] ?? 0;
          taken++;
        }
      }
    }
    return {
      value: (this.n[p] ?? 0) + m.latency * A + m.kv * B + sum,
      latencySlope: A - latencyUsed,
      kvSlope: B - kvUsed,
    };
  }

  /**
   * Minimises the bound of threshold p along one multiplier, the other fixed. Along it the bound
   * is convex and piecewise linear, so with a bracket [lo, hi] (slope < 0 at lo, >= 0 at hi) the
   * next point is where the two tangents meet: on the piece between them it is the minimum,
   * and a few steps reach it (at most LINE_STEPS, and as many to grow the bracket).
   */
  private lineFit(p: number, m: Multipliers, axis: Axis): Multipliers {
    const at = (x: number): Multipliers =>
      axis === 'latency' ? { latency: x, kv: m.kv } : { latency: m.latency, kv: x };
    const slope = (e: Evaluation): number => (axis === 'latency' ? e.latencySlope : e.kvSlope);
    let lo = 0;
    let low = this.boundAt(p, at(0));
    let best = at(0);
    let bestValue = low.value;
    if (!(slope(low) < 0)) return best; // nondecreasing from 0
    const evaluate = (x: number): Evaluation => {
      const e = this.boundAt(p, at(x));
      if (e.value < bestValue) {
        best = at(x);
        bestValue = e.value;
      }
      return e;
    };
    let hi = axis === 'latency' ? this.latencyScale : this.kvScale;
    let high = evaluate(hi);
    for (let step = 0; step < LINE_STEPS && slope(high) < 0; step++) {
      lo = hi;
      low = high;
      hi *= 4;
      high = evaluate(hi);
    }
    if (slope(high) < 0) return best;
    for (let step = 0; step < LINE_STEPS; step++) {
      const sLow = slope(low);
      const sHigh = slope(high);
      // Tangent at lo: low.value + sLow (x - lo); at hi: high.value + sHigh (x - hi).
      const x = (high.value - low.value + sLow * lo - sHigh * hi) / (sLow - sHigh);
      if (!(x > lo && x < hi)) break;
      const e = evaluate(x);
      const predicted = low.value + sLow * (x - lo);
      if (e.value <= predicted + Math.abs(predicted) * 1e-12) break; // x is on both pieces
      if (slope(e) < 0) {
        lo = x;
        low = e;
      } else {
        hi = x;
        high = e;
      }
    }
    return best;
  }

  /**
   * Multipliers that make the bound of threshold p small. The two constraints are close to
   * parallel (a member's latency is mostly proportional to its KV tokens), so the minimum is
   * usually near one axis. Quick: refine `start` (an earlier threshold's fit) along its larger
   * multiplier, then the other. Thorough (or without a start): fit each axis from 0 and refine
   * the other multiplier. The best of those and `start` is kept.
   */
  private fit(p: number, start: Multipliers, thorough: boolean): Multipliers {
    const value = (x: Multipliers): number => this.boundAt(p, x).value;
    const other = (axis: Axis): Axis => (axis === 'latency' ? 'kv' : 'latency');
    const refine = (from: Multipliers, axis: Axis): Multipliers =>
      this.hasKv
        ? this.lineFit(p, this.lineFit(p, from, axis), other(axis))
        : this.lineFit(p, from, 'latency');
    let best = start;
    let bestValue = value(start);
    const keep = (x: Multipliers): void => {
      const v = value(x);
      if (v < bestValue) {
        best = x;
        bestValue = v;
      }
    };
    const warm = start.latency > 0 || start.kv > 0;
    if (warm && !thorough) {
      const larger = start.latency * this.kvScale >= start.kv * this.latencyScale;
      keep(refine(start, larger ? 'latency' : 'kv'));
    } else {
      keep(refine(ZERO, 'latency'));
      if (this.hasKv) keep(refine(ZERO, 'kv'));
    }
    return best;
  }

  run(): boolean {
    if (this.b < 1 || (this.exact && this.M < this.b)) return true;
    /** Most members a batch of threshold p can have. */
    const most = (p: number): number => (this.exact ? this.b : 1 + Math.min(this.b - 1, p));
    // The least bound of every threshold over the multipliers fitted so far (each is valid).
    const bounds = this.thresholdBounds(ZERO);
    let fitted = ZERO;
    for (;;) {
      let p = -1;
      for (let q = 0; q < this.M; q++) {
        if (p < 0 || (bounds[q] ?? -Infinity) > (bounds[p] ?? -Infinity)) p = q;
      }
      if (p < 0 || (bounds[p] ?? -Infinity) === -Infinity) return true;
      if (!this.canBeat(bounds[p] ?? -Infinity, most(p))) {
        // Every other bound is lower; under objective tokens one may still tie on tokens with
        // more members.
        if (this.exact || !this.canBeat(bounds[p] ?? -Infinity, this.b)) return true;
        bounds[p] = -Infinity;
        continue;
      }
      if (this.control.expired()) return false;
      fitted = this.fit(p, fitted, false);
      this.tighten(bounds, fitted);
      if (this.canBeat(bounds[p] ?? -Infinity, most(p))) {
        // The thorough fit's multipliers bound the neighbouring thresholds well too (their pools
        // differ by a few members): sweeping them rules many out before their own fits, and they
        // start the next quick fit (a third less time per decision at 256 requests).
        const thorough = this.fit(p, fitted, true);
        this.tighten(bounds, thorough);
        fitted = thorough;
        if (this.canBeat(this.boundAt(p, thorough).value, most(p))) {
          this.search(p, thorough);
          if (this.stopped) return false;
        }
      }
      bounds[p] = -Infinity; // searched (or bounded) to the end
    }
  }

  /** Lowers every threshold's bound to its bound under `m` where that is less. */
  private tighten(bounds: Float64Array, m: Multipliers): void {
    const swept = this.thresholdBounds(m);
    for (let q = 0; q < this.M; q++) bounds[q] = Math.min(bounds[q] ?? 0, swept[q] ?? 0);
  }

  /** Depth-first search of threshold position p with multipliers m. */
  private search(p: number, m: Multipliers): void {
    const { fixedSeconds, kvCapacity, terms } = this.problem;
    const { b, hasKv, exact } = this;
    if (Number.isNaN(this.limits(p)[0])) return;
    const tau = this.tau[p] ?? 0;
    // The pool (positions before p) in order of reduced tokens, largest first.
    this.reduce(m, p);
    const byReduced = orderByDescending(this.reducedTokens.subarray(0, p));
    const P = p;
    const member = new Int32Array(P);
    const c = new Float64Array(P);
    const kv = new Float64Array(P);
    const n = new Float64Array(P);
    const prefix = new Float64Array(P + 1);
    /** The first place whose reduced tokens are not positive (at most b - 1 members: the rest add nothing to the bound). */
    let positiveEnd = P;
    for (let t = 0; t < P; t++) {
      const q = byReduced[t] ?? 0;
      const rho = this.reducedTokens[q] ?? 0;
      member[t] = this.member[q] ?? 0;
      c[t] = this.c[q] ?? 0;
      kv[t] = this.kv[q] ?? 0;
      n[t] = this.n[q] ?? 0;
      prefix[t + 1] = (prefix[t] ?? 0) + rho;
      if (!(rho > 0) && positiveEnd === P) positiveEnd = t;
    }
    const minC = new Float64Array(P + 1).fill(Infinity);
    const minKv = new Float64Array(P + 1).fill(Infinity);
    for (let t = P - 1; t >= 0; t--) {
      minC[t] = Math.min(minC[t + 1] ?? Infinity, c[t] ?? 0);
      minKv[t] = Math.min(minKv[t + 1] ?? Infinity, kv[t] ?? 0);
    }
    const own = this.member[p] ?? 0;
    const chosen: number[] = [];
    const batch = (): PreparedRequest[] =>
      [own, ...chosen.map((t) => member[t] ?? 0)].map((i) => terms.members[i] as PreparedRequest);
    // `latency`, `kvUsed`, `tokens` and `count` are the chosen members', the threshold's own
    // included; `left` is how many more may (exactSize: must) join.
    const visit = (
      from: number,
      left: number,
      latency: number,
      kvUsed: number,
      tokens: number,
      count: number,
      maxOutput: number,
    ): void => {
      // fixed(count, ...) grows with the count: the least count a finished batch may have.
      const latencyLeft = tau - fixedSeconds(exact ? b : count, maxOutput) - latency;
      const kvLeft = hasKv ? kvCapacity - kvUsed : 0;
      const need = exact ? left : 1;
      for (let t = from; t + need <= P; t++) {
        if (this.stopped) return;
        if (!within(need * (minC[t] ?? 0), latencyLeft)) return;
        if (!within(need * (minKv[t] ?? 0), kvLeft)) return;
        const end = exact ? t + left : Math.min(t + left, Math.max(t, positiveEnd));
        const bound =
          tokens +
          m.latency * Math.max(0, latencyLeft) +
          m.kv * Math.max(0, kvLeft) +
          (prefix[end] ?? 0) -
          (prefix[t] ?? 0);
        // The bound only falls with t (and so does the count bound): later t are cut too.
        if (!this.canBeat(bound, count + Math.min(left, P - t))) return;
        if (!this.control.tick()) {
          this.stopped = true;
          return;
        }
        const nextMax = Math.max(maxOutput, n[t] ?? 0);
        const nextLatency = latency + (c[t] ?? 0);
        const nextKv = kvUsed + (kv[t] ?? 0);
        if (
          !within(fixedSeconds(exact ? b : count + 1, nextMax) + nextLatency, tau) ||
          (hasKv && !within(nextKv, kvCapacity))
        )
          continue;
        const nextTokens = tokens + (n[t] ?? 0);
        chosen.push(t);
        if (!exact || left === 1) this.consider(nextTokens, count + 1, batch);
        if (left > 1) visit(t + 1, left - 1, nextLatency, nextKv, nextTokens, count + 1, nextMax);
        chosen.pop();
      }
    };
    const n0 = this.n[p] ?? 0;
    if (!exact || b === 1) this.consider(n0, 1, batch);
    if (b > 1) visit(0, b - 1, this.c[p] ?? 0, this.kv[p] ?? 0, n0, 1, n0);
  }
}
