// The client's meanings are the inverse of how the agent maps its errors to status codes: every
// typed error the agent or its runtime raises reaches the operator with the meaning it intends.
import { describe, expect, it } from '@jest/globals';
import { status as GrpcStatus } from '@grpc/grpc-js';
import {
  AGENT_ERROR_MEANING,
  classifyAgentError,
  MEANING_OF_CODE,
} from '../../../src/agent-client/error-meaning.js';
import {
  alreadyExists,
  cancelled,
  deadlineExceeded,
  failedPrecondition,
  invalidArgument,
  notFound,
  outOfRange,
  resourceExhausted,
  RUNTIME_ERROR_STATUS,
  toStatus,
  unavailable,
} from '../../../src/agent/errors.js';
import { RUNTIME_ERROR_CODE } from '../../../src/runtime/errors.js';

describe('agent error meanings', () => {
  it('every gRPC status code has a meaning', () => {
    const codes = Object.values(GrpcStatus).filter((c): c is number => typeof c === 'number');
    for (const code of codes.filter((c) => c > 0)) expect(MEANING_OF_CODE[code]).toBeDefined();
  });

  it.each([
    [invalidArgument('x'), AGENT_ERROR_MEANING.rejected],
    [outOfRange('x'), AGENT_ERROR_MEANING.rejected],
    [notFound('x'), AGENT_ERROR_MEANING.notFound],
    [resourceExhausted('x'), AGENT_ERROR_MEANING.refused],
    [failedPrecondition('x'), AGENT_ERROR_MEANING.refused],
    [alreadyExists('x'), AGENT_ERROR_MEANING.refused],
    [deadlineExceeded('x'), AGENT_ERROR_MEANING.deadline],
    [unavailable('x'), AGENT_ERROR_MEANING.lost],
    [cancelled('x'), AGENT_ERROR_MEANING.lost],
  ])('the agent’s %s arrives as %s', (error, meaning) => {
    const { code, message } = toStatus(error);
    const wire = Object.assign(new Error(message), { code, details: message, metadata: {} });
    expect(classifyAgentError(wire)).toEqual({ meaning, code, message: 'x' });
  });

  it('runtime errors: a bad prompt is rejected, a missing model not found, a full batch refused', () => {
    expect(MEANING_OF_CODE[RUNTIME_ERROR_STATUS[RUNTIME_ERROR_CODE.promptTooLong]]).toBe(
      'rejected',
    );
    expect(MEANING_OF_CODE[RUNTIME_ERROR_STATUS[RUNTIME_ERROR_CODE.invalidRequest]]).toBe(
      'rejected',
    );
    expect(MEANING_OF_CODE[RUNTIME_ERROR_STATUS[RUNTIME_ERROR_CODE.modelNotFound]]).toBe(
      'notFound',
    );
    expect(MEANING_OF_CODE[RUNTIME_ERROR_STATUS[RUNTIME_ERROR_CODE.batchTooLarge]]).toBe('refused');
    expect(MEANING_OF_CODE[RUNTIME_ERROR_STATUS[RUNTIME_ERROR_CODE.runtimeUnavailable]]).toBe(
      'lost',
    );
  });

  it('an unexpected agent failure (INTERNAL) and a plain error count as lost', () => {
    const { code, message } = toStatus(new Error('boom'));
    expect(code).toBe(GrpcStatus.INTERNAL);
    expect(
      classifyAgentError(Object.assign(new Error(message), { code, details: message })).meaning,
    ).toBe('lost');
    expect(classifyAgentError('a string')).toEqual({ meaning: 'lost', message: 'a string' });
  });
});
