// Polling until a condition holds, for tests and the demo that wait on real processes.

export interface WaitOptions {
  /** Give up after this long (default 90 s). */
  readonly timeoutMs?: number;
  /** Poll this often (default 200 ms). */
  readonly intervalMs?: number;
}

/**
 * Polls `get` until `ok` holds for its value and returns that value; throws after the timeout
 * with what it waited for and the last value seen.
 */
export async function waitFor<T>(
  what: string,
  get: () => T | Promise<T>,
  ok: (value: T) => boolean,
  options: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 90_000);
  for (;;) {
    const value = await get();
    if (ok(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 200));
  }
}

/** Polls a predicate until it holds (see waitFor). */
export async function waitUntil(
  what: string,
  ok: () => boolean,
  options: WaitOptions = {},
): Promise<void> {
  await waitFor(what, ok, (v) => v, options);
}
