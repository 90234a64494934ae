// Which in-flight requests the leader settles itself, and when: never one a batch holds, only
// after it stayed unchanged and unheld for the grace, then with backoff.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { InferenceRequest } from '../../../../src/gen/crds/inferencerequest.js';
import { StrandedWatch } from '../../../../src/operator/requests/stranded-watch.js';

const TIMING = { graceMs: 5_000, retryBaseMs: 2_000, retryMaxMs: 30_000 };
const T0 = Date.parse('2026-01-01T00:00:00Z');

function request(name: string, phase: string | undefined, resourceVersion = '1'): InferenceRequest {
  return {
    apiVersion: 'edgellm.io/v1alpha1',
    kind: 'InferenceRequest',
    metadata: { name, namespace: 'ns', resourceVersion },
    spec: { model: 'm', prompt: 'p', maxTokens: 1, latencyBudget: '1s' },
    ...(phase === undefined ? {} : { status: { phase } }),
  } as InferenceRequest;
}

const names = (rs: readonly InferenceRequest[]): string[] => rs.map((r) => r.metadata.name ?? '');

describe('StrandedWatch', () => {
  it('a request in flight and held by no batch is due after the grace, then after 2, 4, 8, 16, 30, 30 s', () => {
    const watch = new StrandedWatch(TIMING);
    const r = request('a', 'Running');
    const dueAt: number[] = [];
    for (let t = 0; t <= 120_000; t += 500)
      if (watch.due([r], new Set(), T0 + t).length > 0) dueAt.push(t / 1000);
    expect(dueAt).toEqual([5, 7, 11, 19, 35, 65, 95]);
  });

  it('never one a batch in flight holds, nor one that is not Scheduled or Running', () => {
    const watch = new StrandedWatch(TIMING);
    const rs = [
      request('held', 'Running'),
      request('scheduled', 'Scheduled'),
      request('pending', undefined),
      request('done', 'Succeeded'),
      request('failed', 'Failed'),
    ];
    const held = new Set(['ns/held']);
    expect(watch.due(rs, held, T0)).toEqual([]);
    expect(names(watch.due(rs, held, T0 + 60_000))).toEqual(['scheduled']);
  });

  it('a new resourceVersion, or a batch holding it meanwhile, starts the grace over', () => {
    const watch = new StrandedWatch(TIMING);
    expect(watch.due([request('a', 'Running', '1')], new Set(), T0)).toEqual([]);
    expect(watch.due([request('a', 'Running', '2')], new Set(), T0 + 4_000)).toEqual([]);
    expect(watch.due([request('a', 'Running', '2')], new Set(), T0 + 8_000)).toEqual([]);
    expect(names(watch.due([request('a', 'Running', '2')], new Set(), T0 + 9_000))).toEqual(['a']);
    watch.due([request('a', 'Running', '2')], new Set(['ns/a']), T0 + 10_000);
    expect(watch.due([request('a', 'Running', '2')], new Set(), T0 + 12_000)).toEqual([]);
    expect(names(watch.due([request('a', 'Running', '2')], new Set(), T0 + 17_000))).toEqual(['a']);
  });

  it('one whose batch still runs is due again at the next check, without backoff', () => {
    const watch = new StrandedWatch(TIMING);
    const r = request('a', 'Running');
    watch.due([r], new Set(), T0);
    for (const t of [5_000, 7_000, 11_000])
      expect(watch.due([r], new Set(), T0 + t)).toHaveLength(1);
    watch.soon(['ns/a']);
    expect(watch.due([r], new Set(), T0 + 11_500)).toHaveLength(1);
    expect(watch.due([r], new Set(), T0 + 12_000)).toHaveLength(0);
  });

  it('an unreachable agent counts from the first try that found it so, for the latest member', () => {
    const watch = new StrandedWatch(TIMING);
    const rs = [request('a', 'Running'), request('b', 'Running')];
    watch.due(rs, new Set(), T0);
    expect(watch.unreachable(['ns/a'], T0 + 5_000)).toBe(0);
    expect(watch.unreachable(['ns/a'], T0 + 20_000)).toBe(15_000);
    expect(watch.unreachable(['ns/a', 'ns/b'], T0 + 30_000)).toBe(0);
    expect(watch.unreachable(['ns/a', 'ns/b'], T0 + 40_000)).toBe(10_000);
  });

  it('property: due only when unheld, in flight and unchanged for the whole grace', () => {
    // Each step: time passes, the request may change phase or version, a batch may hold it.
    const step = fc.record({
      advanceMs: fc.integer({ min: 0, max: 4_000 }),
      phase: fc.constantFrom(undefined, 'Scheduled', 'Running', 'Succeeded'),
      bump: fc.boolean(),
      held: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const watch = new StrandedWatch(TIMING);
        let now = T0;
        let version = 1;
        // Since when the request has been in flight, unheld, with this version (undefined: not).
        let quietSince: number | undefined;
        for (const s of steps) {
          now += s.advanceMs;
          if (s.bump) version++;
          const inFlight = s.phase === 'Scheduled' || s.phase === 'Running';
          const r = request('a', s.phase, String(version));
          // A new version seen in flight and unheld starts the quiet time now.
          if (!inFlight || s.held) quietSince = undefined;
          else quietSince = s.bump ? now : (quietSince ?? now);
          const due = watch.due([r], new Set(s.held ? ['ns/a'] : []), now);
          if (due.length > 0) {
            expect(s.held).toBe(false);
            expect(inFlight).toBe(true);
            expect(now - (quietSince ?? now)).toBeGreaterThanOrEqual(TIMING.graceMs);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
