// Follows the InferenceRequests of one namespace for a benchmark: the project's informer
// (src/operator/kube/informer.ts) sees every status change as it happens, and a final list
// catches anything a watch gap hid, so no created request is lost track of. Per request it keeps
// when the benchmark created it (wall clock), the status times the operator recorded, and when
// this process saw it Running and finished.
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { InferenceRequest } from '../../src/gen/crds/inferencerequest.js';
import { InferenceRequestResource, PHASE } from '../../src/operator/api/constants.js';
import { customResourceInformer, type Informer } from '../../src/operator/kube/informer.js';

export interface TrackedRequest {
  /** Date.now() right before the create call. */
  readonly createdMs: number;
  /** Date.now() when the create call returned (the API server accepted it). */
  acceptedMs?: number;
  /** Date.now() when the informer first showed it out of Pending (Scheduled or later). */
  seenScheduledMs?: number;
  /** Date.now() when the informer first showed it Running (or already finished). */
  seenRunningMs?: number;
  /** Date.now() when the informer first showed it Succeeded or Failed. */
  seenFinishedMs?: number;
  phase?: string;
  reason?: string;
  /** status.startTime: when its batch was dispatched, as the operator records it. */
  startTimeMs?: number;
  /** status.completionTime. */
  completionTimeMs?: number;
  /** status.measured.firstTokenSeconds: its batch's start on the agent to its first token. */
  firstTokenSeconds?: number;
  /** status.measured.latencySeconds: what the agent measured against the latency budget. */
  latencySeconds?: number;
}

const finished = (phase: string | undefined): boolean =>
  phase === PHASE.succeeded || phase === PHASE.failed;

/** What the tracked requests came to. */
export interface TrackedOutcomes {
  readonly succeeded: readonly TrackedRequest[];
  /** Failed requests by reason; creates the API server refused as CreateRefused. */
  readonly failed: Readonly<Record<string, number>>;
  /** Succeeded within their latency budget, as the agent measured it. */
  readonly metBudget: number;
  readonly unfinished: number;
  /** From `startedMs` to the last finish this process saw, seconds. */
  readonly wallSeconds: number;
}

export class RequestTracker {
  readonly requests = new Map<string, TrackedRequest>();
  private readonly informer: Informer<InferenceRequest>;
  private readonly api: k8s.CustomObjectsApi;

  constructor(
    kc: k8s.KubeConfig,
    private readonly namespace: string,
    log: Logger,
  ) {
    this.api = kc.makeApiClient(k8s.CustomObjectsApi);
    this.informer = customResourceInformer<InferenceRequest>(kc, InferenceRequestResource, {
      log,
      namespaces: [namespace],
    });
    this.informer.on({
      add: (r) => {
        this.observe(r);
      },
      update: (_old, r) => {
        this.observe(r);
      },
    });
  }

  /** Starts the informer; resolves once its first list is in. */
  async start(): Promise<void> {
    this.informer.start();
    await this.informer.synced;
  }

  /** Registers a request about to be created (before the call, so no event is missed). */
  created(name: string, createdMs: number): void {
    this.requests.set(name, { createdMs });
  }

  /** The create call of a registered request returned at `acceptedMs`. */
  accepted(name: string, acceptedMs: number): void {
    const t = this.requests.get(name);
    if (t !== undefined) t.acceptedMs = acceptedMs;
  }

  /** Whether every registered request has finished. */
  allFinished(): boolean {
    return [...this.requests.values()].every((t) => finished(t.phase));
  }

  /**
   * The outcomes of the tracked requests: `load` gives each one's latency budget, `startedMs`
   * when the creates began, `refusedCreates` how many creates the API server refused.
   */
  outcomes(
    load: readonly { readonly name: string; readonly budgetSeconds: number }[],
    startedMs: number,
    refusedCreates: number,
  ): TrackedOutcomes {
    const budgets = new Map(load.map((item) => [item.name, item.budgetSeconds]));
    const all = [...this.requests.entries()];
    const failed: Record<string, number> = {};
    if (refusedCreates > 0) failed.CreateRefused = refusedCreates;
    for (const [, t] of all)
      if (t.phase === PHASE.failed)
        failed[t.reason ?? 'Unknown'] = (failed[t.reason ?? 'Unknown'] ?? 0) + 1;
    const succeeded = all.filter(([, t]) => t.phase === PHASE.succeeded);
    const metBudget = succeeded.filter(
      ([name, t]) => t.latencySeconds !== undefined && t.latencySeconds <= (budgets.get(name) ?? 0),
    ).length;
    const lastFinish = Math.max(startedMs, ...all.map(([, t]) => t.seenFinishedMs ?? 0));
    return {
      succeeded: succeeded.map(([, t]) => t),
      failed,
      metBudget,
      unfinished: all.filter(([, t]) => !finished(t.phase)).length,
      wallSeconds: (lastFinish - startedMs) / 1000,
    };
  }

  /** Lists the namespace once and takes in what the watch may have missed. */
  async finalList(): Promise<void> {
    const list = (await this.api.listNamespacedCustomObject({
      group: InferenceRequestResource.group,
      version: InferenceRequestResource.version,
      plural: InferenceRequestResource.plural,
      namespace: this.namespace,
    })) as { items: InferenceRequest[] };
    for (const r of list.items) this.observe(r);
  }

  async stop(): Promise<void> {
    await this.informer.stop();
  }

  private observe(r: InferenceRequest): void {
    const t = this.requests.get(r.metadata.name ?? '');
    const status = r.status;
    if (t === undefined || status?.phase === undefined) return;
    const now = Date.now();
    const ms = (time: string | undefined | null): number | undefined =>
      time === undefined || time === null ? undefined : Date.parse(time);
    if (status.phase !== PHASE.pending) t.seenScheduledMs ??= now;
    if (status.phase === PHASE.running || finished(status.phase)) t.seenRunningMs ??= now;
    t.phase = status.phase;
    if (status.reason !== undefined) t.reason = status.reason;
    const startTime = ms(status.startTime);
    if (startTime !== undefined) t.startTimeMs = startTime;
    if (!finished(status.phase)) return;
    t.seenFinishedMs ??= now;
    const completionTime = ms(status.completionTime);
    if (completionTime !== undefined) t.completionTimeMs = completionTime;
    const firstToken = status.measured?.firstTokenSeconds;
    if (firstToken !== undefined) t.firstTokenSeconds = firstToken;
    const latency = status.measured?.latencySeconds;
    if (latency !== undefined) t.latencySeconds = latency;
  }
}
