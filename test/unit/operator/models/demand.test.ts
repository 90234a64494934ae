// Demand classes for placement from InferenceRequests (src/operator/models/demand.ts).
import { describe, expect, it } from '@jest/globals';
import { demandClasses, DEMAND_DEFAULTS } from '../../../../src/operator/models/demand.js';
import type { InferenceRequestView } from '../../../../src/operator/scheduling/objects.js';

const NOW = Date.parse('2026-12-04T10:00:00Z');
function request(
  name: string,
  spec: Partial<InferenceRequestView['spec']>,
  createdSecondsAgo: number,
  phase?: string,
): InferenceRequestView {
  return {
    metadata: {
      name,
      namespace: 'ns',
      creationTimestamp: new Date(NOW - createdSecondsAgo * 1000).toISOString(),
    },
    spec: {
      model: 'smollm2',
      prompt: 'x'.repeat(400),
      maxTokens: 64,
      latencyBudget: '5s',
      ...spec,
    },
    ...(phase === undefined ? {} : { status: { phase } }),
  };
}

describe('demandClasses', () => {
  it('groups alike requests, counting pending now and recent creations as arrivals', () => {
    const classes = demandClasses(
      [
        request('a', {}, 1),
        request('b', { maxTokens: 60 }, 2, 'Pending'),
        request('c', {}, 30, 'Succeeded'),
        request('d', {}, 300, 'Running'),
        request('e', { latencyBudget: '500ms' }, 1),
        request('f', { model: 'unknown' }, 1),
        request('g', { latencyBudget: 'soon' }, 1),
      ],
      ['smollm2'],
      NOW,
    );
    expect(classes).toHaveLength(2);
    const [slow, fast] = [...classes].sort(
      (x, y) => y.latencyBudgetSeconds - x.latencyBudgetSeconds,
    );
    // a and b pend; a, b are recent; d runs but is old: neither pending nor recent.
    expect(slow).toMatchObject({
      model: 'smollm2',
      pending: 2,
      maxTokens: 64,
      latencyBudgetSeconds: 5,
    });
    expect(slow?.arrivalsPerSecond).toBeCloseTo(2 / DEMAND_DEFAULTS.windowSeconds);
    expect(fast).toMatchObject({ pending: 1, latencyBudgetSeconds: 0.5 });
  });

  it('gives a Model nobody asked for a standing class, so it is placed before its first request', () => {
    const [standing] = demandClasses([], ['fresh'], NOW);
    expect(standing).toMatchObject({
      id: 'fresh/standing',
      model: 'fresh',
      pending: 0,
      arrivalsPerSecond: DEMAND_DEFAULTS.standing.arrivalsPerSecond,
    });
  });
});
