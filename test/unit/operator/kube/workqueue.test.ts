// The work queue's client-go semantics, driven by a fake clock: de-duplication, one worker per
// key, re-queue after done, delayed and rate-limited adds, shutdown, and its metrics.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { createOperatorMetrics } from '../../../../src/operator/metrics.js';
import { WorkQueue } from '../../../../src/operator/kube/workqueue.js';
import { FakeClock } from '../../../support/fake-clock.js';
import { parsePrometheusText, sumOf } from '../../../support/prometheus.js';

function queue(options: { baseDelayMs?: number; maxDelayMs?: number } = {}): {
  q: WorkQueue;
  clock: FakeClock;
  registry: Registry;
} {
  const clock = new FakeClock();
  const registry = new Registry();
  const metrics = createOperatorMetrics(registry);
  return { q: new WorkQueue({ name: 'test', clock, metrics, ...options }), clock, registry };
}

/** A counter's or gauge's value, or a histogram's observation count, summed over labels. */
async function value(registry: Registry, name: string): Promise<number> {
  const samples = parsePrometheusText(await registry.metrics());
  return samples.some((s) => s.name === name)
    ? sumOf(samples, name)
    : sumOf(samples, `${name}_count`);
}

describe('WorkQueue', () => {
  it('de-duplicates keys and hands them out in order', async () => {
    const { q } = queue();
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.len()).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    expect(q.len()).toBe(0);
  });

  it('re-queues a key added while it is processed only after done, and never hands it out twice at once', async () => {
    const { q } = queue();
    q.add('a');
    expect(await q.get()).toBe('a');
    q.add('a');
    q.add('a');
    expect(q.len()).toBe(0);
    let second: string | undefined = 'none';
    void q.get().then((k) => (second = k));
    await Promise.resolve();
    expect(second).toBe('none');
    q.done('a');
    await Promise.resolve();
    expect(second).toBe('a');
    q.done('a');
    expect(q.len()).toBe(0);
  });

  it('a waiting get receives the next added key', async () => {
    const { q } = queue();
    const next = q.get();
    q.add('x');
    expect(await next).toBe('x');
    expect(q.isProcessing('x')).toBe(true);
  });

  it('addAfter adds when the delay passes; the earliest of several delays wins', async () => {
    const { q, clock } = queue();
    q.addAfter('a', 1000);
    q.addAfter('a', 300);
    q.addAfter('a', 2000);
    expect(q.len()).toBe(0);
    expect(q.delayedLen()).toBe(1);
    clock.advance(299);
    expect(q.len()).toBe(0);
    clock.advance(1);
    expect(q.len()).toBe(1);
    expect(await q.get()).toBe('a');
    clock.advance(5000);
    expect(q.len()).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  it('addRateLimited backs off exponentially per key up to the cap; forget resets it', async () => {
    const { q, clock } = queue({ baseDelayMs: 5, maxDelayMs: 60_000 });
    const delays: number[] = [];
    for (let i = 0; i < 16; i++) {
      const start = clock.now();
      q.addRateLimited('a');
      let waited = 0;
      while (q.len() === 0) {
        clock.advance(1);
        waited++;
      }
      delays.push(waited);
      expect(clock.now() - start).toBe(waited);
      const key = await q.get();
      if (key !== undefined) q.done(key);
    }
    expect(delays.slice(0, 6)).toEqual([5, 10, 20, 40, 80, 160]);
    expect(Math.max(...delays)).toBe(60_000);
    expect(q.numRequeues('a')).toBe(16);
    expect(q.numRequeues('b')).toBe(0);
    q.forget('a');
    expect(q.numRequeues('a')).toBe(0);
    expect(q.backoffMs(0)).toBe(5);
    expect(q.backoffMs(5000)).toBe(60_000);
  });

  it('shutdown resolves waiting gets with undefined, cancels timers and ignores later adds', async () => {
    const { q, clock } = queue();
    const waiting = q.get();
    q.addAfter('later', 100);
    q.shutdown();
    expect(await waiting).toBeUndefined();
    expect(clock.pending()).toBe(0);
    q.add('a');
    expect(q.len()).toBe(0);
    expect(await q.get()).toBeUndefined();
  });

  it('rejects a base delay above the cap', () => {
    expect(() => new WorkQueue({ name: 'x', baseDelayMs: 10, maxDelayMs: 5 })).toThrow(
      /baseDelayMs <= maxDelayMs/,
    );
  });

  it('records depth, adds, retries and queue/work durations', async () => {
    const { q, clock, registry } = queue();
    q.add('a');
    q.add('a');
    q.add('b');
    expect(await value(registry, 'edgellm_operator_workqueue_depth')).toBe(2);
    expect(await value(registry, 'edgellm_operator_workqueue_adds_total')).toBe(3);
    clock.advance(250);
    const key = await q.get();
    clock.advance(500);
    q.done(key ?? '');
    q.addRateLimited('a');
    expect(await value(registry, 'edgellm_operator_workqueue_retries_total')).toBe(1);
    const samples = parsePrometheusText(await registry.metrics());
    expect(sumOf(samples, 'edgellm_operator_workqueue_queue_duration_seconds_sum')).toBeCloseTo(
      0.25,
    );
    expect(sumOf(samples, 'edgellm_operator_workqueue_work_duration_seconds_sum')).toBeCloseTo(0.5);
  });

  // Random interleavings of adds, delayed adds, gets, dones and time against a model: a key is
  // never held by two workers, the queue never holds a key twice, and every add is followed by a
  // processing of that key that starts after the add (nothing is lost).
  it('never loses an add and never hands one key to two workers (property)', async () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), key: fc.constantFrom('a', 'b', 'c') }),
      fc.record({
        kind: fc.constant('addAfter' as const),
        key: fc.constantFrom('a', 'b', 'c'),
        ms: fc.integer({ min: 0, max: 50 }),
      }),
      fc.record({ kind: fc.constant('rateLimited' as const), key: fc.constantFrom('a', 'b', 'c') }),
      fc.record({ kind: fc.constant('get' as const) }),
      fc.record({ kind: fc.constant('done' as const), index: fc.nat() }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 100 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 80 }), async (ops) => {
        const clock = new FakeClock();
        const q = new WorkQueue({ name: 'p', clock, baseDelayMs: 1, maxDelayMs: 40 });
        const held: string[] = [];
        /** Keys whose latest add has not yet been followed by a processing start. */
        const owed = new Set<string>();
        const take = (key: string | undefined): void => {
          if (key === undefined) return;
          expect(held).not.toContain(key);
          held.push(key);
          owed.delete(key);
        };
        // Adds that fire later count as owed when they fire, so track them via the queue's add.
        const add = q.add.bind(q);
        q.add = (key: string) => {
          if (!q.isShuttingDown) owed.add(key);
          add(key);
        };
        for (const o of ops) {
          switch (o.kind) {
            case 'add':
              q.add(o.key);
              break;
            case 'addAfter':
              q.addAfter(o.key, o.ms);
              break;
            case 'rateLimited':
              q.addRateLimited(o.key);
              break;
            case 'get':
              if (q.len() > 0) take(await q.get());
              break;
            case 'done':
              if (held.length > 0) {
                const [key] = held.splice(o.index % held.length, 1);
                if (key !== undefined) q.done(key);
              }
              break;
            case 'advance':
              clock.advance(o.ms);
              break;
          }
          expect(q.len()).toBeLessThanOrEqual(3);
        }
        // Drain: finish everything held, let every delay pass, take and finish what is queued.
        for (let round = 0; round < 10; round++) {
          for (const key of held.splice(0)) q.done(key);
          clock.advance(1000);
          while (q.len() > 0) take(await q.get());
        }
        for (const key of held.splice(0)) q.done(key);
        expect(q.len()).toBe(0);
        expect([...owed]).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});
