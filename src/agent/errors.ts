// Typed agent errors carrying the gRPC status the caller receives, and the mapping of any
// error (the runtime's typed errors included) to a status. Messages say what to do.
import { status as Status } from '@grpc/grpc-js';
import { RUNTIME_ERROR_CODE, RuntimeError, type RuntimeErrorCode } from '../runtime/errors.js';

export type GrpcCode = (typeof Status)[keyof typeof Status];

/** An error the agent reports to the caller with a precise gRPC status code. */
export class AgentError extends Error {
  constructor(
    readonly code: GrpcCode,
    message: string,
  ) {
    super(message);
    this.name = 'AgentError';
  }
}

export const invalidArgument = (message: string): AgentError =>
  new AgentError(Status.INVALID_ARGUMENT, message);
export const notFound = (message: string): AgentError => new AgentError(Status.NOT_FOUND, message);
export const outOfRange = (message: string): AgentError =>
  new AgentError(Status.OUT_OF_RANGE, message);
export const resourceExhausted = (message: string): AgentError =>
  new AgentError(Status.RESOURCE_EXHAUSTED, message);
export const deadlineExceeded = (message: string): AgentError =>
  new AgentError(Status.DEADLINE_EXCEEDED, message);
export const failedPrecondition = (message: string): AgentError =>
  new AgentError(Status.FAILED_PRECONDITION, message);
export const alreadyExists = (message: string): AgentError =>
  new AgentError(Status.ALREADY_EXISTS, message);
export const unavailable = (message: string): AgentError =>
  new AgentError(Status.UNAVAILABLE, message);
export const cancelled = (message: string): AgentError => new AgentError(Status.CANCELLED, message);
export const permissionDenied = (message: string): AgentError =>
  new AgentError(Status.PERMISSION_DENIED, message);

/** The gRPC status of each typed runtime error (src/runtime/errors.ts). */
export const RUNTIME_ERROR_STATUS: Readonly<Record<RuntimeErrorCode, GrpcCode>> = {
  [RUNTIME_ERROR_CODE.modelNotFound]: Status.NOT_FOUND,
  [RUNTIME_ERROR_CODE.modelAlreadyLoaded]: Status.ALREADY_EXISTS,
  [RUNTIME_ERROR_CODE.modelLoadFailed]: Status.FAILED_PRECONDITION,
  [RUNTIME_ERROR_CODE.promptTooLong]: Status.OUT_OF_RANGE,
  [RUNTIME_ERROR_CODE.batchTooLarge]: Status.RESOURCE_EXHAUSTED,
  [RUNTIME_ERROR_CODE.emptyBatch]: Status.INVALID_ARGUMENT,
  [RUNTIME_ERROR_CODE.invalidRequest]: Status.INVALID_ARGUMENT,
  [RUNTIME_ERROR_CODE.runtimeUnavailable]: Status.UNAVAILABLE,
};

/** Name of a gRPC status code, e.g. `INVALID_ARGUMENT` (for metrics and logs). */
export function codeName(code: GrpcCode): string {
  for (const [name, value] of Object.entries(Status)) if (value === code) return name;
  return String(code);
}

/** The gRPC status and message for any error thrown while serving a call. */
export function toStatus(err: unknown): { code: GrpcCode; message: string } {
  if (err instanceof AgentError) return { code: err.code, message: err.message };
  if (err instanceof RuntimeError)
    return { code: RUNTIME_ERROR_STATUS[err.code], message: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { code: Status.INTERNAL, message: `internal agent error: ${message}` };
}
