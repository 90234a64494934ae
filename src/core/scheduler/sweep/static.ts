// The sweep under static padding. A batch's cost depends on its members only through its size,
// its longest prompt S, its longest output N, its tightest deadline and the sum of the members'
// latency terms (decomposition.ts). So for every cell (S, N) (a prompt length and an output
// length that occur among the candidates) the members are the candidates with s <= S and
// n <= N, and a batch of the cell is feasible when its size fits the cell's memory capacity
// and fixed(size) + its latency terms <= its tightest deadline. Charging a batch its cell's
// (S, N) instead of its own maxima only overestimates, and every batch lies in the cell of its
// own maxima, so the best batch over all cells is the best batch. The longest prompt and the
// longest output may come from different members: cells are pairs, not members.
//
// In a cell, a batch of size k exists iff for some deadline tau_j the k smallest latency terms
// among the members with deadline >= tau_j fit in tau_j - fixed(k) (taking the k cheapest of
// those is never worse). A necessary condition costs O(1) per cell: the cell's k-th latest
// deadline covers the least latency any k candidates have there (and k padded sequences fit).
// 1. The condition scan (static-bound.ts) visits the cells column by column (columns.ts) and
//    gives the largest size b the condition allows anywhere, with the cells that allow b. No
//    batch is larger than b.
// 2. The tie-break (static-tiebreak.ts) finds the batch of b members with the most tokens in
//    those cells. If there is one, it is optimal.
// 3. If there is none (the condition overestimated, which needs members whose latency terms
//    differ a lot), the exact scan (static-exact.ts) finds the largest size with batches, then
//    the tie-break runs at that size.
// Under objective tokens, the result of 1-3 is the incumbent of static-tokens.ts.
import { addInto, emptyState, type PreparedRequest } from '../../model/batch.js';
import { OBJECTIVE } from '../../model/types.js';
import { demandOrder } from '../candidates.js';
import { boundScan } from './static-bound.js';
import { StaticContext, type StaticSweepInput } from './static-context.js';
import { largest, tieCells } from './static-exact.js';
import { tieBreak } from './static-tiebreak.js';
import { searchTokens } from './static-tokens.js';
import type { Incumbent } from './threshold-search.js';

export type { StaticSweepInput } from './static-context.js';

export interface SweepOutcome {
  readonly best: readonly PreparedRequest[];
  /** False when the control stopped the search (the incumbent is not proven optimal). */
  readonly complete: boolean;
  /** Cells whose members were swept or searched. */
  readonly cellsSearched: number;
}

export function sweepStatic(input: StaticSweepInput): SweepOutcome {
  const c = new StaticContext(input);
  const incumbent = c.input.objective === OBJECTIVE.requests ? largestFirst(c) : tokensFirst(c);
  return { best: incumbent.members, complete: !c.stopped, cellsSearched: c.cellsSearched };
}

/**
 * What to return when the budget ran out before any batch was found: the smallest-demand
 * greedy batch (DFTSP's order), which is feasible but not proven.
 */
function fallbackIncumbent(c: StaticContext): Incumbent {
  const { cost, candidates } = c.input;
  const chosen: PreparedRequest[] = [];
  let state = emptyState();
  for (const r of [...candidates].sort(demandOrder)) {
    if (chosen.length >= c.maxBatch) break;
    const next = addInto(emptyState(), state, r);
    if (cost.check(next) === 'ok') {
      chosen.push(r);
      state = next;
    }
  }
  return c.asIncumbent(chosen);
}

/**
 * Objective requests. The condition scan (boundScan) gives the largest size b it allows and
 * the cells where it allows b; the most tokens of a b-batch in those cells (tieBreak) is
 * the optimum when one exists. When none does (the condition overestimated: possible only
 * when the members' latency terms differ enough), the exact scan (largest) decides the size
 * and the tie-break runs again at it.
 */
function largestFirst(c: StaticContext): Incumbent {
  const bound = boundScan(c);
  if (c.halted()) return fallbackIncumbent(c);
  const at = tieBreak(c, bound.size, bound.cells);
  if (c.halted() || at.members.length > 0 || bound.size === 0) {
    return at.members.length > 0 ? at : fallbackIncumbent(c);
  }
  const sized = largest(c);
  if (c.halted() || sized.length === 0) return c.asIncumbent(sized);
  const b = sized.length;
  const incumbent = c.asIncumbent(sized);
  const found = tieCells(c, b, incumbent);
  return c.halted() ? incumbent : tieBreak(c, b, found, incumbent);
}

/** Objective tokens: the most tokens at the largest size first, then every size. */
function tokensFirst(c: StaticContext): Incumbent {
  const sized = largestFirst(c);
  const tokens = sized.members.reduce((a, r) => a + r.outputTokens, 0);
  const incumbent: Incumbent = {
    primary: tokens,
    secondary: sized.members.length,
    members: sized.members,
  };
  if (c.halted() || sized.members.length === 0) return incumbent;
  searchTokens(c, sized.members.length, incumbent);
  return incumbent;
}
