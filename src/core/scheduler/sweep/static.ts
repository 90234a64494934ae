// The sweep under static padding. A batch's cost depends on its members only through its size,
// its longest prompt S, its longest output N, its tightest deadline and the sum of the members'
// latency terms (decomposition.ts). So for every cell (S, N) (a prompt length and an output
// length that occur among the candidates) the members are the candidates with s <= S and
// n <= N, and a batch of the cell is feasible when its size fits the cell's memory capacity
// and fixed(size) + its latency terms <= its tightest deadline. Charging a batch its cell's
// (S, N) instead of its own maxima only overestimates, and every batch lies in the cell of its
// own maxima, so the best batch over all cells is the best batch.
//
// Phase 1, the largest size b*: in a cell, a batch of size k exists iff for some deadline tau_j
// the k smallest latency terms among the members with deadline >= tau_j fit in tau_j - fixed(k)
// (taking the k cheapest of those is never worse): a sweep over the cell's members by deadline
// with a heap, O(n log k). It runs only in cells that pass a necessary condition: the cell's
// k-th latest deadline covers the least latency any k candidates have there. The cells of one
// output length N (a column) are visited by growing S with the members' k latest deadlines in
// a heap; capacity and least latency only grow worse with S, which ends a column early, and a
// whole column is skipped when its k smallest prompts overflow memory or its k-th latest
// deadline cannot cover the least latency. A column N starts at the smallest prompt among its
// own members (n = N): below it a cell holds the same members as in column N-1, at a higher
// cost (dominated).
// Phase 2, the tie-break on tokens (under objective tokens, the objective itself): the cells
// that pass the condition for b* members (any size, under tokens), bounded by their largest
// outputs, are searched threshold by threshold (thresholds.ts) best bound first, until no
// bound beats the incumbent.
import type { CostModel, PreparedRequest } from '../../model/batch.js';
import { OBJECTIVE, type Objective } from '../../model/types.js';
import { linkSeconds, StaticCellCosts, type StaticCell } from './decomposition.js';
import { Fenwick } from './fenwick.js';
import { LargestK, SmallestK } from './heaps.js';
import {
  beats,
  within,
  type Incumbent,
  type MemberTerms,
  type SearchControl,
} from './threshold-search.js';
import { rankBy, searchThresholds, thresholdBounds, type Cell } from './thresholds.js';

export interface StaticSweepInput {
  readonly cost: CostModel;
  readonly candidates: readonly PreparedRequest[];
  readonly maxBatchSize: number;
  readonly objective: Objective;
  readonly control: SearchControl;
}

export interface SweepOutcome {
  readonly best: readonly PreparedRequest[];
  /** False when the control stopped the search (the incumbent is not proven optimal). */
  readonly complete: boolean;
  /** Cells whose members were swept or searched. */
  readonly cellsSearched: number;
}

/** The members of the cell being visited, for its k-th latest deadline (and tokens). */
interface CellTracker {
  /** A new column: the cell starts empty; `k` is the size the scan looks for. */
  begin(k: number): void;
  add(i: number): void;
  /** The k-th latest deadline among the members, or -Infinity when fewer than k. */
  kthLatest(k: number): number;
}

export function sweepStatic(input: StaticSweepInput): SweepOutcome {
  const { cost, candidates, control } = input;
  const M = candidates.length;
  const maxBatch = Math.min(input.maxBatchSize, M);
  const countFirst = input.objective === OBJECTIVE.requests;
  const link = Float64Array.from(candidates, (r) => linkSeconds(cost, r));
  const prompt = Float64Array.from(candidates, (r) => r.promptTokens);
  const output = Float64Array.from(candidates, (r) => r.outputTokens);
  const scale = Float64Array.from(candidates, (r) => r.scale);
  const deadline = Float64Array.from(candidates, (r) => r.deadlineSeconds);
  const uniformScale = scale.every((x) => x === (scale[0] ?? 1));

  // Orders and ranks: deadline (latest first), prompt ascending, output ascending (columns
  // nest: column N holds the candidates with n <= N) and descending (token sums).
  const sortedBy = (key: (i: number) => number): Int32Array =>
    Int32Array.from(candidates.keys()).sort((a, b) => key(a) - key(b) || a - b);
  const byDeadline = sortedBy((i) => -(deadline[i] ?? 0));
  const byPrompt = sortedBy((i) => prompt[i] ?? 0);
  const byOutput = sortedBy((i) => output[i] ?? 0);
  const byOutputDesc = sortedBy((i) => -(output[i] ?? 0));
  const rankIn = (order: Int32Array): Int32Array => {
    const rank = new Int32Array(M);
    order.forEach((i, r) => (rank[i] = r));
    return rank;
  };
  const deadlineRank = rankIn(byDeadline);
  const promptRank = rankIn(byPrompt);
  const tokenRank = rankIn(byOutputDesc);
  const outputs = Float64Array.from(new Set(output)).sort();
  const minPrompt = M > 0 ? (prompt[byPrompt[0] ?? 0] ?? 0) : 0;

  // Lower bounds on the latency terms of any k candidates: k smallest links, k smallest scales.
  const sortedLink = Float64Array.from(link).sort();
  const sortedScale = Float64Array.from(scale).sort();
  const linkLow = new Float64Array(M + 1);
  const scaleLow = new Float64Array(M + 1);
  for (let k = 0; k < M; k++) {
    linkLow[k + 1] = (linkLow[k] ?? 0) + (sortedLink[k] ?? 0);
    scaleLow[k + 1] = (scaleLow[k] ?? 0) + (sortedScale[k] ?? 0);
  }
  const cells = new StaticCellCosts(cost);
  /** Lower bound on the latency of any k members of the current cell. */
  const leastLatency = (k: number): number =>
    cells.fixedSeconds(k) + cells.perScaleSeconds * (scaleLow[k] ?? 0) + (linkLow[k] ?? 0);

  let cellsSearched = 0;
  /** Set when the control stops the search (budget spent). */
  const run = { stopped: false };
  // The column's members (nested as N grows), by prompt position and by deadline rank.
  const columnPrompts = new Fenwick(M);
  const columnDeadlines = new Fenwick(M);
  /** The k-th latest deadline of the whole column: at least that of any of its cells. */
  const columnKthLatest = (k: number): number => {
    const rank = columnDeadlines.kth(k);
    return rank < 0 ? -Infinity : (deadline[byDeadline[rank] ?? 0] ?? 0);
  };

  /**
   * Visits the cells (S, N) that may hold `size()` members (see the header), with the cell's
   * members in `tracker`. `visit(count, columnLatest)` gets the cell's member count and the
   * column's k-th latest deadline and returns false to end the column; `skipColumn` may skip
   * a column before its cells are visited.
   */
  const scanCells = (
    size: () => number,
    skipColumn: (N: number) => boolean,
    tracker: CellTracker,
    visit: (count: number, columnLatest: (k: number) => number) => boolean,
  ): void => {
    columnPrompts.clear();
    columnDeadlines.clear();
    let q = 0;
    let columnCount = 0;
    for (const N of outputs) {
      let ownPrompt = Infinity;
      for (; q < M && (output[byOutput[q] ?? 0] ?? 0) <= N; q++) {
        const i = byOutput[q] ?? 0;
        columnPrompts.add(promptRank[i] ?? 0, 0);
        columnDeadlines.add(deadlineRank[i] ?? 0, 0);
        columnCount++;
        ownPrompt = Math.min(ownPrompt, prompt[i] ?? 0);
      }
      if (run.stopped) return;
      const k = Math.max(1, size());
      if (columnCount < k) continue;
      if (cells.set(minPrompt, N).memoryCapacity < k) return; // and for every larger N
      if (skipColumn(N)) continue;
      const firstS = Math.max(ownPrompt, prompt[byPrompt[columnPrompts.kth(k)] ?? 0] ?? 0);
      if (cells.set(firstS, N).memoryCapacity < k) continue;
      // The column's k-th latest deadline, cached per k (k may change during the column).
      let latestK = k;
      let latest = columnKthLatest(k);
      const columnLatest = (kk: number): number => {
        if (kk !== latestK) {
          latestK = kk;
          latest = columnKthLatest(kk);
        }
        return latest;
      };
      if (!within(leastLatency(k), latest)) continue;
      tracker.begin(k);
      let p = 0;
      let count = 0;
      for (; p < M && (prompt[byPrompt[p] ?? 0] ?? 0) < firstS; p++) {
        const i = byPrompt[p] ?? 0;
        if ((output[i] ?? 0) > N) continue;
        tracker.add(i);
        count++;
      }
      while (p < M) {
        const S = prompt[byPrompt[p] ?? 0] ?? 0;
        let added = false;
        for (; p < M && (prompt[byPrompt[p] ?? 0] ?? 0) === S; p++) {
          const i = byPrompt[p] ?? 0;
          if ((output[i] ?? 0) > N) continue;
          tracker.add(i);
          count++;
          added = true;
        }
        if (!added) continue; // the same members as the previous cell, at a higher cost
        if (!control.tick()) {
          run.stopped = true;
          return;
        }
        cells.set(S, N);
        if (!visit(count, columnLatest)) break;
      }
    }
  };

  // The cell's k latest deadlines in a heap, rebuilt when k changes.
  const latestHeap = new LargestK(maxBatch + 1);
  const heapMembers = new Int32Array(M);
  let heapCount = 0;
  let heapK = 0;
  const heapTracker: CellTracker = {
    begin(k) {
      latestHeap.reset(k);
      heapK = k;
      heapCount = 0;
    },
    add(i) {
      heapMembers[heapCount++] = i;
      latestHeap.offer(deadline[i] ?? 0);
    },
    kthLatest(k) {
      if (k !== heapK) {
        latestHeap.reset(k);
        heapK = k;
        for (let m = 0; m < heapCount; m++) latestHeap.offer(deadline[heapMembers[m] ?? 0] ?? 0);
      }
      return latestHeap.kth;
    },
  };
  /** The necessary condition: the cell's k-th latest deadline covers its least latency. */
  const allows = (tracker: CellTracker, k: number): boolean =>
    within(leastLatency(k), tracker.kthLatest(k));

  const heap = new SmallestK(Math.max(1, maxBatch));
  /**
   * Sweeps the members of the current cell from the latest deadline; each prefix's k smallest
   * terms form the cheapest k-batch with that deadline. A batch of exactly k members that
   * CostModel accepts, null when none exists, 'unsure' when only batches on a float boundary
   * were found (the caller then searches the cell exactly).
   */
  const batchOfSize = (k: number): number[] | null | 'unsure' => {
    cellsSearched++;
    heap.reset(k);
    const S = cells.promptTokens;
    const N = cells.outputTokens;
    const fixed = cells.fixedSeconds(k);
    const perScale = cells.perScaleSeconds;
    let unsure = false;
    for (let rank = 0; rank < M; rank++) {
      const i = byDeadline[rank] ?? 0;
      if ((prompt[i] ?? 0) > S || (output[i] ?? 0) > N) continue;
      heap.offer((link[i] ?? 0) + (scale[i] ?? 0) * perScale, i);
      if (heap.size < k) continue;
      if (!control.tick()) {
        run.stopped = true;
        return null;
      }
      if (!within(fixed + heap.sum, deadline[i] ?? 0)) continue;
      const members = heap.members();
      if (control.accept(members.map((m) => candidates[m] as PreparedRequest))) return members;
      unsure = true;
    }
    return unsure ? 'unsure' : null;
  };

  /** A cell for the threshold search: its members by deadline and their terms. */
  const cellOf = (cell: StaticCell, maxCount: number): Cell => {
    const members: number[] = [];
    for (let rank = 0; rank < M; rank++) {
      const i = byDeadline[rank] ?? 0;
      if ((prompt[i] ?? 0) <= cell.promptTokens && (output[i] ?? 0) <= cell.outputTokens)
        members.push(i);
    }
    const terms: MemberTerms = {
      members: candidates,
      latency: link.map((l, i) => l + (scale[i] ?? 0) * cell.perScaleSeconds),
      kv: new Float64Array(M),
      tokens: output,
    };
    return {
      members,
      terms,
      maxCount,
      kvCapacity: Infinity,
      fixedSeconds: (count) => cell.fixedSeconds(count),
    };
  };
  // Fenwick ranks of the threshold bounds: by latency term (the link order when every scale
  // is equal) and by output.
  const linkRank = rankBy(M, (i) => link[i] ?? 0);
  const ranksOf = (terms: MemberTerms): Parameters<typeof thresholdBounds>[1] => ({
    latency: uniformScale ? linkRank : rankBy(M, (i) => terms.latency[i] ?? 0),
    kv: linkRank,
    tokens: tokenRank,
  });

  // Phase 1: the largest size.
  let bestCount = 0;
  let bestMembers: readonly PreparedRequest[] = [];
  scanCells(
    () => bestCount + 1,
    () => bestCount >= maxBatch,
    heapTracker,
    (count, columnLatest) => {
      const cap = Math.min(cells.memoryCapacity, maxBatch);
      for (;;) {
        const k = bestCount + 1;
        if (k > cap) return false; // capacity only falls as S grows
        const least = leastLatency(k);
        if (!within(least, columnLatest(k))) return false; // least only grows
        if (k > count || !allows(heapTracker, k)) return true;
        const batch = batchOfSize(k);
        if (run.stopped) return false;
        if (batch === null) return true;
        if (batch === 'unsure') {
          // Float boundary: the exact search of the cell decides.
          const probe: Incumbent = { primary: bestCount, secondary: Infinity, members: [] };
          const cell = cellOf(cells.snapshot(), cap);
          cellsSearched++;
          const bounds = thresholdBounds(cell, ranksOf(cell.terms), k, least);
          if (!searchThresholds(bounds, OBJECTIVE.requests, probe, control)) run.stopped = true;
          if (run.stopped || probe.members.length <= bestCount) return !run.stopped;
          bestCount = probe.members.length;
          bestMembers = probe.members;
          continue;
        }
        bestCount = k;
        bestMembers = batch.map((i) => candidates[i] as PreparedRequest);
      }
    },
  );
  const tokensOf = (ms: readonly PreparedRequest[]): number =>
    ms.reduce((a, r) => a + r.outputTokens, 0);
  const incumbent: Incumbent = {
    primary: countFirst ? bestCount : tokensOf(bestMembers),
    secondary: countFirst ? tokensOf(bestMembers) : bestCount,
    members: bestMembers,
  };
  if (run.stopped || bestCount === 0) {
    return { best: incumbent.members, complete: !run.stopped, cellsSearched };
  }

  // Phase 2: cells whose upper bound (size, tokens) beats the incumbent. Under objective
  // requests a cell must pass the condition for b* members; under tokens, for one. A member
  // whose deadline is under the column's least latency for that size (at the column's first
  // cell: it only grows along the column) is in no such batch, so its output is left out of
  // the cell's token bound.
  interface Found {
    readonly S: number;
    readonly N: number;
    readonly count: number;
    readonly tokens: number;
  }
  const found: Found[] = [];
  const need = countFirst ? bestCount : 1;
  let tokenFloor = 0;
  if (countFirst) {
    // The b* largest outputs that may count, in a heap.
    const tokenHeap = new LargestK(bestCount);
    const tieTracker: CellTracker = {
      begin(k) {
        heapTracker.begin(k);
        tokenHeap.reset(k);
        tokenFloor = leastLatency(k);
      },
      add(i) {
        heapTracker.add(i);
        if (within(tokenFloor, deadline[i] ?? 0)) tokenHeap.offer(output[i] ?? 0);
      },
      kthLatest: (k) => heapTracker.kthLatest(k),
    };
    const b = bestCount;
    scanCells(
      () => b,
      (N) => !beats(incumbent, b, b * N), // a cell's tokens are at most b* N
      tieTracker,
      (_count, columnLatest) => {
        if (Math.min(cells.memoryCapacity, maxBatch) < b) return false;
        const tokens = tokenHeap.sum;
        if (tokenHeap.size < b || !beats(incumbent, b, tokens)) return true;
        if (!within(leastLatency(b), columnLatest(b))) return false;
        if (allows(tieTracker, b))
          found.push({ S: cells.promptTokens, N: cells.outputTokens, count: b, tokens });
        return true;
      },
    );
  } else {
    // Deadlines and the outputs that may count in Fenwick trees: any size, token sums.
    const cellDeadlines = new Fenwick(M);
    const cellTokens = new Fenwick(M);
    const sumTracker: CellTracker = {
      begin(k) {
        cellDeadlines.clear();
        cellTokens.clear();
        tokenFloor = leastLatency(k);
      },
      add(i) {
        cellDeadlines.add(deadlineRank[i] ?? 0, 0);
        if (within(tokenFloor, deadline[i] ?? 0)) cellTokens.add(tokenRank[i] ?? 0, output[i] ?? 0);
      },
      kthLatest(k) {
        const rank = cellDeadlines.kth(k);
        return rank < 0 ? -Infinity : (deadline[byDeadline[rank] ?? 0] ?? 0);
      },
    };
    const most = (limit: number, N: number): number => limit * N;
    scanCells(
      () => 1,
      (N) => !beats(incumbent, most(Math.min(maxBatch, bestCount), N), bestCount),
      sumTracker,
      (count, columnLatest) => {
        const limit = Math.min(cells.memoryCapacity, maxBatch, bestCount);
        if (!beats(incumbent, most(limit, cells.outputTokens), limit)) return false; // falls
        const cap = Math.min(limit, count);
        if (cap < 1 || !beats(incumbent, cellTokens.sumOfFirst(cap), cap)) return true;
        if (!within(leastLatency(1), columnLatest(1))) return false;
        if (!allows(sumTracker, 1)) return true;
        let size = 1;
        let hi = cap;
        while (size < hi) {
          const mid = (size + hi + 1) >> 1;
          if (allows(sumTracker, mid)) size = mid;
          else hi = mid - 1;
        }
        const tokens = cellTokens.sumOfFirst(size);
        if (beats(incumbent, tokens, size))
          found.push({ S: cells.promptTokens, N: cells.outputTokens, count: size, tokens });
        return true;
      },
    );
  }

  const key = (c: Found): [number, number] =>
    countFirst ? [c.count, c.tokens] : [c.tokens, c.count];
  found.sort((a, b) => {
    const [a1, a2] = key(a);
    const [b1, b2] = key(b);
    return b1 - a1 || b2 - a2;
  });
  /** The k largest outputs among the cell's members whose deadline covers `least`. */
  const tightTokens = (S: number, N: number, least: number, k: number): number => {
    let sum = 0;
    let taken = 0;
    for (let r = 0; r < M && taken < k; r++) {
      const i = byOutputDesc[r] ?? 0;
      if ((prompt[i] ?? 0) > S || (output[i] ?? 0) > N || !within(least, deadline[i] ?? 0))
        continue;
      sum += output[i] ?? 0;
      taken++;
    }
    return sum;
  };
  for (const c of found) {
    if (run.stopped) break;
    const [primary, secondary] = key(c);
    if (!beats(incumbent, primary, secondary)) break;
    const snapshot = cells.set(c.S, c.N).snapshot();
    const least = leastLatency(need);
    const tight = tightTokens(c.S, c.N, least, c.count);
    if (countFirst ? !beats(incumbent, c.count, tight) : !beats(incumbent, tight, c.count))
      continue;
    cellsSearched++;
    const cell = cellOf(snapshot, c.count);
    const bounds = thresholdBounds(cell, ranksOf(cell.terms), need, least);
    if (!searchThresholds(bounds, input.objective, incumbent, control)) run.stopped = true;
  }
  return { best: incumbent.members, complete: !run.stopped, cellsSearched };
}
