// What a request's spec and status say, read the same way everywhere. Pure.
import type { InferenceRequest } from '../../gen/crds/inferencerequest.js';
import { FINISHED_PHASES, PHASE, type Phase } from '../api/constants.js';
import { parseDurationSeconds } from '../scheduling/duration.js';
import { requestKey } from '../scheduling/objects.js';

export { requestKey };

/** status.phase, Pending when the operator has not written one yet. */
export function phaseOf(r: Pick<InferenceRequest, 'status'>): Phase {
  return r.status?.phase ?? PHASE.pending;
}

export function isFinished(r: Pick<InferenceRequest, 'status'>): boolean {
  return FINISHED_PHASES.includes(phaseOf(r));
}

/** spec.latencyBudget in seconds; undefined when it is not a duration (the round fails it). */
export function budgetSeconds(r: Pick<InferenceRequest, 'spec'>): number | undefined {
  try {
    return parseDurationSeconds(r.spec.latencyBudget);
  } catch {
    return undefined;
  }
}
