// The condition scan of static padding (static.ts): with no batch built, the largest size b
// that the necessary condition allows in some cell (its b-th latest deadline covers the least
// latency of b members there, and b padded sequences fit in memory), and the cells where it
// allows that b. Columns and cells come from columns.ts; per cell, the b + 1 latest deadlines
// of its members are kept in a heap as the cells grow, so the condition costs O(1) there.
import { LargestK } from './heaps.js';
import { staticFits } from './decomposition.js';
import { CellList, type StaticContext } from './static-context.js';
import { within } from './threshold-search.js';

/**
 * The necessary condition on every cell, with no batch built: the largest size b such that
 * some cell's b-th latest deadline covers its least latency of b members (columns.ts visits
 * the cells that can hold b members), and the cells where it holds for the final b, each
 * with an upper bound on its tokens (the b largest outputs among its members whose deadline
 * covers the column's least latency). No cell holds a batch larger than b.
 */
export function boundScan(c: StaticContext): { size: number; cells: CellList } {
  const { columns, cells, prompt, deadline, deadlineLimit, output, maxBatch } = c;
  const cost = c.input.cost;
  const members = columns.members;
  const recorded = new CellList(); // the cells that allow `best` (cleared when it grows)
  let best = 0;
  const latest = new LargestK(maxBatch + 1); // the cell's best + 1 latest deadlines
  const tokens = new LargestK(maxBatch); // its best largest outputs, deadline >= keepFloor
  /** The column's max(1, best)-th latest deadline: no cell of the column has a later one. */
  let keepLatest = -Infinity;
  /** Least latency of best + 1 and of max(1, best) members at the current or an earlier cell. */
  let growFloor = 0;
  let keepFloor = 0;
  /** Sets the column's bounds at the current cell and refills the heaps from members[0..p). */
  const refill = (p: number): void => {
    const keep = Math.max(1, best);
    keepLatest = columns.kthLatest(keep);
    growFloor = c.leastLatency(best + 1);
    keepFloor = c.leastLatency(keep);
    latest.reset(best + 1);
    tokens.reset(keep);
    for (let m = 0; m < p; m++) {
      const i = members[m] ?? 0;
      latest.offer(deadline[i] ?? 0);
      if (keepFloor <= (deadlineLimit[i] ?? 0)) tokens.offer(output[i] ?? 0);
    }
  };
  columns.begin();
  for (let N = columns.next(1); N >= 0; N = columns.next(Math.max(1, best))) {
    const keep = Math.max(1, best);
    // Memory only gets tighter with N, for every prompt.
    if (!staticFits(cost, keep, columns.minPrompt, N)) break;
    const first = columns.firstPrompt(keep);
    if (!staticFits(cost, keep, first, N)) continue;
    if (!c.tick()) break;
    cells.set(first, N);
    refill(0);
    if (!within(keepFloor, keepLatest)) continue;
    const length = columns.length;
    let p = 0;
    while (p < length) {
      const S = prompt[members[p] ?? 0] ?? 0;
      for (; p < length && (prompt[members[p] ?? 0] ?? 0) === S; p++) {
        const i = members[p] ?? 0;
        latest.offer(deadline[i] ?? 0);
        if (keepFloor <= (deadlineLimit[i] ?? 0)) tokens.offer(output[i] ?? 0);
      }
      if (S < first) continue;
      // Memory only gets tighter with S.
      if (!staticFits(cost, Math.max(1, best), S, N)) break;
      // The cell's max(1, best)-th latest deadline; the (best+1)-th is at most that.
      const keepKth = best === 0 ? latest.kth : latest.previous;
      if (!within(keepFloor, keepKth)) continue; // neither grows nor holds best
      if (!c.tick()) break;
      cells.set(S, N);
      let grew = false;
      while (
        best < maxBatch &&
        within(growFloor, latest.kth) &&
        staticFits(cost, best + 1, S, N) &&
        within(c.leastLatency(best + 1), latest.kth)
      ) {
        best++;
        grew = true;
        recorded.clear();
        refill(p); // at this cell: its floors hold for the later ones
      }
      if (best === 0) continue;
      keepFloor = c.leastLatency(best);
      if (!within(keepFloor, keepLatest)) break; // it only grows with S
      if (grew || within(keepFloor, latest.previous)) {
        recorded.push(S, N, tokens.size >= best ? tokens.sum : -Infinity);
      }
    }
  }
  return { size: best, cells: recorded };
}
