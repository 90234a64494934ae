// The token tie-break of static padding at a fixed size b (static.ts): in each cell that may
// hold b members, thresholds by deadline, each bounded by its b largest outputs; a threshold
// whose largest outputs fit is solved, the others are searched exactly (threshold-search.ts).
import type { PreparedRequest } from '../../model/batch.js';
import { OBJECTIVE } from '../../model/types.js';
import type { CellList, StaticContext } from './static-context.js';
import { orderByDescending } from './order.js';
import { beats, searchThreshold, within, type Incumbent } from './threshold-search.js';
import type { Cell } from './thresholds.js';

/**
 * The most tokens of a batch of b members in `cells`, beating `incumbent` (by default none: any
 * b-batch does). Its members are empty when no cell holds b members. First the cell of the
 * largest bound, then, largest bound first, the cells whose bound still beats what was found
 * (usually few, while a size cap can leave thousands that hold b members).
 */
export function tieBreak(
  c: StaticContext,
  b: number,
  cells: CellList,
  incumbent: Incumbent = { primary: b, secondary: -Infinity, members: [] },
): Incumbent {
  if (cells.length === 0) return incumbent;
  // The candidates that may be in a b-batch, latest deadline first.
  const pool = c.byDeadline.filter((i) => (c.sizeLimit[i] ?? 0) >= b);
  const bound = cells.tokens.subarray(0, cells.length);
  let top = 0;
  for (let k = 1; k < cells.length; k++) if ((bound[k] ?? 0) > (bound[top] ?? 0)) top = k;
  const search = (k: number): void => {
    tieBreakCell(c, cells.S[k] ?? 0, cells.N[k] ?? 0, b, incumbent, pool);
  };
  if (!beats(incumbent, b, bound[top] ?? -Infinity)) return incumbent;
  search(top);
  const rest: number[] = [];
  for (let k = 0; k < cells.length; k++) {
    if (k !== top && beats(incumbent, b, bound[k] ?? -Infinity)) rest.push(k);
  }
  const keys = Float64Array.from(rest, (k) => bound[k] ?? 0);
  for (const r of orderByDescending(keys)) {
    const k = rest[r] ?? 0;
    if (c.halted() || !beats(incumbent, b, bound[k] ?? -Infinity)) break;
    search(k);
  }
  return incumbent;
}

/**
 * Objective requests, phase 2, in cell (S, N): the batch of b members with the most tokens,
 * if it beats the incumbent (which it then replaces). Thresholds by deadline, latest first:
 * with threshold j, the batch holds j and b - 1 members of the earlier ones; their b - 1
 * largest outputs (a heap) bound its tokens, and when those members fit in j's deadline they
 * are the threshold's best batch. Otherwise the threshold is searched exactly
 * (threshold-search.ts).
 */
function tieBreakCell(
  c: StaticContext,
  S: number,
  N: number,
  b: number,
  incumbent: Incumbent,
  byDeadline: Int32Array,
): void {
  c.cellsSearched++;
  const { cells, prompt, output, link, scale, deadline } = c;
  const candidates = c.input.candidates;
  cells.set(S, N);
  const fixed = cells.fixedSeconds(b);
  const perScale = cells.perScaleSeconds;
  const least = c.leastLatency(b);
  const top = c.heap; // the b - 1 largest outputs of the pool, negated
  top.reset(b - 1);
  const pool: number[] = [];
  let cell: Cell | null = null;
  for (let rank = 0; rank < byDeadline.length; rank++) {
    const j = byDeadline[rank] ?? 0;
    if ((prompt[j] ?? 0) > S || (output[j] ?? 0) > N) continue;
    const tau = deadline[j] ?? 0;
    if (!within(least, tau)) return; // deadlines only fall from here
    if (pool.length >= b - 1 && beats(incumbent, b, (output[j] ?? 0) - top.sum)) {
      if (!c.tick()) return;
      const chosen = [j, ...top.members()];
      let sum = fixed;
      for (const m of chosen) sum += (link[m] ?? 0) + (scale[m] ?? 0) * perScale;
      const members = chosen.map((m) => candidates[m] as PreparedRequest);
      if (within(sum, tau) && c.input.control.accept(members)) {
        incumbent.primary = b;
        incumbent.secondary = (output[j] ?? 0) - top.sum;
        incumbent.members = members;
      } else {
        // Float boundary or members too slow together: search the threshold exactly.
        cell ??= c.cellOf(cells.snapshot(), b);
        const problem = {
          forced: j,
          pool,
          deadlineSeconds: tau,
          maxCount: b,
          kvCapacity: Infinity,
          fixedSeconds: cell.fixedSeconds,
          latencyWeight: 1,
          kvWeight: 0,
        };
        if (!searchThreshold(problem, cell.terms, OBJECTIVE.requests, incumbent, c.input.control)) {
          c.stopped = true;
          return;
        }
      }
    }
    top.offer(-(output[j] ?? 0), j);
    pool.push(j);
  }
}
