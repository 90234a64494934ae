// The failure policy, as data: what happens to a request whose batch did not deliver its result.
import { describe, expect, it } from '@jest/globals';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { classifyAgentError } from '../../../../src/agent-client/error-meaning.js';
import { FinishReason } from '../../../../src/gen/edgellm/agent/v1/agent.js';
import {
  benchesNode,
  classifyBatchFailure,
  classifyRecoveryFailure,
  classifyResult,
  retryOrGiveUp,
} from '../../../../src/operator/requests/failure-policy.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');

function grpcError(code: number, details: string): Error {
  return Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });
}

const base = { node: 'edge-a', batchId: 'b1', nowMs: NOW, maxAttempts: 3 };

describe('classifyBatchFailure', () => {
  it('agent lost -> back to Pending while attempts remain, AgentLost after the third', () => {
    const failure = classifyAgentError(grpcError(GrpcStatus.UNAVAILABLE, 'connection reset'));
    const deadlineMs = NOW + 60_000;
    expect(classifyBatchFailure({ ...base, failure, deadlineMs, attempts: 1 })).toEqual({
      kind: 'requeue',
      why: 'agent on edge-a lost during batch b1: connection reset',
    });
    expect(classifyBatchFailure({ ...base, failure, deadlineMs, attempts: 2 }).kind).toBe(
      'requeue',
    );
    expect(classifyBatchFailure({ ...base, failure, deadlineMs, attempts: 3 })).toEqual({
      kind: 'fail',
      reason: 'AgentLost',
      message: 'agent on edge-a lost during batch b1: connection reset; gave up after 3 attempts',
    });
  });

  it('an error without a gRPC status counts as a lost agent', () => {
    const failure = classifyAgentError(new Error('socket hang up'));
    expect(failure.meaning).toBe('lost');
    expect(classifyBatchFailure({ ...base, failure, deadlineMs: NOW + 1, attempts: 1 }).kind).toBe(
      'requeue',
    );
  });

  it('deadline refusals: members with budget left go back, the expired one fails', () => {
    const failure = classifyAgentError(grpcError(GrpcStatus.DEADLINE_EXCEEDED, 'r2 expired'));
    expect(
      classifyBatchFailure({ ...base, failure, deadlineMs: NOW + 5_000, attempts: 1 }),
    ).toEqual({ kind: 'requeue', why: 'batch b1 on edge-a was refused: r2 expired' });
    expect(classifyBatchFailure({ ...base, failure, deadlineMs: NOW, attempts: 1 })).toEqual({
      kind: 'fail',
      reason: 'DeadlineExceeded',
      message: 'agent on edge-a: r2 expired',
    });
    expect(
      classifyBatchFailure({ ...base, failure, deadlineMs: undefined, attempts: 1 }).kind,
    ).toBe('fail');
  });

  it.each([
    [GrpcStatus.INVALID_ARGUMENT, 'rejected'],
    [GrpcStatus.OUT_OF_RANGE, 'rejected'],
    [GrpcStatus.RESOURCE_EXHAUSTED, 'refused'],
    [GrpcStatus.FAILED_PRECONDITION, 'refused'],
    [GrpcStatus.NOT_FOUND, 'notFound'],
  ])('code %i (%s) fails the request with AgentError and the agent’s message', (code, meaning) => {
    const failure = classifyAgentError(grpcError(code, 'prompt too long'));
    expect(failure.meaning).toBe(meaning);
    expect(classifyBatchFailure({ ...base, failure, deadlineMs: NOW + 1e6, attempts: 1 })).toEqual({
      kind: 'fail',
      reason: 'AgentError',
      message: 'agent on edge-a: prompt too long',
    });
    expect(benchesNode(failure)).toBe(false);
  });

  it('only a lost agent benches its node', () => {
    expect(benchesNode(classifyAgentError(grpcError(GrpcStatus.UNAVAILABLE, 'x')))).toBe(true);
    expect(benchesNode(classifyAgentError(grpcError(GrpcStatus.DEADLINE_EXCEEDED, 'x')))).toBe(
      false,
    );
  });
});

describe('classifyResult', () => {
  const input = { node: 'edge-a', attempts: 1, maxAttempts: 3 };
  it('a finished generation succeeds (length or stop)', () => {
    for (const finishReason of [FinishReason.FINISH_REASON_LENGTH, FinishReason.FINISH_REASON_STOP])
      expect(classifyResult({ ...input, finishReason })).toEqual({ kind: 'succeed' });
  });
  it('a budget that ran out while generating fails DeadlineExceeded', () => {
    expect(
      classifyResult({ ...input, finishReason: FinishReason.FINISH_REASON_DEADLINE_EXCEEDED }),
    ).toEqual({
      kind: 'fail',
      reason: 'DeadlineExceeded',
      message: 'the latency budget ran out while generating on edge-a',
    });
  });
  it('a cancelled batch sends the request back, until its attempts are used', () => {
    const finishReason = FinishReason.FINISH_REASON_CANCELLED;
    expect(classifyResult({ ...input, finishReason }).kind).toBe('requeue');
    expect(classifyResult({ ...input, attempts: 3, finishReason })).toMatchObject({
      kind: 'fail',
      reason: 'AgentLost',
    });
  });
});

describe('classifyRecoveryFailure', () => {
  it('says whether the agent forgot the batch or could not be asked', () => {
    const input = { node: 'edge-a', batchId: 'b1', attempts: 1, maxAttempts: 3 };
    expect(
      classifyRecoveryFailure({
        ...input,
        failure: classifyAgentError(grpcError(GrpcStatus.NOT_FOUND, 'unknown batch')),
      }),
    ).toEqual({
      kind: 'requeue',
      why: 'agent on edge-a has no record of batch b1 (it restarted or never received it)',
    });
    expect(
      classifyRecoveryFailure({
        ...input,
        failure: classifyAgentError(grpcError(GrpcStatus.UNAVAILABLE, 'refused')),
      }),
    ).toEqual({ kind: 'requeue', why: 'agent on edge-a unreachable during recovery: refused' });
  });
});

describe('retryOrGiveUp', () => {
  it('gives up exactly at maxAttempts', () => {
    expect(retryOrGiveUp('x', 0, 1).kind).toBe('requeue');
    expect(retryOrGiveUp('x', 1, 1).kind).toBe('fail');
  });
});
