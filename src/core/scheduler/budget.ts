// The search budget the exact solvers (DFTSP, sweep) honour: a node budget, and a time budget
// that bounds the whole decision (setup and result included) through an injected clock.
import type { SearchBudget } from './types.js';

/** Time budgets (SearchBudget.maxSeconds) bound the whole decision, setup and result included. */
export const SEARCH_BUDGET_DEFAULTS = {
  /** The clock is read every this many evaluated nodes (a few microseconds of search here). */
  clockCheckInterval: 32,
  /** The search stops at this share of the budget; the rest is left for building the result. */
  searchShare: 0.95,
} as const;

export interface BudgetMeter {
  /** Asks to evaluate one more node: true (and counted) while the budget lasts, then false. */
  take(): boolean;
  /** Nodes evaluated so far, including those the meter started with. */
  readonly nodes: number;
  /** True once take() (or expired()) has refused. */
  readonly spent: boolean;
  /**
   * Reads the clock now, not only every clockCheckInterval nodes: true once the time budget is
   * spent. For work that evaluates no node but is not free (a solver's per-threshold setup).
   */
  expired(): boolean;
}

/**
 * A meter over `budget`: `started` is the clock reading when the decision began, `nodes` the
 * evaluations already made before the search (they count against maxNodes too).
 */
export function budgetMeter(budget: SearchBudget, started: number, nodes = 0): BudgetMeter {
  const { clockCheckInterval, searchShare } = SEARCH_BUDGET_DEFAULTS;
  const searchSeconds =
    budget.maxSeconds === undefined ? undefined : budget.maxSeconds * searchShare;
  let count = nodes;
  let nextClockRead = count + clockCheckInterval;
  let spent = false;
  return {
    take(): boolean {
      if (spent) return false;
      if (budget.maxNodes !== undefined && count >= budget.maxNodes) spent = true;
      else if (searchSeconds !== undefined && budget.clock && count >= nextClockRead) {
        nextClockRead = count + clockCheckInterval;
        spent = budget.clock() - started >= searchSeconds;
      }
      if (spent) return false;
      count++;
      return true;
    },
    expired(): boolean {
      if (!spent && searchSeconds !== undefined && budget.clock)
        spent = budget.clock() - started >= searchSeconds;
      return spent;
    },
    get nodes(): number {
      return count;
    },
    get spent(): boolean {
      return spent;
    },
  };
}
