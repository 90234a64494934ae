// When this operator first saw each request, to the millisecond: a request's latency budget
// counts from then, since creationTimestamp has whole seconds only (up to a second of a budget
// would be gone before the request was seen). A request this replica never saw arrive (it was
// there when the replica took the lead) counts from creationTimestamp.
import type { InferenceRequest } from '../../gen/crds/inferencerequest.js';
import type { Clock } from '../kube/clock.js';
import { objectKey } from '../kube/informer.js';
import { timestampMs } from '../scheduling/objects.js';
import { budgetSeconds } from './request-facts.js';

export class FirstSeen {
  private readonly seen = new Map<string, number>();

  constructor(private readonly clock: Clock) {}

  /** By request key, for decideRound. */
  get byKey(): ReadonlyMap<string, number> {
    return this.seen;
  }

  /** The informer reported the request as new: now is when it was first seen. */
  record(r: InferenceRequest): void {
    const key = objectKey(r);
    if (!this.seen.has(key)) this.seen.set(key, this.clock.now());
  }

  forget(r: InferenceRequest): void {
    this.seen.delete(objectKey(r));
  }

  /** When the request's latency budget started (epoch ms). */
  startMs(r: InferenceRequest): number {
    return (
      this.seen.get(objectKey(r)) ?? timestampMs(r.metadata.creationTimestamp) ?? this.clock.now()
    );
  }

  /** When its latency budget runs out (epoch ms); undefined when the budget is unreadable. */
  deadlineMs(r: InferenceRequest): number | undefined {
    const budget = budgetSeconds(r);
    return budget === undefined ? undefined : this.startMs(r) + budget * 1000;
  }
}
