// Which in-flight requests count as stranded, and when each may be settled: the bookkeeping of
// stranded.ts, pure (the requests, the keys batches hold and the time in; due requests out). A
// request is due once it has been Scheduled or Running, held by no batch, with one unchanged
// resourceVersion for graceMs; after each try it waits retryBaseMs, doubled per try up to
// retryMaxMs. Any change (a new resourceVersion, a batch holding it, an end) starts it over.
import type { InferenceRequest } from '../../gen/crds/inferencerequest.js';
import { PHASE } from '../api/constants.js';
import { objectKey } from '../kube/informer.js';
import { phaseOf } from './request-facts.js';

export interface StrandedTiming {
  readonly graceMs: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
}

interface Watched {
  readonly resourceVersion: string;
  nextMs: number;
  tries: number;
  /** When a try first found the request's agent unreachable. */
  unreachableSinceMs?: number;
}

export class StrandedWatch {
  private readonly watched = new Map<string, Watched>();

  constructor(private readonly timing: StrandedTiming) {}

  /**
   * The requests due for a try at `nowMs`, each counted as tried (its next try backed off).
   * `held`: the keys of the requests a batch in flight holds (never due).
   */
  due(
    requests: readonly InferenceRequest[],
    held: ReadonlySet<string>,
    nowMs: number,
  ): InferenceRequest[] {
    const { graceMs, retryBaseMs, retryMaxMs } = this.timing;
    const inFlight = new Set<string>();
    const due: InferenceRequest[] = [];
    for (const r of requests) {
      const phase = phaseOf(r);
      const key = objectKey(r);
      if ((phase !== PHASE.scheduled && phase !== PHASE.running) || held.has(key)) continue;
      inFlight.add(key);
      const resourceVersion = r.metadata.resourceVersion ?? '';
      let w = this.watched.get(key);
      if (w?.resourceVersion !== resourceVersion) {
        w = { resourceVersion, nextMs: nowMs + graceMs, tries: 0 };
        this.watched.set(key, w);
      }
      if (nowMs < w.nextMs) continue;
      w.tries++;
      w.nextMs = nowMs + Math.min(retryMaxMs, retryBaseMs * 2 ** (w.tries - 1));
      due.push(r);
    }
    for (const key of this.watched.keys()) if (!inFlight.has(key)) this.watched.delete(key);
    return due;
  }

  /** Due again at the next call of `due` (their batch still runs: it must stay followed). */
  soon(keys: readonly string[]): void {
    for (const key of keys) {
      const w = this.watched.get(key);
      if (w !== undefined) w.nextMs = -Infinity;
    }
  }

  /**
   * A try found the agent of `keys` unreachable at `nowMs`: how long the one reached most
   * recently has been unreachable (since its first such try).
   */
  unreachable(keys: readonly string[], nowMs: number): number {
    let since = -Infinity;
    for (const key of keys) {
      const w = this.watched.get(key);
      if (w !== undefined) w.unreachableSinceMs ??= nowMs;
      since = Math.max(since, w?.unreachableSinceMs ?? nowMs);
    }
    return keys.length === 0 ? 0 : nowMs - since;
  }
}
