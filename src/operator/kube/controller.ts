// A controller: keys from informer events go through a rate-limited de-duplicating work queue
// to `reconcile(key)`, run by a few workers. Level-triggered: reconcile reads the current state
// from the informer caches, so a key reconciled once for several events is enough. Errors are
// retried with per-key exponential backoff; a result may ask for a later re-run (heartbeats).
import type { Logger } from 'pino';
import type { OperatorMetrics } from '../metrics.js';
import { RECONCILE_RESULT } from '../metrics.js';
import type { Clock } from './clock.js';
import { WorkQueue } from './workqueue.js';

export interface ReconcileOutcome {
  /** Reconcile the key again after this many milliseconds. */
  readonly requeueAfterMs?: number;
}

export interface ControllerOptions {
  readonly name: string;
  readonly workers: number;
  readonly log: Logger;
  readonly metrics: OperatorMetrics;
  readonly reconcile: (key: string) => Promise<ReconcileOutcome | undefined>;
  /** Time of the work queue's delays (the system clock unless a test drives it). */
  readonly clock?: Clock;
}

export class Controller {
  readonly queue: WorkQueue;

  constructor(private readonly options: ControllerOptions) {
    this.queue = new WorkQueue({
      name: options.name,
      metrics: options.metrics,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
  }

  enqueue(key: string): void {
    this.queue.add(key);
  }

  /** Runs the workers until `signal` aborts; resolves once they have stopped. */
  async run(signal: AbortSignal): Promise<void> {
    signal.addEventListener(
      'abort',
      () => {
        this.queue.shutdown();
      },
      { once: true },
    );
    await Promise.all(Array.from({ length: this.options.workers }, () => this.worker()));
  }

  private async worker(): Promise<void> {
    const { name, log, metrics, reconcile } = this.options;
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      const end = metrics.reconcileDurationSeconds.startTimer({ controller: name });
      try {
        const outcome = await reconcile(key);
        this.queue.forget(key);
        if (outcome?.requeueAfterMs !== undefined) {
          metrics.reconcileTotal.inc({ controller: name, result: RECONCILE_RESULT.requeue });
          this.queue.addAfter(key, outcome.requeueAfterMs);
        } else {
          metrics.reconcileTotal.inc({ controller: name, result: RECONCILE_RESULT.success });
        }
      } catch (error) {
        metrics.reconcileTotal.inc({ controller: name, result: RECONCILE_RESULT.error });
        metrics.reconcileErrorsTotal.inc({ controller: name });
        log.warn({ err: error, controller: name, key }, 'reconcile failed; retrying with backoff');
        this.queue.addRateLimited(key);
      } finally {
        end();
        this.queue.done(key);
      }
    }
  }
}
