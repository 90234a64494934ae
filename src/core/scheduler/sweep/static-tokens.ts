// Objective tokens under static padding (static.ts): the columns (output lengths N) from the
// longest down, while a batch of the column's output can still beat the incumbent; in each, the
// cells that may hold a batch with more tokens than it, bounded by their largest outputs and the
// largest size their deadlines allow; those cells, best bound first, bounded again more tightly
// (cellTokenBound) and searched exactly threshold by threshold (thresholds.ts).
import { Fenwick } from './fenwick.js';
import { largestWhere, orderByDescending } from './order.js';
import { CellList, type StaticContext } from './static-context.js';
import { beats, within, type Incumbent, type SearchControl } from './threshold-search.js';
import { searchThresholds, thresholdBounds } from './thresholds.js';

/**
 * Objective tokens, with the best batch of objective requests as the incumbent (whose size
 * `most` is the largest any batch has): updates the incumbent to the batch with the most
 * tokens. A batch of column N has at most `most * N` tokens, so the columns go from the longest
 * output down and stop where that cannot beat the incumbent; the long outputs that hold the
 * most tokens come first and raise the incumbent early. In column N a batch that beats it has
 * at least `least = ceil(tokens / N)` members, so candidates that cannot be in a batch of
 * `least` stay out, and every member's deadline covers the least latency of `least` members.
 * Per cell, the bound is the largest size its deadlines allow (capacity, `most`, and the
 * cell's k-th latest deadline covering the least latency of k) and the sum of that many
 * largest outputs among its members whose deadline covers the column's least latency of
 * `least` members.
 */
export function searchTokens(c: StaticContext, most: number, incumbent: Incumbent): void {
  const { columns, cells, deadline, output, deadlineRank, byDeadline } = c;
  const found = new CellList();
  const top = new Float64Array(Math.max(1, c.maxBatch));
  const cellDeadlines = new Fenwick(c.M);
  const cellTokens = new Fenwick(c.M);
  let N = 0;
  let count = 0;
  let floor = 0;
  let least = 1;
  const kthLatest = (k: number): number => {
    const rank = cellDeadlines.kth(k);
    return rank < 0 ? -Infinity : (deadline[byDeadline[rank] ?? 0] ?? 0);
  };
  const allows = (k: number): boolean => within(c.leastLatency(k), kthLatest(k));
  const visitor = {
    size: () => least,
    enter: (column: number, firstPrompt: number): boolean => {
      cells.set(firstPrompt, column);
      floor = c.leastLatency(least);
      if (!within(floor, columns.kthLatest(least))) return false;
      cellDeadlines.clear();
      cellTokens.clear();
      count = 0;
      return true;
    },
    add: (i: number): void => {
      cellDeadlines.add(deadlineRank[i] ?? 0, 0);
      if (within(floor, deadline[i] ?? 0)) cellTokens.add(c.byOutput.rank[i] ?? 0, output[i] ?? 0);
      count++;
    },
    cell: (S: number): 'next' | 'end' | 'stop' => {
      if (!c.tick()) return 'stop';
      cells.set(S, N);
      const limit = Math.min(cells.memoryCapacity, c.maxBatch, most);
      if (!beats(incumbent, limit * N, limit)) return 'end'; // the capacity only falls
      const cap = Math.min(limit, count);
      if (cap < least || !beats(incumbent, cellTokens.sumOfFirst(cap), cap)) return 'next';
      if (!allows(least)) return 'next';
      const size = largestWhere(least, cap, allows);
      const tokens = cellTokens.sumOfFirst(size);
      if (beats(incumbent, tokens, size)) found.push(S, N, tokens, size);
      return 'next';
    },
  };
  const deferred = new CellList();
  for (let index = columns.outputs.length - 1; index >= 0; index--) {
    N = columns.outputs[index] ?? 0;
    if (!beats(incumbent, most * N, most)) break;
    if (!c.tick()) return;
    least = N > 0 ? Math.max(1, Math.ceil(incumbent.primary / N)) : 1;
    columns.seek(index, least);
    found.clear();
    if (columns.visitColumn(N, visitor) === 'stop') return;
    searchCells(c, found, incumbent, top, deferred);
    if (c.halted()) return;
  }
  searchCells(c, deferred, incumbent, top, null);
}

/**
 * Nodes a cell's search may take before it is deferred to after the columns, when the
 * incumbent is stronger (its bounds then usually rule the cell out): the first columns hold
 * cells of long outputs and few members where many batches come within a few tokens of the
 * bound, and one such search took 50,000 nodes that the final incumbent makes unnecessary.
 */
const NODES_BEFORE_DEFERRING = 512;

/**
 * Searches the found cells exactly, largest token bound first, until no bound beats the
 * incumbent. Before a cell's exact search (its threshold bounds cost O(M log^2 M)), the tighter
 * bound of cellTokenBound (O(M)) must beat the incumbent too: the scan's bound counts outputs of
 * members whose deadline may be too early for a batch of that size, so it overstates by about a
 * fifth at 256 requests, and without this most of the cells searched were searched in vain.
 * With a `deferred` list, a search that takes more than NODES_BEFORE_DEFERRING nodes stops and
 * its cell goes there, to be searched again without a limit (deferred null).
 */
function searchCells(
  c: StaticContext,
  found: CellList,
  incumbent: Incumbent,
  top: Float64Array,
  deferred: CellList | null,
): void {
  const { cells } = c;
  const { control, objective } = c.input;
  // The cell's nodes so far, and whether the limit stopped its search.
  const cellSearch = { nodes: 0, overrun: false };
  const startCell = (): void => {
    cellSearch.nodes = 0;
    cellSearch.overrun = false;
  };
  const limited: SearchControl = {
    ...control,
    tick: () => {
      if (++cellSearch.nodes > NODES_BEFORE_DEFERRING) {
        cellSearch.overrun = true;
        return false;
      }
      return control.tick();
    },
  };
  for (const k of orderByDescending(found.tokens.subarray(0, found.length))) {
    if (!c.tick()) return;
    const tokens = found.tokens[k] ?? 0;
    const count = found.count[k] ?? 0;
    // Cells of equal tokens come in no order of size: only a smaller bound ends the search.
    if (tokens < incumbent.primary) return;
    if (!beats(incumbent, tokens, count)) continue;
    const S = found.S[k] ?? 0;
    const N = found.N[k] ?? 0;
    if (!beats(incumbent, cellTokenBound(c, S, N, count, incumbent, top), count)) continue;
    c.cellsSearched++;
    const cell = c.cellOf(cells.set(S, N).snapshot(), count);
    // A batch of fewer than `need` members has fewer tokens than the incumbent.
    const need = Math.max(1, Math.ceil(incumbent.primary / N));
    const bounds = thresholdBounds(cell, c.termRanks(cell.terms), need, c.leastLatency(need));
    startCell();
    if (searchThresholds(bounds, objective, incumbent, deferred ? limited : control)) continue;
    if (!cellSearch.overrun) {
      c.stopped = true;
      return;
    }
    deferred?.push(S, N, tokens, count);
  }
}

/**
 * An upper bound on the tokens of a batch of at most `size` members of cell (S, N) that can
 * beat `incumbent`, tighter than the scan's bound: a batch of k members has every member's
 * deadline at least the least latency of k members there (StaticContext.leastLatency), so its
 * tokens are at most the k largest outputs among the cell's members with such a deadline. The
 * bound is the largest of these over the sizes k whose k * N can reach the incumbent's tokens
 * (smaller batches cannot beat it; the bound is then 0). Walks the candidates by deadline,
 * latest first, while k falls and the least latency with it; `top` (capacity >= size) keeps
 * the largest outputs, descending. O(walked + members * size).
 */
function cellTokenBound(
  c: StaticContext,
  S: number,
  N: number,
  size: number,
  incumbent: Incumbent,
  top: Float64Array,
): number {
  const { prompt, output, deadlineLimit, byDeadline } = c;
  c.cells.set(S, N);
  let kept = 0;
  let rank = 0;
  let best = 0;
  for (let k = size; k >= 1 && k * N >= incumbent.primary; k--) {
    const least = c.leastLatency(k);
    while (rank < c.M) {
      const i = byDeadline[rank] ?? 0;
      if (least > (deadlineLimit[i] ?? 0)) break; // deadlines only fall from here
      rank++;
      const n = output[i] ?? 0;
      if ((prompt[i] ?? 0) > S || n > N) continue;
      let at = Math.min(kept, size - 1);
      if (kept === size && n <= (top[at] ?? 0)) continue;
      while (at > 0 && n > (top[at - 1] ?? 0)) {
        top[at] = top[at - 1] ?? 0;
        at--;
      }
      top[at] = n;
      if (kept < size) kept++;
    }
    if (kept < k) continue; // fewer than k members may be in a batch of k
    let sum = 0;
    for (let t = 0; t < k; t++) sum += top[t] ?? 0;
    if (sum > best) best = sum;
  }
  return best;
}
