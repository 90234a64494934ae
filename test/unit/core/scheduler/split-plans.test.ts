// Split plans in front of DFTSP: with a runtime that executes partial models, planning splits
// never lowers the throughput DFTSP finds (every batch feasible without splits stays feasible
// with less server compute); without one, nothing changes but the plans are still reported.
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { dftsp } from '../../../../src/core/scheduler/dftsp.js';
import { withSplitPlans } from '../../../../src/core/scheduler/split.js';
import type { ScheduleInstance } from '../../../../src/core/scheduler/types.js';
import type { SplitRequestContext } from '../../../../src/core/scheduler/split.js';
import { instanceArb } from '../../../support/instances.js';

function unsplit(instance: ScheduleInstance): ScheduleInstance {
  return {
    ...instance,
    requests: instance.requests.map((r) => ({ ...r, serverComputeFraction: 1 })),
  };
}

const clientArb = fc.record({
  auto: fc.boolean(),
  computeFlops: fc.double({ min: 1e8, max: 1e12, noNaN: true }),
  rate: fc.double({ min: 1e4, max: 1e9, noNaN: true }),
});

describe('split plans in the scheduler', () => {
  test('more room on the server: DFTSP serves at least as much with split plans', () => {
    let gained = 0;
    let offloaded = 0;
    fc.assert(
      fc.property(
        instanceArb(1, 8),
        fc.array(clientArb, { minLength: 8, maxLength: 8 }),
        (raw, clients) => {
          const base = unsplit(raw);
          const splits = new Map<string, SplitRequestContext>(
            base.requests.map((r, i) => {
              const c = clients[i % clients.length] ?? { auto: false, computeFlops: 1, rate: 1 };
              return [
                r.id,
                {
                  split: c.auto ? 'auto' : 'server-only',
                  client: {
                    computeFlops: c.computeFlops,
                    uplinkBytesPerSecond: c.rate,
                    downlinkBytesPerSecond: c.rate,
                  },
                },
              ];
            }),
          );
          const capable = withSplitPlans(base, splits, { partialModelExecution: true });
          const incapable = withSplitPlans(base, splits, { partialModelExecution: false });
          const without = dftsp(base);
          const withSplit = dftsp(capable.instance);
          expect(withSplit.optimal && without.optimal).toBe(true);
          const key = (r: typeof without): number =>
            base.options.objective === 'tokens' ? r.tokens : r.requests;
          expect(key(withSplit)).toBeGreaterThanOrEqual(key(without));
          if (key(withSplit) > key(without)) gained++;
          expect(dftsp(incapable.instance).batch).toEqual(without.batch);
          for (const r of base.requests) {
            const a = capable.assignments.get(r.id);
            const b = incapable.assignments.get(r.id);
            expect(b?.demand.serverComputeFraction).toBe(1);
            expect(b?.plan === null).toBe(a?.plan === null);
            const f = a?.demand.serverComputeFraction ?? 1;
            expect(f).toBeGreaterThanOrEqual(0);
            expect(f).toBeLessThanOrEqual(1);
            if (f < 1) offloaded++;
          }
        },
      ),
      { numRuns: 300 },
    );
    // the generated instances do exercise the wiring
    expect(offloaded).toBeGreaterThan(0);
    expect(gained).toBeGreaterThan(0);
  });
});
