// Which API errors a write retries: no answer, 429 and 5xx, except a full etcd, whose NOSPACE
// alarm outlasts any retry.
import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { isStorageFull, isTransient } from '../../../../src/operator/kube/api-errors.js';

function answer(code: number, message: string): k8s.ApiException<string> {
  return new k8s.ApiException(
    code,
    message,
    JSON.stringify({ kind: 'Status', status: 'Failure', message, code }),
    {},
  );
}

describe('isTransient', () => {
  it('retries no answer, 429 and 5xx', () => {
    expect(isTransient(new Error('connect ECONNREFUSED 127.0.0.1:6443'))).toBe(true);
    expect(isTransient(answer(429, 'too many requests'))).toBe(true);
    expect(isTransient(answer(500, 'etcdserver: request timed out'))).toBe(true);
    expect(isTransient(answer(503, 'unavailable'))).toBe(true);
  });

  it('does not retry an answer a retry would repeat', () => {
    expect(isTransient(answer(403, 'exceeded quota: q'))).toBe(false);
    expect(isTransient(answer(404, 'not found'))).toBe(false);
    expect(isTransient(answer(422, 'data: Too long'))).toBe(false);
  });

  it('does not retry a full etcd (kube-apiserver: 500 with etcd NOSPACE text)', () => {
    const full = answer(500, 'etcdserver: mvcc: database space exceeded');
    expect(isStorageFull(full)).toBe(true);
    expect(isTransient(full)).toBe(false);
    expect(isStorageFull(answer(500, 'etcdserver: request timed out'))).toBe(false);
    expect(isStorageFull(answer(403, 'database space exceeded in a quota message'))).toBe(false);
  });
});
