// Which dispatch a request belongs to (request-facts.ts): the fence of every write only that
// dispatch may make (status-recorder.ts).
import { describe, expect, it } from '@jest/globals';
import type { InferenceRequest } from '../../../../src/gen/crds/inferencerequest.js';
import { dispatchOf, inDispatch } from '../../../../src/operator/requests/request-facts.js';

function request(
  uid: string,
  status?: { phase: string; batchId?: string; attempts?: number },
): Pick<InferenceRequest, 'metadata' | 'status'> {
  return {
    metadata: { name: 'r', namespace: 'ns', uid },
    ...(status === undefined
      ? {}
      : {
          status: {
            phase: status.phase,
            ...(status.attempts === undefined ? {} : { attempts: status.attempts }),
            ...(status.batchId === undefined
              ? {}
              : { assignment: { node: 'edge-a', batchId: status.batchId } }),
          },
        }),
  } as Pick<InferenceRequest, 'metadata' | 'status'>;
}

describe('inDispatch', () => {
  const scheduled = request('u1', { phase: 'Scheduled', batchId: 'b1', attempts: 1 });
  const d = dispatchOf(scheduled);

  it('holds while the request is Scheduled or Running in the same batch and dispatch', () => {
    expect(inDispatch(scheduled, d)).toBe(true);
    expect(inDispatch(request('u1', { phase: 'Running', batchId: 'b1', attempts: 1 }), d)).toBe(
      true,
    );
  });

  it('fails once it ended, went back to Pending, or runs in another batch or dispatch', () => {
    for (const phase of ['Succeeded', 'Failed'])
      expect(inDispatch(request('u1', { phase, batchId: 'b1', attempts: 1 }), d)).toBe(false);
    expect(inDispatch(request('u1', { phase: 'Pending', attempts: 1 }), d)).toBe(false);
    expect(inDispatch(request('u1'), d)).toBe(false);
    expect(inDispatch(request('u1', { phase: 'Scheduled', batchId: 'b2', attempts: 2 }), d)).toBe(
      false,
    );
    // The same batch id under a later dispatch count is a different dispatch.
    expect(inDispatch(request('u1', { phase: 'Running', batchId: 'b1', attempts: 2 }), d)).toBe(
      false,
    );
  });

  it('fails for another object created under the same name', () => {
    expect(inDispatch(request('u2', { phase: 'Scheduled', batchId: 'b1', attempts: 1 }), d)).toBe(
      false,
    );
  });
});
