// Retries of API calls that got no answer or a transient one (api-errors.ts isTransient), with
// exponential backoff on the injected clock: a status write survives an API server restart.
import { isTransient } from './api-errors.js';
import { sleep, type Clock } from './clock.js';

export const RETRY_DEFAULTS = {
  /** Calls in all, the first included. */
  attempts: 8,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
} as const;

export async function retryTransient<T>(
  call: () => Promise<T>,
  clock: Clock,
  options: { readonly attempts?: number; readonly signal?: AbortSignal } = {},
): Promise<T> {
  const attempts = options.attempts ?? RETRY_DEFAULTS.attempts;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= attempts || !isTransient(error) || options.signal?.aborted === true)
        throw error;
      const delay = Math.min(
        RETRY_DEFAULTS.maxDelayMs,
        RETRY_DEFAULTS.baseDelayMs * 2 ** (attempt - 1),
      );
      await sleep(clock, delay, options.signal);
    }
  }
}
