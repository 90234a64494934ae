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

/**
 * The dispatch a request in flight belongs to: the object (uid), its batch and its dispatch count.
 * A write that only its own dispatch may make (Running, the outcome, a requeue) is made only while
 * the API server's copy is still in that dispatch (`inDispatch`).
 */
export interface DispatchIdentity {
  readonly uid: string;
  readonly batchId: string;
  readonly attempts: number;
}

export function dispatchOf(r: Pick<InferenceRequest, 'metadata' | 'status'>): DispatchIdentity {
  return {
    uid: r.metadata.uid ?? '',
    batchId: r.status?.assignment?.batchId ?? '',
    attempts: r.status?.attempts ?? 0,
  };
}

/** Whether `r` is Scheduled or Running in dispatch `d`. */
export function inDispatch(
  r: Pick<InferenceRequest, 'metadata' | 'status'>,
  d: DispatchIdentity,
): boolean {
  const phase = phaseOf(r);
  if (phase !== PHASE.scheduled && phase !== PHASE.running) return false;
  const current = dispatchOf(r);
  return current.uid === d.uid && current.batchId === d.batchId && current.attempts === d.attempts;
}
