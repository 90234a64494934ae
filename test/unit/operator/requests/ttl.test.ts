// When a finished request may be deleted (ttlSecondsAfterFinished).
import { describe, expect, it } from '@jest/globals';
import type { InferenceRequest } from '../../../../src/gen/crds/inferencerequest.js';
import { expiryMs } from '../../../../src/operator/requests/ttl.js';

function request(ttl: number | undefined, status: InferenceRequest['status']): InferenceRequest {
  return {
    apiVersion: 'edgellm.io/v1alpha1',
    kind: 'InferenceRequest',
    metadata: { name: 'r', namespace: 'ns' },
    spec: {
      model: 'm',
      prompt: 'p',
      maxTokens: 1,
      latencyBudget: '1s',
      ...(ttl === undefined ? {} : { ttlSecondsAfterFinished: ttl }),
    },
    ...(status === undefined ? {} : { status }),
  };
}

const DONE = '2026-01-01T00:00:00Z';

describe('expiryMs', () => {
  it('is completionTime + TTL for a finished request', () => {
    expect(expiryMs(request(30, { phase: 'Succeeded', completionTime: DONE }))).toBe(
      Date.parse(DONE) + 30_000,
    );
    expect(expiryMs(request(0, { phase: 'Failed', completionTime: DONE }))).toBe(Date.parse(DONE));
  });
  it('is undefined without a TTL, while running, or without a completion time', () => {
    expect(
      expiryMs(request(undefined, { phase: 'Succeeded', completionTime: DONE })),
    ).toBeUndefined();
    expect(expiryMs(request(30, { phase: 'Running' }))).toBeUndefined();
    expect(expiryMs(request(30, { phase: 'Succeeded' }))).toBeUndefined();
    expect(expiryMs(request(30, undefined))).toBeUndefined();
  });
});
