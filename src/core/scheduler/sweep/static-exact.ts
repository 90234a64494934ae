// The exact size scan of static padding (static.ts), for when the condition scan overestimated
// the largest size: cells are visited with k = (largest size found so far) + 1, and in a cell
// that passes the condition a sweep over its members by deadline builds the cheapest batches
// (a heap of the k smallest latency terms, or a Fenwick tree over link ranks for every size at
// once when all scales are equal). Then the cells that may hold a batch of the size found,
// with their token bounds, for the tie-break.
import type { PreparedRequest } from '../../model/batch.js';
import { OBJECTIVE } from '../../model/types.js';
import type { CellVerdict, ColumnVisitor } from './columns.js';
import { LargestK } from './heaps.js';
import { CellList, type StaticContext } from './static-context.js';
import { beats, within, type Incumbent } from './threshold-search.js';
import { searchThresholds, thresholdBounds } from './thresholds.js';

/** Phase 1: a largest feasible batch (empty when no candidate is feasible). */
export function largest(c: StaticContext): readonly PreparedRequest[] {
  const { columns, cells, deadline, maxBatch } = c;
  let best: readonly PreparedRequest[] = [];
  let k = 1;
  let N = 0;
  let columnLatest = -Infinity;
  /** The least latency of k members at the column's first cell: it only grows with S. */
  let floor = 0;
  const latest = new LargestK(Math.max(1, maxBatch));
  const added = new Int32Array(c.M);
  let addedCount = 0;
  const visitor: ColumnVisitor = {
    size: () => k,
    enter: (column, firstPrompt) => {
      N = column;
      columnLatest = columns.kthLatest(k);
      cells.set(firstPrompt, N);
      floor = c.leastLatency(k);
      if (!within(floor, columnLatest)) return false;
      latest.reset(k);
      addedCount = 0;
      return true;
    },
    add: (i) => {
      added[addedCount++] = i;
      latest.offer(deadline[i] ?? 0);
    },
    cell: (S): CellVerdict => {
      for (;;) {
        if (!c.tick()) return 'stop';
        if (!within(floor, latest.kth)) return 'next';
        cells.set(S, N);
        floor = c.leastLatency(k);
        if (!within(floor, columnLatest)) return 'end'; // it only grows with S
        if (!within(floor, latest.kth)) return 'next';
        const batch = largestInCell(c, k, S, N);
        if (c.stopped) return 'stop';
        if (batch === null) return 'next';
        best = batch;
        k = batch.length + 1;
        if (k > maxBatch) return 'stop';
        columnLatest = columns.kthLatest(k);
        latest.reset(k);
        for (let m = 0; m < addedCount; m++) latest.offer(deadline[added[m] ?? 0] ?? 0);
        return 'next'; // the largest batch of this cell
      }
    },
  };
  columns.scan(visitor);
  return best;
}

/**
 * The largest batch of at least k members in the current cell (S, N), or null. With equal
 * scales the members' latency terms are ordered like their links in every cell, so one sweep
 * by deadline with the links in a Fenwick tree (by link rank) gives, at every deadline, the
 * sum of the r smallest terms for any r: the size grows while r + 1 of them fit. Otherwise
 * sizes are tried one at a time (batchOfSize).
 */
function largestInCell(
  c: StaticContext,
  k: number,
  S: number,
  N: number,
): readonly PreparedRequest[] | null {
  const { cells, prompt, output, link, deadline, byDeadline, linkTree } = c;
  const linkOrder = c.byLink.order;
  const cap = Math.min(cells.memoryCapacity, c.maxBatch);
  if (linkTree === null) return sizeBySize(c, k, cap, S, N);
  c.cellsSearched++;
  const perMember = (c.scale[0] ?? 1) * cells.perScaleSeconds;
  linkTree.clear();
  let count = 0;
  let size = k - 1;
  let lastRank = -1;
  for (let rank = 0; rank < c.M && size < cap; rank++) {
    const i = byDeadline[rank] ?? 0;
    if ((prompt[i] ?? 0) > S || (output[i] ?? 0) > N) continue;
    linkTree.add(c.byLink.rank[i] ?? 0, link[i] ?? 0);
    count++;
    if (!c.tick()) return null;
    const tau = deadline[i] ?? 0;
    while (
      size < Math.min(count, cap) &&
      within(
        cells.fixedSeconds(size + 1) + perMember * (size + 1) + linkTree.sumOfFirst(size + 1),
        tau,
      )
    ) {
      size++;
      lastRank = rank;
    }
  }
  if (lastRank < 0) return null;
  // The `size` smallest links among the members with deadline rank <= lastRank.
  const chosen: PreparedRequest[] = [];
  for (let r = 0; r < c.M && chosen.length < size; r++) {
    const i = linkOrder[r] ?? 0;
    if ((prompt[i] ?? 0) > S || (output[i] ?? 0) > N) continue;
    if ((c.deadlineRank[i] ?? 0) > lastRank) continue;
    chosen.push(c.input.candidates[i] as PreparedRequest);
  }
  if (c.input.control.accept(chosen)) return chosen;
  // Float boundary: decide size by size with the exact fallback of batchOfSize.
  return sizeBySize(c, k, size, S, N);
}

/** The largest batch of k..most members in cell (S, N), trying one size at a time; or null. */
function sizeBySize(
  c: StaticContext,
  k: number,
  most: number,
  S: number,
  N: number,
): readonly PreparedRequest[] | null {
  let best: readonly PreparedRequest[] | null = null;
  for (let size = k; size <= most; size++) {
    const batch = batchOfSize(c, size, S, N);
    if (batch === null) break;
    best = batch;
  }
  return best;
}

/**
 * Sweeps the members of the current cell (S, N) from the latest deadline; each prefix's k
 * smallest terms form the cheapest k-batch with that deadline. A batch of exactly k members
 * that CostModel accepts, or null when none exists. When only batches on a float boundary
 * were found (CostModel refused them), the exact search of the cell decides.
 */
function batchOfSize(
  c: StaticContext,
  k: number,
  S: number,
  N: number,
): readonly PreparedRequest[] | null {
  c.cellsSearched++;
  const { heap, cells, prompt, output, link, scale, deadline, byDeadline } = c;
  const candidates = c.input.candidates;
  heap.reset(k);
  const fixed = cells.fixedSeconds(k);
  const perScale = cells.perScaleSeconds;
  let unsure = false;
  for (let rank = 0; rank < c.M; rank++) {
    const i = byDeadline[rank] ?? 0;
    if ((prompt[i] ?? 0) > S || (output[i] ?? 0) > N) continue;
    heap.offer((link[i] ?? 0) + (scale[i] ?? 0) * perScale, i);
    if (heap.size < k) continue;
    if (!c.tick()) return null;
    if (!within(fixed + heap.sum, deadline[i] ?? 0)) continue;
    const members = heap.members().map((m) => candidates[m] as PreparedRequest);
    if (c.input.control.accept(members)) return members;
    unsure = true;
  }
  if (!unsure) return null;
  // Float boundary: the exact search of the cell for k members.
  const probe: Incumbent = { primary: k - 1, secondary: Infinity, members: [] };
  const cell = c.cellOf(cells.snapshot(), Math.min(cells.memoryCapacity, c.maxBatch));
  const bounds = thresholdBounds(cell, c.termRanks(cell.terms), k, c.leastLatency(k));
  if (!searchThresholds(bounds, OBJECTIVE.requests, probe, c.input.control)) {
    c.stopped = true;
    return null;
  }
  return probe.members.length >= k ? probe.members : null;
}

/**
 * Objective requests, phase 2: the cells that may hold b members with more tokens than the
 * incumbent, each with the sum of the b largest outputs among its members whose deadline
 * covers the column's least latency for b members (no other member is in such a batch).
 */
export function tieCells(c: StaticContext, b: number, incumbent: Incumbent): CellList {
  const { columns, cells, deadline, output } = c;
  const found = new CellList();
  let N = 0;
  let columnLatest = -Infinity;
  let floor = 0;
  const latest = new LargestK(b);
  const tokens = new LargestK(b);
  columns.scan({
    size: () => b,
    enter: (column, firstPrompt) => {
      N = column;
      if (!beats(incumbent, b, b * N)) return false; // a cell's tokens are at most b N
      columnLatest = columns.kthLatest(b);
      cells.set(firstPrompt, N);
      floor = c.leastLatency(b);
      if (!within(floor, columnLatest)) return false;
      latest.reset(b);
      tokens.reset(b);
      return true;
    },
    add: (i) => {
      latest.offer(deadline[i] ?? 0);
      if (within(floor, deadline[i] ?? 0)) tokens.offer(output[i] ?? 0);
    },
    cell: (S) => {
      if (!c.tick()) return 'stop';
      if (tokens.size < b || !beats(incumbent, b, tokens.sum)) return 'next';
      cells.set(S, N);
      const least = c.leastLatency(b);
      if (!within(least, columnLatest)) return 'end';
      if (within(least, latest.kth)) found.push(S, N, tokens.sum);
      return 'next';
    },
  });
  return found;
}
