import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import type { InferenceRequest } from '../../../../src/gen/crds/inferencerequest.js';
import { createOperatorMetrics } from '../../../../src/operator/metrics.js';
import { updatePhaseGauge } from '../../../../src/operator/requests/phase-gauge.js';

function request(namespace: string, phase?: string): InferenceRequest {
  return {
    apiVersion: 'edgellm.io/v1alpha1',
    kind: 'InferenceRequest',
    metadata: { name: 'r', namespace },
    spec: { model: 'm', prompt: 'p', maxTokens: 1, latencyBudget: '1s' },
    ...(phase === undefined ? {} : { status: { phase } }),
  } as InferenceRequest;
}

describe('updatePhaseGauge', () => {
  it('counts requests by namespace and phase, every phase of a namespace present, 0 when empty', async () => {
    const registry = new Registry();
    const metrics = createOperatorMetrics(registry);
    updatePhaseGauge(metrics, [request('a'), request('a', 'Succeeded'), request('a', 'Succeeded')]);
    const values = (await metrics.requests.get()).values;
    const of = (namespace: string, phase: string): number | undefined =>
      values.find((v) => v.labels['namespace'] === namespace && v.labels['phase'] === phase)?.value;
    expect(of('a', 'Pending')).toBe(1);
    expect(of('a', 'Succeeded')).toBe(2);
    expect(of('a', 'Running')).toBe(0);
    expect(of('a', 'Scheduled')).toBe(0);
    // A namespace whose requests are all gone leaves the gauge.
    updatePhaseGauge(metrics, [request('b', 'Running')]);
    const after = (await metrics.requests.get()).values;
    expect(after.some((v) => v.labels['namespace'] === 'a')).toBe(false);
    expect(after.find((v) => v.labels['phase'] === 'Running')?.value).toBe(1);
  });
});
