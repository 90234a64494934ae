// A round writes at most a cap of its failures, oldest request first; the rest wait for the next
// rounds.
import { describe, expect, it } from '@jest/globals';
import {
  capFailures,
  FAILURE_WRITES_PER_ROUND,
} from '../../../../src/operator/scheduling/failure-cap.js';

const failure = (key: string) => ({ key, reason: 'QueueFull', message: key });

describe('capFailures', () => {
  it('writes every failure within the cap, oldest first', () => {
    const arrived = new Map([
      ['ns/b', 20],
      ['ns/a', 10],
      ['ns/c', 30],
    ]);
    const capped = capFailures(
      [failure('ns/c'), failure('ns/a'), failure('ns/b')],
      (k) => arrived.get(k) ?? NaN,
      3,
    );
    expect(capped.now.map((f) => f.key)).toEqual(['ns/a', 'ns/b', 'ns/c']);
    expect(capped.later).toBe(0);
  });

  it('writes the oldest `cap` and leaves the rest, ties broken by key', () => {
    const failures = Array.from({ length: 10 }, (_, i) => failure(`ns/r${9 - i}`));
    // r9 arrived first; r0..r3 arrived together, last.
    const arrivedMs = (key: string): number => Math.min(6, 9 - Number(key.slice(4))) * 100;
    const capped = capFailures(failures, arrivedMs, 8);
    expect(capped.now.map((f) => f.key)).toEqual([
      'ns/r9',
      'ns/r8',
      'ns/r7',
      'ns/r6',
      'ns/r5',
      'ns/r4',
      'ns/r0',
      'ns/r1',
    ]);
    expect(capped.later).toBe(2);
  });

  it('leaves every failure to later rounds with a cap of 0 and never mutates its input', () => {
    const failures = [failure('ns/b'), failure('ns/a')];
    expect(capFailures(failures, () => 0, 0)).toEqual({ now: [], later: 2 });
    expect(failures.map((f) => f.key)).toEqual(['ns/b', 'ns/a']);
  });

  it('drains a flood in rounds: every failure written exactly once, in arrival order', () => {
    const total = FAILURE_WRITES_PER_ROUND * 3 + 17;
    const keys = Array.from({ length: total }, (_, i) => `ns/r${String(i).padStart(5, '0')}`);
    // Shuffled: the order a decision lists them in is not the order they are written in.
    let left = keys.map((k, i) => failure(keys[(i * 7919) % total] ?? k));
    const arrivedMs = (key: string): number => Number(key.slice(4));
    const written: string[] = [];
    let rounds = 0;
    while (left.length > 0) {
      const { now, later } = capFailures(left, arrivedMs, FAILURE_WRITES_PER_ROUND);
      expect(now.length).toBeLessThanOrEqual(FAILURE_WRITES_PER_ROUND);
      written.push(...now.map((f) => f.key));
      const done = new Set(now.map((f) => f.key));
      left = left.filter((f) => !done.has(f.key));
      expect(left.length).toBe(later);
      rounds += 1;
    }
    expect(rounds).toBe(4);
    expect(written).toEqual(keys);
  });
});
