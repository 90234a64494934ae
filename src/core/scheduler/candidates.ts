// Rule 1 (pre-filter) and the search order, shared by DFTSP and the baselines.
import { isEligible } from '../model/accuracy.js';
import { fitsSequence } from '../model/context.js';
import { CostModel, emptyState, addInto, type PreparedRequest } from '../model/batch.js';
import { REJECTION, type Rejection, type ScheduleInstance } from './types.js';

export interface Candidates {
  readonly cost: CostModel;
  /** Eligible requests feasible alone, in arrival order. */
  readonly feasible: readonly PreparedRequest[];
  readonly rejected: readonly { readonly id: string; readonly reason: Rejection }[];
  /** Feasibility checks spent on the pre-filter. */
  readonly checks: number;
}

export function prefilter(instance: ScheduleInstance): Candidates {
  const cost = new CostModel(instance.node, instance.model, instance.options);
  const feasible: PreparedRequest[] = [];
  const rejected: { id: string; reason: Rejection }[] = [];
  const scratch = emptyState();
  const empty = emptyState();
  let checks = 0;
  instance.requests.forEach((demand, index) => {
    if (!isEligible(cost.model, instance.bestPerplexity, demand.maxPerplexityIncrease)) {
      rejected.push({ id: demand.id, reason: REJECTION.ineligible });
      return;
    }
    if (!fitsSequence(cost.model, demand)) {
      rejected.push({ id: demand.id, reason: REJECTION.context });
      return;
    }
    const r = cost.prepare(demand, index);
    checks++;
    const verdict = cost.check(addInto(scratch, empty, r), [r]);
    if (verdict === 'ok') feasible.push(r);
    else
      rejected.push({
        id: demand.id,
        reason: verdict === 'memory' ? REJECTION.memory : REJECTION.latency,
      });
  });
  return { cost, feasible, rejected, checks };
}

/**
 * DFTSP's order (speed only): ascending resource demand (KV footprint, then uplink load), then
 * looser deadlines first, then arrival. The KV footprint must stay the primary key: the
 * memory bound of rule 3 relies on it being non-decreasing along the order.
 */
export function demandOrder(a: PreparedRequest, b: PreparedRequest): number {
  return (
    a.kvTokens - b.kvTokens ||
    a.uplinkLoad - b.uplinkLoad ||
    b.deadlineSeconds - a.deadlineSeconds ||
    a.index - b.index
  );
}
