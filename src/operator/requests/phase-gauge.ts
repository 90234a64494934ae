// The edgellm_requests gauge: requests in the cache by namespace and phase.
import type { InferenceRequest } from '../../gen/crds/inferencerequest.js';
import type { OperatorMetrics } from '../metrics.js';
import { phaseOf } from './request-facts.js';

export function updatePhaseGauge(
  metrics: Pick<OperatorMetrics, 'requests'>,
  all: readonly InferenceRequest[],
): void {
  const counts = new Map<string, { namespace: string; phase: string; n: number }>();
  for (const r of all) {
    const namespace = r.metadata.namespace ?? '';
    const phase = phaseOf(r);
    const k = `${namespace}\u0000${phase}`;
    const entry = counts.get(k) ?? { namespace, phase, n: 0 };
    entry.n += 1;
    counts.set(k, entry);
  }
  metrics.requests.reset();
  for (const { namespace, phase, n } of counts.values())
    metrics.requests.set({ namespace, phase }, n);
}
