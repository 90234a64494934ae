// What an error from an agent call means for the caller, the inverse of how the agent maps its
// errors to gRPC status codes (src/agent/errors.ts): callers branch on the meaning, never on wire
// codes.
import { status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';

export const AGENT_ERROR_MEANING = {
  /** The agent, or the way to it, went away (unavailable, cancelled, reset, internal error, or
   *  an error without a gRPC status): what was sent may or may not have run. */
  lost: 'lost',
  /** The agent is there but will not take this now (busy, model not loaded, already exists). */
  refused: 'refused',
  /** The agent has no record of what the call named (a batch id, a model). */
  notFound: 'notFound',
  /** The call itself is wrong (bad argument, prompt out of range): retrying cannot help. */
  rejected: 'rejected',
  /** A deadline passed: the call's, or a request's latency budget. */
  deadline: 'deadline',
} as const;
export type AgentErrorMeaning = (typeof AGENT_ERROR_MEANING)[keyof typeof AGENT_ERROR_MEANING];

/** The meaning of each gRPC status code an agent call can end with. */
export const MEANING_OF_CODE: Readonly<Record<number, AgentErrorMeaning>> = {
  [GrpcStatus.UNAVAILABLE]: AGENT_ERROR_MEANING.lost,
  [GrpcStatus.CANCELLED]: AGENT_ERROR_MEANING.lost,
  [GrpcStatus.ABORTED]: AGENT_ERROR_MEANING.lost,
  [GrpcStatus.INTERNAL]: AGENT_ERROR_MEANING.lost,
  [GrpcStatus.UNKNOWN]: AGENT_ERROR_MEANING.lost,
  [GrpcStatus.DATA_LOSS]: AGENT_ERROR_MEANING.lost,
  [GrpcStatus.DEADLINE_EXCEEDED]: AGENT_ERROR_MEANING.deadline,
  [GrpcStatus.NOT_FOUND]: AGENT_ERROR_MEANING.notFound,
  [GrpcStatus.INVALID_ARGUMENT]: AGENT_ERROR_MEANING.rejected,
  [GrpcStatus.OUT_OF_RANGE]: AGENT_ERROR_MEANING.rejected,
  [GrpcStatus.RESOURCE_EXHAUSTED]: AGENT_ERROR_MEANING.refused,
  [GrpcStatus.FAILED_PRECONDITION]: AGENT_ERROR_MEANING.refused,
  [GrpcStatus.ALREADY_EXISTS]: AGENT_ERROR_MEANING.refused,
  [GrpcStatus.PERMISSION_DENIED]: AGENT_ERROR_MEANING.refused,
  [GrpcStatus.UNAUTHENTICATED]: AGENT_ERROR_MEANING.refused,
  [GrpcStatus.UNIMPLEMENTED]: AGENT_ERROR_MEANING.refused,
};

export function isServiceError(error: unknown): error is ServiceError {
  return typeof error === 'object' && error !== null && 'code' in error && 'details' in error;
}

/** An agent call's failure as the caller sees it. */
export interface AgentFailure {
  readonly meaning: AgentErrorMeaning;
  /** The gRPC status code, when the error carries one. */
  readonly code?: number;
  /** The agent's message (the status details), else the error's message. */
  readonly message: string;
}

/** Classifies any error thrown by an AgentClient call. */
export function classifyAgentError(error: unknown): AgentFailure {
  if (isServiceError(error)) {
    return {
      meaning: MEANING_OF_CODE[error.code] ?? AGENT_ERROR_MEANING.lost,
      code: error.code,
      message: error.details || error.message,
    };
  }
  return {
    meaning: AGENT_ERROR_MEANING.lost,
    message: error instanceof Error ? error.message : String(error),
  };
}
