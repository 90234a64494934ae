// The objective of (P1): maximise the batch size, tie-break on output tokens, then on earlier
// deadlines; `objective: tokens` swaps the first two. Searches are exact on the first two keys;
// the deadline key only orders batches that tie on both.
import { OBJECTIVE, type Objective } from '../model/types.js';
import type { BatchState } from '../model/batch.js';

export interface Score {
  readonly primary: number;
  readonly secondary: number;
  /** Smaller is better: sum of the members' latency budgets. */
  readonly deadlineSum: number;
}

export const EMPTY_SCORE: Score = { primary: 0, secondary: 0, deadlineSum: 0 };

export function scoreOf(state: BatchState, objective: Objective): Score {
  return objective === OBJECTIVE.tokens
    ? {
        primary: state.sumOutputTokens,
        secondary: state.count,
        deadlineSum: state.sumDeadlineSeconds,
      }
    : {
        primary: state.count,
        secondary: state.sumOutputTokens,
        deadlineSum: state.sumDeadlineSeconds,
      };
}

/** a strictly better than b. */
export function better(a: Score, b: Score): boolean {
  if (a.primary !== b.primary) return a.primary > b.primary;
  if (a.secondary !== b.secondary) return a.secondary > b.secondary;
  return a.deadlineSum < b.deadlineSum;
}
