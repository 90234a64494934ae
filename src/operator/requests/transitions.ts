// A request's status transitions as pure functions: each returns the typed merge patch of
// InferenceRequest status that moves the request to its next phase (conditions included, each
// stamped with the generation it describes). The request status recorder applies them; nothing
// else builds request status.
import type { InferenceRequestStatus } from '../../gen/crds/inferencerequest.js';
import { setCondition } from '../api/conditions.js';
import { PHASE, REQUEST_CONDITION, REQUEST_REASON } from '../api/constants.js';
import type { MergePatch } from '../kube/writes.js';

export type RequestStatusPatch = MergePatch<InferenceRequestStatus>;

export type Assignment = NonNullable<InferenceRequestStatus['assignment']>;
export type Predicted = NonNullable<InferenceRequestStatus['predicted']>;
export type Measured = NonNullable<InferenceRequestStatus['measured']>;
export type Usage = NonNullable<InferenceRequestStatus['usage']>;
export type OutputRef = NonNullable<InferenceRequestStatus['outputRef']>;

/** status.message bound (the CRD's maxLength). */
export const STATUS_MESSAGE_MAX = 4096;

/** The request as a transition sees it: its current status and generation, and the time. */
export interface TransitionContext {
  readonly status: InferenceRequestStatus | undefined;
  readonly generation: number | undefined;
  readonly now: Date;
}

function observed(ctx: TransitionContext): RequestStatusPatch {
  return ctx.generation === undefined ? {} : { observedGeneration: ctx.generation };
}

/** Put in a batch: the batch id is on record before the agent hears of the batch. */
export function scheduledPatch(
  ctx: TransitionContext,
  input: {
    readonly assignment: Assignment;
    readonly predicted: Predicted;
    readonly attempts: number;
  },
): RequestStatusPatch {
  const { node, batchId, batchSize } = input.assignment;
  return {
    phase: PHASE.scheduled,
    reason: REQUEST_REASON.scheduled,
    message: `batch ${batchId} of ${batchSize ?? 1} on ${node}`,
    attempts: input.attempts,
    assignment: input.assignment,
    predicted: input.predicted,
    scheduledTime: ctx.now.toISOString(),
    conditions: setCondition(
      ctx.status?.conditions,
      {
        type: REQUEST_CONDITION.scheduled,
        status: 'True',
        reason: REQUEST_REASON.scheduled,
        message: `node ${node}, batch ${batchId}`,
      },
      ctx.now,
      ctx.generation,
    ),
    ...observed(ctx),
  };
}

/** Its first token streamed. `startedMs`: when the batch started. */
export function runningPatch(ctx: TransitionContext, startedMs: number): RequestStatusPatch {
  return {
    phase: PHASE.running,
    reason: REQUEST_REASON.running,
    startTime: new Date(startedMs).toISOString(),
    ...observed(ctx),
  };
}

/** Finished with output (inline, or a preview and a reference to where the rest is). */
export function succeededPatch(
  ctx: TransitionContext,
  input: {
    readonly node: string;
    /** When its batch was dispatched: startTime, in case Running was never written. */
    readonly startedMs: number;
    readonly measured: Measured;
    readonly usage: Usage;
    readonly output: { readonly output: string; readonly outputRef?: OutputRef };
  },
): RequestStatusPatch {
  const tokens = input.usage.completionTokens ?? 0;
  return {
    phase: PHASE.succeeded,
    reason: REQUEST_REASON.succeeded,
    message: `${tokens} tokens in ${(input.measured.executionSeconds ?? 0).toFixed(2)} s on ${input.node}`,
    startTime: new Date(input.startedMs).toISOString(),
    measured: input.measured,
    usage: input.usage,
    output: input.output.output,
    ...(input.output.outputRef === undefined ? {} : { outputRef: input.output.outputRef }),
    completionTime: ctx.now.toISOString(),
    conditions: setCondition(
      ctx.status?.conditions,
      {
        type: REQUEST_CONDITION.completed,
        status: 'True',
        reason: REQUEST_REASON.succeeded,
        message: `${tokens} tokens on ${input.node}`,
      },
      ctx.now,
      ctx.generation,
    ),
    ...observed(ctx),
  };
}

/** Failed for good, with the reason and what to do. Completed=True, so `kubectl wait` returns. */
export function failedPatch(
  ctx: TransitionContext,
  input: { readonly reason: string; readonly message: string; readonly measured?: Measured },
): RequestStatusPatch {
  return {
    phase: PHASE.failed,
    reason: input.reason,
    message: input.message.slice(0, STATUS_MESSAGE_MAX),
    completionTime: ctx.now.toISOString(),
    conditions: setCondition(
      ctx.status?.conditions,
      {
        type: REQUEST_CONDITION.completed,
        status: 'True',
        reason: input.reason,
        message: input.message,
      },
      ctx.now,
      ctx.generation,
    ),
    ...(input.measured === undefined ? {} : { measured: input.measured }),
    ...observed(ctx),
  };
}

/** Back to Pending for a new round: the assignment is cleared, the attempt stays counted. */
export function requeuedPatch(
  ctx: TransitionContext,
  input: { readonly why: string; readonly attempts: number; readonly maxAttempts: number },
): RequestStatusPatch {
  return {
    phase: PHASE.pending,
    reason: REQUEST_REASON.agentLost,
    message: `${input.why}; rescheduling (attempt ${input.attempts + 1} of ${input.maxAttempts})`,
    assignment: null,
    predicted: null,
    scheduledTime: null,
    startTime: null,
    conditions: setCondition(
      ctx.status?.conditions,
      {
        type: REQUEST_CONDITION.scheduled,
        status: 'False',
        reason: REQUEST_REASON.agentLost,
        message: input.why,
      },
      ctx.now,
      ctx.generation,
    ),
    ...observed(ctx),
  };
}
