// Which of a round's failures it writes, as a pure function. A round writes at most a cap of
// them, oldest request first: under a flood that admission control sheds (QueueFull), writing
// every failure before the round ends kept rounds from running for a minute and more (bench
// pending: 52 s and 82 s rounds for 12,486 shed). The rest stay Pending; the next round decides
// them again (and sheds them again while their queue is still full), so every request still
// ends once, with the reason of the round that writes it.

/** A round writes this many failures at most. */
export const FAILURE_WRITES_PER_ROUND = 256;

export interface CappedFailures<T> {
  /** To write now, oldest first. */
  readonly now: readonly T[];
  /** Left Pending for the next rounds. */
  readonly later: number;
}

/**
 * The `cap` oldest of `failures` (by `arrivedMs`, then key), and how many are left. Pure.
 */
export function capFailures<T extends { readonly key: string }>(
  failures: readonly T[],
  arrivedMs: (key: string) => number,
  cap: number,
): CappedFailures<T> {
  const oldestFirst = [...failures].sort(
    (a, b) => arrivedMs(a.key) - arrivedMs(b.key) || a.key.localeCompare(b.key),
  );
  const now = oldestFirst.slice(0, Math.max(0, cap));
  return { now, later: failures.length - now.length };
}
