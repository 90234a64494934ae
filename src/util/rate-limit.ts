// Per-key rate limits as token buckets: each key may make `ratePerSecond` requests per second on
// average, with bursts of up to `burst`. Pure apart from the injected clock.

interface Bucket {
  tokens: number;
  atMs: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly now: () => number) {}

  /** Takes one request for `key`; false when its bucket is empty. */
  take(key: string, ratePerSecond: number, burst: number): boolean {
    if (!(ratePerSecond > 0)) return true;
    const now = this.now();
    const b = this.buckets.get(key) ?? { tokens: burst, atMs: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.atMs) / 1000) * ratePerSecond);
    b.atMs = now;
    if (b.tokens < 1) {
      this.buckets.set(key, b);
      return false;
    }
    b.tokens -= 1;
    this.buckets.set(key, b);
    return true;
  }
}
