// Errors in the OpenAI API's shape ({"error": {message, type, param, code}}) with the HTTP status
// an OpenAI client expects, and the mapping of edgellm's request reasons to them.
import { REQUEST_REASON } from '../api/constants.js';

export class OpenAiError extends Error {
  override name = 'OpenAiError';
  constructor(
    readonly status: number,
    /** OpenAI's error type: invalid_request_error, authentication_error, ... */
    readonly type: string,
    readonly code: string,
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
  }

  body(): { error: { message: string; type: string; param: string | null; code: string } } {
    return {
      error: { message: this.message, type: this.type, param: this.param, code: this.code },
    };
  }
}

export const invalidRequest = (message: string, param: string | null = null): OpenAiError =>
  new OpenAiError(400, 'invalid_request_error', 'invalid_request', message, param);

export const unauthorized = (message: string): OpenAiError =>
  new OpenAiError(401, 'authentication_error', 'invalid_api_key', message);

export const modelNotFound = (model: string): OpenAiError =>
  new OpenAiError(
    404,
    'invalid_request_error',
    'model_not_found',
    `The model \`${model}\` does not exist: no EdgeNode serves it (GET /v1/models lists those that are served)`,
    'model',
  );

export const notFound = (message: string): OpenAiError =>
  new OpenAiError(404, 'invalid_request_error', 'not_found', message);

export const rateLimited = (message: string): OpenAiError =>
  new OpenAiError(429, 'rate_limit_error', 'rate_limit_exceeded', message);

export const overloaded = (message: string): OpenAiError =>
  new OpenAiError(429, 'rate_limit_error', 'overloaded', message);

export const unavailable = (code: string, message: string): OpenAiError =>
  new OpenAiError(503, 'server_error', code, message);

/** How a request that ended without a result is answered, by its edgellm reason. */
export function errorForReason(reason: string, message: string): OpenAiError {
  switch (reason) {
    case REQUEST_REASON.contextExceeded:
      return new OpenAiError(
        400,
        'invalid_request_error',
        'context_length_exceeded',
        message,
        'max_tokens',
      );
    case REQUEST_REASON.invalidSpec:
      return invalidRequest(message);
    case REQUEST_REASON.noEligibleNode:
      return unavailable('no_eligible_node', message);
    case REQUEST_REASON.insufficientMemory:
      return unavailable('insufficient_memory', message);
    case REQUEST_REASON.deadlineInfeasible:
      return new OpenAiError(504, 'server_error', 'deadline_infeasible', message);
    case REQUEST_REASON.deadlineExceeded:
      return new OpenAiError(504, 'server_error', 'deadline_exceeded', message);
    case REQUEST_REASON.agentLost:
      return unavailable('agent_lost', message);
    case REQUEST_REASON.queueFull:
      return unavailable('queue_full', message);
    case REQUEST_REASON.overloaded:
      return unavailable('overloaded', message);
    default:
      return new OpenAiError(502, 'server_error', 'agent_error', message);
  }
}
