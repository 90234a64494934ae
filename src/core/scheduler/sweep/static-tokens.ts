// Objective tokens under static padding (static.ts): the cells that may hold a batch with
// more tokens than the incumbent, bounded by their largest outputs and the largest size their
// deadlines allow, searched exactly threshold by threshold (thresholds.ts), best bound first.
import { Fenwick } from './fenwick.js';
import { largestWhere } from './order.js';
import type { CandidateCell, StaticContext } from './static-context.js';
import { beats, within, type Incumbent } from './threshold-search.js';
import { searchThresholds, thresholdBounds } from './thresholds.js';

/**
 * Objective tokens: the cells that may hold a batch with more tokens than the incumbent
 * (whose size `most` is the largest any batch has), each with the largest size its deadlines
 * allow and the sum of that many largest outputs among its members whose deadline covers the
 * column's least latency of one member.
 */
export function tokenCells(c: StaticContext, most: number, incumbent: Incumbent): CandidateCell[] {
  const { columns, cells, deadline, output, deadlineRank, byDeadline } = c;
  const found: CandidateCell[] = [];
  const cellDeadlines = new Fenwick(c.M);
  const cellTokens = new Fenwick(c.M);
  let N = 0;
  let count = 0;
  let floor = 0;
  const kthLatest = (k: number): number => {
    const rank = cellDeadlines.kth(k);
    return rank < 0 ? -Infinity : (deadline[byDeadline[rank] ?? 0] ?? 0);
  };
  const allows = (k: number): boolean => within(c.leastLatency(k), kthLatest(k));
  columns.scan({
    size: () => 1,
    enter: (column, firstPrompt) => {
      N = column;
      if (!beats(incumbent, most * N, most)) return false; // a cell's tokens are at most b N
      cells.set(firstPrompt, N);
      floor = c.leastLatency(1);
      if (!within(floor, columns.kthLatest(1))) return false;
      cellDeadlines.clear();
      cellTokens.clear();
      count = 0;
      return true;
    },
    add: (i) => {
      cellDeadlines.add(deadlineRank[i] ?? 0, 0);
      if (within(floor, deadline[i] ?? 0)) cellTokens.add(c.byOutput.rank[i] ?? 0, output[i] ?? 0);
      count++;
    },
    cell: (S) => {
      if (!c.tick()) return 'stop';
      cells.set(S, N);
      const limit = Math.min(cells.memoryCapacity, c.maxBatch, most);
      if (!beats(incumbent, limit * N, limit)) return 'end'; // the capacity only falls
      const cap = Math.min(limit, count);
      if (cap < 1 || !beats(incumbent, cellTokens.sumOfFirst(cap), cap)) return 'next';
      if (!allows(1)) return 'next';
      const size = largestWhere(1, cap, allows);
      const tokens = cellTokens.sumOfFirst(size);
      if (beats(incumbent, tokens, size)) found.push({ S, N, count: size, tokens });
      return 'next';
    },
  });
  return found;
}

/**
 * Searches the found cells exactly, best bound first, until no bound beats the incumbent.
 * `need` is the least size of a batch that can beat it (b* under objective requests).
 */
export function searchCells(
  c: StaticContext,
  found: CandidateCell[],
  incumbent: Incumbent,
  need: number,
): void {
  const { cells, countFirst } = c;
  const key = (cell: CandidateCell): [number, number] =>
    countFirst ? [cell.count, cell.tokens] : [cell.tokens, cell.count];
  found.sort((a, b) => {
    const [a1, a2] = key(a);
    const [b1, b2] = key(b);
    return b1 - a1 || b2 - a2;
  });
  for (const f of found) {
    if (c.halted()) return;
    const [primary, secondary] = key(f);
    if (!beats(incumbent, primary, secondary)) return;
    cells.set(f.S, f.N);
    const least = c.leastLatency(need);
    const tight = tightTokens(c, f.S, f.N, least, f.count);
    if (countFirst ? !beats(incumbent, f.count, tight) : !beats(incumbent, tight, f.count))
      continue;
    c.cellsSearched++;
    const cell = c.cellOf(cells.snapshot(), f.count);
    const bounds = thresholdBounds(cell, c.termRanks(cell.terms), need, least);
    if (!searchThresholds(bounds, c.input.objective, incumbent, c.input.control)) c.stopped = true;
  }
}

/** The k largest outputs among the members of cell (S, N) whose deadline covers `least`. */
function tightTokens(c: StaticContext, S: number, N: number, least: number, k: number): number {
  const { prompt, output, deadline } = c;
  let sum = 0;
  let taken = 0;
  for (let r = 0; r < c.M && taken < k; r++) {
    const i = c.byOutput.order[r] ?? 0;
    if ((prompt[i] ?? 0) > S || (output[i] ?? 0) > N || !within(least, deadline[i] ?? 0)) continue;
    sum += output[i] ?? 0;
    taken++;
  }
  return sum;
}
