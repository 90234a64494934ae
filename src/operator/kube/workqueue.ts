// A rate-limited, de-duplicating queue of object keys with client-go's semantics:
// - a key is in the queue at most once (the `dirty` set);
// - a key is handed to at most one worker at a time (the `processing` set); a key added while
//   it is being processed is queued again when the worker calls done(key);
// - addAfter(key, ms) adds later (one pending timer per key, the earliest wins);
// - addRateLimited(key) adds after a per-key exponential backoff (base * 2^failures, capped),
//   forget(key) resets it.
// Time comes from an injectable Clock, so unit tests drive it with a fake one.
import type { OperatorMetrics } from '../metrics.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';

export const WORKQUEUE_DEFAULTS = {
  baseDelayMs: 5,
  maxDelayMs: 60_000,
} as const;

export type WorkQueueMetrics = Pick<
  OperatorMetrics,
  | 'workqueueDepth'
  | 'workqueueAddsTotal'
  | 'workqueueRetriesTotal'
  | 'workqueueQueueDurationSeconds'
  | 'workqueueWorkDurationSeconds'
>;

export interface WorkQueueOptions {
  /** The `name` label of the work-queue metrics (usually the controller name). */
  readonly name: string;
  readonly metrics?: WorkQueueMetrics;
  readonly clock?: Clock;
  /** First retry delay of addRateLimited (doubled per failure). */
  readonly baseDelayMs?: number;
  /** Largest retry delay of addRateLimited. */
  readonly maxDelayMs?: number;
}

export class WorkQueue {
  readonly name: string;
  private readonly clock: Clock;
  private readonly metrics: WorkQueueMetrics | undefined;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  /** Keys ready for a worker, in order. */
  private readonly queue: string[] = [];
  /** Keys that need processing (queued, or re-added while processing). */
  private readonly dirty = new Set<string>();
  /** Keys a worker holds. */
  private readonly processing = new Set<string>();
  /** When each queued key was queued (queue-duration metric). */
  private readonly queuedAt = new Map<string, number>();
  /** When each held key was taken (work-duration metric). */
  private readonly takenAt = new Map<string, number>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<
    string,
    { readonly at: number; readonly handle: TimerHandle }
  >();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;

  constructor(options: WorkQueueOptions) {
    this.name = options.name;
    this.clock = options.clock ?? systemClock;
    this.metrics = options.metrics;
    this.baseDelayMs = options.baseDelayMs ?? WORKQUEUE_DEFAULTS.baseDelayMs;
    this.maxDelayMs = options.maxDelayMs ?? WORKQUEUE_DEFAULTS.maxDelayMs;
    if (!(this.baseDelayMs > 0) || !(this.maxDelayMs >= this.baseDelayMs)) {
      throw new RangeError(
        `work queue ${this.name}: need 0 < baseDelayMs <= maxDelayMs (got ${this.baseDelayMs}, ${this.maxDelayMs})`,
      );
    }
    this.metrics?.workqueueDepth.set({ name: this.name }, 0);
  }

  /** Queues the key unless it is already queued; a key being processed is queued after done(). */
  add(key: string): void {
    if (this.shuttingDown) return;
    this.metrics?.workqueueAddsTotal.inc({ name: this.name });
    if (this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    this.enqueue(key);
  }

  /** Adds the key after `ms` (immediately when ms <= 0). Of several pending delays, the earliest wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (!(ms > 0)) {
      this.add(key);
      return;
    }
    const at = this.clock.now() + ms;
    const pending = this.delayed.get(key);
    if (pending !== undefined) {
      if (pending.at <= at) return;
      this.clock.clearTimeout(pending.handle);
    }
    const handle = this.clock.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, handle });
  }

  /** Adds the key after its backoff: baseDelayMs * 2^(failures so far), at most maxDelayMs. */
  addRateLimited(key: string): void {
    if (this.shuttingDown) return;
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    this.metrics?.workqueueRetriesTotal.inc({ name: this.name });
    this.addAfter(key, this.backoffMs(failures));
  }

  /** The delay addRateLimited uses after `failures` earlier failures. */
  backoffMs(failures: number): number {
    // 2^failures overflows to Infinity for large counts; min() keeps it at the cap.
    return Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** failures);
  }

  /** Resets the key's backoff (call after a successful reconcile). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** How many rate-limited re-adds the key has had since it was last forgotten. */
  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** The next key for a worker (wait until one is ready); undefined once the queue shuts down. */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.take();
    if (key !== undefined) return Promise.resolve(key);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The worker finished the key; re-queues it when it was added meanwhile. */
  done(key: string): void {
    if (!this.processing.delete(key)) return;
    const taken = this.takenAt.get(key);
    this.takenAt.delete(key);
    if (taken !== undefined)
      this.metrics?.workqueueWorkDurationSeconds.observe(
        { name: this.name },
        (this.clock.now() - taken) / 1000,
      );
    if (this.dirty.has(key) && !this.shuttingDown) this.enqueue(key);
  }

  /** Keys ready for a worker (not counting delayed or in-progress keys). */
  len(): number {
    return this.queue.length;
  }

  /** Keys waiting for a delay to pass. */
  delayedLen(): number {
    return this.delayed.size;
  }

  /** Whether a worker holds the key now. */
  isProcessing(key: string): boolean {
    return this.processing.has(key);
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Stops the queue: pending gets resolve to undefined, adds are ignored, timers cancelled. */
  shutdown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    for (const { handle } of this.delayed.values()) this.clock.clearTimeout(handle);
    this.delayed.clear();
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }

  private enqueue(key: string): void {
    const waiter = this.waiters.shift();
    const now = this.clock.now();
    if (waiter !== undefined) {
      this.metrics?.workqueueQueueDurationSeconds.observe({ name: this.name }, 0);
      this.hold(key, now);
      waiter(key);
      return;
    }
    this.queue.push(key);
    this.queuedAt.set(key, now);
    this.metrics?.workqueueDepth.set({ name: this.name }, this.queue.length);
  }

  private take(): string | undefined {
    const key = this.queue.shift();
    if (key === undefined) return undefined;
    this.metrics?.workqueueDepth.set({ name: this.name }, this.queue.length);
    const now = this.clock.now();
    const queued = this.queuedAt.get(key);
    this.queuedAt.delete(key);
    if (queued !== undefined)
      this.metrics?.workqueueQueueDurationSeconds.observe(
        { name: this.name },
        (now - queued) / 1000,
      );
    this.hold(key, now);
    return key;
  }

  private hold(key: string, now: number): void {
    this.dirty.delete(key);
    this.processing.add(key);
    this.takenAt.set(key, now);
  }
}
