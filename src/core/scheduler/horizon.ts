// The urgency horizon (an option of GAH, off by default; docs/scheduling-scenarios.md): no batch
// may run longer than `factor` times the smallest latency budget left among the requests a node
// could take. The paper's objective maximises this round's batch and ignores how long the node is
// then gone: under static padding the largest batch is often the one whose tightest deadline is
// loose, which runs for seconds while the urgent requests that wait expire. Capping every
// candidate's budget at the horizon is the same problem with tighter deadlines, so every policy,
// DFTSP's exact search included, stays what it was on the capped instance.
import type { RequestDemand } from '../model/types.js';

/** The requests with every latency budget capped at `factor` x the smallest one among them. */
export function capAtUrgencyHorizon<R extends RequestDemand>(
  requests: readonly R[],
  factor: number,
): R[] {
  if (!(factor > 0)) throw new RangeError(`urgency horizon factor must be > 0, got ${factor}`);
  if (requests.length === 0 || factor === Infinity) return [...requests];
  const horizon = factor * Math.min(...requests.map((r) => r.latencyBudgetSeconds));
  return requests.map((r) =>
    r.latencyBudgetSeconds <= horizon ? r : { ...r, latencyBudgetSeconds: horizon },
  );
}
