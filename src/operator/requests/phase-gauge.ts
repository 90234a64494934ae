// The edgellm_requests gauge: requests in the cache by namespace and phase. Every phase of a
// namespace that has requests is present, 0 when none is in it, so "nothing pending" is a 0 on
// the dashboard rather than no data (and rate/alert expressions see the series).
import type { InferenceRequest } from '../../gen/crds/inferencerequest.js';
import { PHASE } from '../api/constants.js';
import type { OperatorMetrics } from '../metrics.js';
import { phaseOf } from './request-facts.js';

export function updatePhaseGauge(
  metrics: Pick<OperatorMetrics, 'requests'>,
  all: readonly InferenceRequest[],
): void {
  const counts = new Map<string, Map<string, number>>();
  for (const r of all) {
    const namespace = r.metadata.namespace ?? '';
    let phases = counts.get(namespace);
    if (phases === undefined) {
      phases = new Map(Object.values(PHASE).map((p) => [p, 0]));
      counts.set(namespace, phases);
    }
    const phase = phaseOf(r);
    phases.set(phase, (phases.get(phase) ?? 0) + 1);
  }
  metrics.requests.reset();
  for (const [namespace, phases] of counts)
    for (const [phase, n] of phases) metrics.requests.set({ namespace, phase }, n);
}
