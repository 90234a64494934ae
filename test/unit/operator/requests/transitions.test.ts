// Request status transitions as typed merge patches, checked as data.
import { describe, expect, it } from '@jest/globals';
import type { InferenceRequestStatus } from '../../../../src/gen/crds/inferencerequest.js';
import {
  failedPatch,
  requeuedPatch,
  runningPatch,
  scheduledPatch,
  succeededPatch,
  STATUS_MESSAGE_MAX,
  type TransitionContext,
} from '../../../../src/operator/requests/transitions.js';

const T0 = new Date('2026-01-01T00:00:00Z');
const T1 = new Date('2026-01-01T00:00:05Z');

const assignment = {
  node: 'edge-a',
  batchId: 'b1',
  model: 'tiny',
  quantization: 'F32',
  agentModel: 'tiny',
  batchSize: 3,
  uplinkHz: 1e6,
  downlinkHz: 1e6,
  computeShare: 0.5,
};
const predicted = {
  latencySeconds: 1.5,
  uplinkSeconds: 0.1,
  computeSeconds: 1.3,
  downlinkSeconds: 0.1,
};

function ctx(
  status: InferenceRequestStatus | undefined,
  now = T0,
  generation = 1,
): TransitionContext {
  return { status, generation, now };
}

describe('request status transitions', () => {
  it('Scheduled records the batch, the attempt and a Scheduled=True condition for the generation', () => {
    const patch = scheduledPatch(ctx(undefined), { assignment, predicted, attempts: 1 });
    expect(patch).toMatchObject({
      phase: 'Scheduled',
      reason: 'Scheduled',
      message: 'batch b1 of 3 on edge-a',
      attempts: 1,
      assignment,
      predicted,
      scheduledTime: T0.toISOString(),
      observedGeneration: 1,
    });
    expect(patch.conditions).toEqual([
      {
        type: 'Scheduled',
        status: 'True',
        reason: 'Scheduled',
        message: 'node edge-a, batch b1',
        lastTransitionTime: T0.toISOString(),
        observedGeneration: 1,
      },
    ]);
  });

  it('Running records when the batch started', () => {
    expect(runningPatch(ctx(undefined), T0.getTime())).toEqual({
      phase: 'Running',
      reason: 'Running',
      startTime: T0.toISOString(),
      observedGeneration: 1,
    });
  });

  it('Succeeded keeps the Scheduled condition, adds Completed=True and the start time', () => {
    const scheduled = scheduledPatch(ctx(undefined), { assignment, predicted, attempts: 1 });
    const patch = succeededPatch(ctx({ conditions: scheduled.conditions ?? [] }, T1), {
      node: 'edge-a',
      startedMs: T0.getTime(),
      measured: { latencySeconds: 2, executionSeconds: 1.25, tokensPerSecond: 8 },
      usage: { promptTokens: 5, completionTokens: 10 },
      output: { output: 'hello' },
    });
    expect(patch).toMatchObject({
      phase: 'Succeeded',
      reason: 'Succeeded',
      message: '10 tokens in 1.25 s on edge-a',
      output: 'hello',
      startTime: T0.toISOString(),
      completionTime: T1.toISOString(),
    });
    expect(patch).not.toHaveProperty('outputRef');
    expect(patch.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Scheduled', 'True', 'Scheduled'],
      ['Completed', 'True', 'Succeeded'],
    ]);
  });

  it('Failed bounds the message and completes the request (kubectl wait returns)', () => {
    const patch = failedPatch(ctx(undefined), {
      reason: 'AgentError',
      message: 'x'.repeat(STATUS_MESSAGE_MAX + 10),
    });
    expect(patch.phase).toBe('Failed');
    expect(patch.message).toHaveLength(STATUS_MESSAGE_MAX);
    expect(patch.conditions?.[0]).toMatchObject({
      type: 'Completed',
      status: 'True',
      reason: 'AgentError',
    });
    expect(patch.conditions?.[0]?.message.length).toBeLessThanOrEqual(1000);
    expect(patch).not.toHaveProperty('measured');
  });

  it('Requeued clears the assignment and says which attempt comes next', () => {
    const scheduled = scheduledPatch(ctx(undefined), { assignment, predicted, attempts: 1 });
    const patch = requeuedPatch(ctx({ conditions: scheduled.conditions ?? [] }, T1), {
      why: 'agent on edge-a lost',
      attempts: 1,
      maxAttempts: 3,
    });
    expect(patch).toMatchObject({
      phase: 'Pending',
      reason: 'AgentLost',
      message: 'agent on edge-a lost; rescheduling (attempt 2 of 3)',
      assignment: null,
      predicted: null,
      scheduledTime: null,
      startTime: null,
    });
    // The condition flips to False, so its transition time moves.
    expect(patch.conditions).toEqual([
      expect.objectContaining({
        type: 'Scheduled',
        status: 'False',
        lastTransitionTime: T1.toISOString(),
      }),
    ]);
  });

  it('leaves observedGeneration out when the object has none', () => {
    const patch = runningPatch({ status: undefined, generation: undefined, now: T0 }, 0);
    expect(patch).not.toHaveProperty('observedGeneration');
  });
});
