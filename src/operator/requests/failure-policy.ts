// What happens to a request when its batch does not end with a result for it: back to Pending
// for another round, or Failed with a reason. Pure: the meaning of the agent's error, the
// request's deadline, the time and its attempts in, a decision as data out. The request status
// recorder carries decisions out.
import type { AgentFailure } from '../../agent-client/error-meaning.js';
import { AGENT_ERROR_MEANING } from '../../agent-client/error-meaning.js';
import { FinishReason } from '../../gen/edgellm/agent/v1/agent.js';
import { REQUEST_REASON, type RequestReason } from '../api/constants.js';

export type OutcomeDecision =
  | { readonly kind: 'requeue'; readonly why: string }
  | { readonly kind: 'fail'; readonly reason: RequestReason; readonly message: string };

/** Another round unless the request has used its dispatches; then Failed AgentLost. */
export function retryOrGiveUp(why: string, attempts: number, maxAttempts: number): OutcomeDecision {
  return attempts >= maxAttempts
    ? {
        kind: 'fail',
        reason: REQUEST_REASON.agentLost,
        message: `${why}; gave up after ${attempts} attempts`,
      }
    : { kind: 'requeue', why };
}

export interface BatchFailureInput {
  readonly failure: AgentFailure;
  readonly node: string;
  readonly batchId: string;
  /** When the request's latency budget runs out (epoch ms), if it has one. */
  readonly deadlineMs: number | undefined;
  readonly nowMs: number;
  /** Dispatches so far, this one included. */
  readonly attempts: number;
  readonly maxAttempts: number;
}

/**
 * A request whose batch stream failed before its result:
 * - the agent was lost: another round (the node sits out until its next heartbeat);
 * - a deadline passed (the agent refuses a batch whose member is past its deadline): the members
 *   with budget left go back to Pending, the expired one fails DeadlineExceeded;
 * - anything else (refused, rejected, not found): Failed AgentError with the agent's message.
 */
export function classifyBatchFailure(input: BatchFailureInput): OutcomeDecision {
  const { failure, node, batchId } = input;
  switch (failure.meaning) {
    case AGENT_ERROR_MEANING.lost:
      return retryOrGiveUp(
        `agent on ${node} lost during batch ${batchId}: ${failure.message}`,
        input.attempts,
        input.maxAttempts,
      );
    case AGENT_ERROR_MEANING.deadline:
      return (input.deadlineMs ?? 0) > input.nowMs
        ? retryOrGiveUp(
            `batch ${batchId} on ${node} was refused: ${failure.message}`,
            input.attempts,
            input.maxAttempts,
          )
        : {
            kind: 'fail',
            reason: REQUEST_REASON.deadlineExceeded,
            message: `agent on ${node}: ${failure.message}`,
          };
    default:
      return {
        kind: 'fail',
        reason: REQUEST_REASON.agentError,
        message: `agent on ${node}: ${failure.message}`,
      };
  }
}

/** Whether a failure takes the node out of rounds until its agent answers a heartbeat again. */
export function benchesNode(failure: AgentFailure): boolean {
  return failure.meaning === AGENT_ERROR_MEANING.lost;
}

/**
 * A result the agent streamed: success, or the decision for a generation that did not finish
 * (its budget ran out while generating; its batch was cancelled; the agent rejected it alone
 * because it does not fit one sequence's context, which the round's token estimate missed).
 */
export function classifyResult(input: {
  readonly finishReason: FinishReason;
  /** The agent's reason for a rejected request. */
  readonly error?: string;
  readonly node: string;
  readonly attempts: number;
  readonly maxAttempts: number;
}): OutcomeDecision | { readonly kind: 'succeed' } {
  switch (input.finishReason) {
    case FinishReason.FINISH_REASON_DEADLINE_EXCEEDED:
      return {
        kind: 'fail',
        reason: REQUEST_REASON.deadlineExceeded,
        message: `the latency budget ran out while generating on ${input.node}`,
      };
    case FinishReason.FINISH_REASON_REJECTED:
      return {
        kind: 'fail',
        reason: REQUEST_REASON.contextExceeded,
        message: `the agent on ${input.node} rejected it: ${input.error ?? 'no reason given'}`,
      };
    case FinishReason.FINISH_REASON_CANCELLED:
      return retryOrGiveUp(
        `the batch on ${input.node} was cancelled`,
        input.attempts,
        input.maxAttempts,
      );
    default:
      return { kind: 'succeed' };
  }
}

/** A batch followed after a restart (GetBatch) that the agent cannot report on. */
export function classifyRecoveryFailure(input: {
  readonly failure: AgentFailure;
  readonly node: string;
  readonly batchId: string;
  readonly attempts: number;
  readonly maxAttempts: number;
}): OutcomeDecision {
  const why =
    input.failure.meaning === AGENT_ERROR_MEANING.notFound
      ? `agent on ${input.node} has no record of batch ${input.batchId} (it restarted or never received it)`
      : `agent on ${input.node} unreachable during recovery: ${input.failure.message}`;
  return retryOrGiveUp(why, input.attempts, input.maxAttempts);
}
