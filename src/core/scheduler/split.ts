// Split plans in the scheduler: before DFTSP runs on a node, every request with a client
// profile and `split: auto` gets its split planned for that node, and its RequestDemand carries
// the plan's server share of the FLOPs (serverComputeFraction), which the cost model multiplies
// into the request's compute. A node whose runtime cannot execute a partial model gets the
// plans (for the requests' status) but every fraction stays 1. See docs/split-planner.md.
import {
  applySplitPlan,
  type SplitAssignment,
  type SplitNodeCapability,
  type SplitOptions,
  type SplitRequestContext,
} from '../planner/index.js';
import type { ScheduleInstance } from './types.js';

export interface SplitInstance {
  /** The instance DFTSP should search, with server shares applied. */
  readonly instance: ScheduleInstance;
  /** Per request id, for the requests that came with a split context. */
  readonly assignments: ReadonlyMap<string, SplitAssignment>;
}

/**
 * Applies split plans to the requests of `instance` that have a context in `splits` (by id);
 * the others are left as they are. Pure; O(requests * L * K).
 */
export function withSplitPlans(
  instance: ScheduleInstance,
  splits: ReadonlyMap<string, SplitRequestContext>,
  capability: SplitNodeCapability,
  options: Partial<SplitOptions> = {},
): SplitInstance {
  const assignments = new Map<string, SplitAssignment>();
  const requests = instance.requests.map((demand) => {
    const context = splits.get(demand.id);
    if (context === undefined) return demand;
    const assignment = applySplitPlan(
      demand,
      instance.model,
      instance.node,
      context,
      capability,
      options,
    );
    assignments.set(demand.id, assignment);
    return assignment.demand;
  });
  return { instance: { ...instance, requests }, assignments };
}
