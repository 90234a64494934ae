// The request controller: schedules InferenceRequests onto EdgeNodes' agents and records their
// outcome. It composes one piece per concern:
//   round.ts           a scheduling round (prompts, decideRound, fail-fast, start dispatches)
//   dispatch.ts        one batch: status Scheduled, ExecuteBatch, the streamed results
//   recovery.ts        batches an earlier leader left in flight, followed by batch id
//   stranded.ts        requests a refused status write left in flight, settled by batch id
//   status-recorder.ts the one writer of request status (transitions.ts, failure-policy.ts)
//   ttl.ts             ttlSecondsAfterFinished, a keyed controller of its own
// Rounds are triggered through a work queue holding one key: events within the debounce window
// share a round, a trigger during a round runs one more after it, and a round also runs every
// round interval while this replica leads.
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { EdgeNode } from '../../gen/crds/edgenode.js';
import type { InferenceRequest } from '../../gen/crds/inferencerequest.js';
import { InferenceRequestResource } from '../api/constants.js';
import type { AgentConnector } from '../agents/connector.js';
import { systemClock, type Clock } from '../kube/clock.js';
import { objectKey, type Informer } from '../kube/informer.js';
import { WorkQueue } from '../kube/workqueue.js';
import type { EventRecorder, StatusWriter } from '../kube/writes.js';
import type { OperatorMetrics } from '../metrics.js';
import { SCHEDULING_DEFAULTS } from '../scheduling/translate.js';
import type { CandidateSource } from './candidates.js';
import { BatchDispatcher } from './dispatch.js';
import { FirstSeen } from './first-seen.js';
import { NodeOccupancy, type InFlightBatch } from './node-occupancy.js';
import { OutputSpill } from './output-spill.js';
import { updatePhaseGauge } from './phase-gauge.js';
import { PromptStore } from './prompts.js';
import { BatchRecovery } from './recovery.js';
import { SchedulingRound } from './round.js';
import { RequestStatusRecorder, type RequestReader } from './status-recorder.js';
import { StrandedRequests } from './stranded.js';
import { TtlController } from './ttl.js';

export const REQUEST_DEFAULTS = {
  /** Events within this window start one round. */
  debounceMilliseconds: 50,
  /** Dispatches of one request (agent lost, batch unknown after restart) before it fails. */
  maxAttempts: 3,
  /** status.output holds at most this many characters (the CRD's maxLength of status.output);
   *  longer output goes to a ConfigMap/Secret. */
  maxStatusOutputChars: 16_384,
  /**
   * Admission control: requests allowed to wait per node serving their model; beyond it they
   * fail QueueFull (src/operator/scheduling/admission.ts).
   */
  maxPendingPerNode: 1000,
} as const;

/** The work queue's only key. */
const ROUND_KEY = 'round';

export interface RequestControllerOptions {
  readonly kubeConfig: k8s.KubeConfig;
  readonly nodes: Informer<EdgeNode>;
  readonly requests: Informer<InferenceRequest>;
  readonly agents: AgentConnector;
  readonly status: StatusWriter;
  readonly events: EventRecorder;
  readonly metrics: OperatorMetrics;
  readonly log: Logger;
  readonly maxAttempts?: number;
  /** Longest output kept inline in status.output (REQUEST_DEFAULTS.maxStatusOutputChars). */
  readonly maxStatusOutputChars?: number;
  /** Waiting requests allowed per node serving their model (REQUEST_DEFAULTS.maxPendingPerNode). */
  readonly maxPendingPerNode?: number;
  /** How long a generation streams before its Running write (DISPATCH_DEFAULTS). */
  readonly runningWriteDelayMs?: number;
  readonly clock?: Clock;
  /** Candidate sources besides the InferenceRequest informer (the OpenAI endpoint's requests). */
  readonly sources?: readonly CandidateSource[];
}

export class RequestController {
  private readonly queue: WorkQueue;
  private readonly occupancy: NodeOccupancy;
  private readonly round: SchedulingRound;
  private readonly dispatcher: BatchDispatcher;
  private readonly recovery: BatchRecovery;
  private readonly stranded: StrandedRequests;
  private readonly ttl: TtlController;
  /** When this operator first saw each request: latency budgets count from then. */
  private readonly firstSeen: FirstSeen;
  private readonly recorder: RequestStatusRecorder;

  constructor(private readonly options: RequestControllerOptions) {
    const { kubeConfig, nodes, requests, agents, metrics, log } = options;
    const clock = options.clock ?? systemClock;
    const firstSeen = new FirstSeen(clock);
    this.firstSeen = firstSeen;
    this.queue = new WorkQueue({ name: 'rounds', metrics, clock });
    this.occupancy = new NodeOccupancy(nodes);
    const objects = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    const { group, version, plural } = InferenceRequestResource;
    const read: RequestReader = async (namespace, name) =>
      (await objects.getNamespacedCustomObject({
        group,
        version,
        plural,
        namespace,
        name,
      })) as InferenceRequest;
    const recorder = (this.recorder = new RequestStatusRecorder({
      status: options.status,
      events: options.events,
      metrics,
      log,
      requests,
      read,
      spill: new OutputSpill(
        kubeConfig,
        options.maxStatusOutputChars ?? REQUEST_DEFAULTS.maxStatusOutputChars,
        clock,
      ),
      maxAttempts: options.maxAttempts ?? REQUEST_DEFAULTS.maxAttempts,
      firstSeen,
      clock,
    }));
    const onBatchDone = (): void => {
      this.trigger();
    };
    const occupancy = this.occupancy;
    this.dispatcher = new BatchDispatcher({
      agents,
      occupancy,
      log,
      clock,
      events: options.events,
      ...(options.runningWriteDelayMs === undefined
        ? {}
        : { runningWriteDelayMs: options.runningWriteDelayMs }),
      maxAttempts: options.maxAttempts ?? REQUEST_DEFAULTS.maxAttempts,
    });
    this.round = new SchedulingRound({
      nodes,
      requests,
      prompts: new PromptStore(kubeConfig),
      recorder,
      dispatcher: this.dispatcher,
      firstSeen,
      occupancy,
      metrics,
      log,
      clock,
      onBatchDone,
      sources: options.sources ?? [],
      maxPendingPerNode: options.maxPendingPerNode ?? REQUEST_DEFAULTS.maxPendingPerNode,
    });
    this.recovery = new BatchRecovery({
      nodes,
      requests,
      agents,
      recorder,
      occupancy,
      log,
      clock,
      onBatchDone,
    });
    this.stranded = new StrandedRequests({
      nodes,
      requests,
      agents,
      recorder,
      occupancy,
      read,
      log,
      clock,
    });
    this.ttl = new TtlController({ kubeConfig, requests, metrics, log, clock });
  }

  /** Batches this replica has in flight, by node. */
  get inFlight(): ReadonlyMap<string, InFlightBatch> {
    return this.occupancy.batches;
  }

  /** Starts a round soon (events within the debounce window share one). */
  trigger(): void {
    this.queue.addAfter(ROUND_KEY, REQUEST_DEFAULTS.debounceMilliseconds);
  }

  /**
   * Recovers in-flight batches, then runs rounds, TTL cleanup and the repair of stranded requests
   * until `signal` aborts.
   */
  async run(signal: AbortSignal): Promise<void> {
    const { requests, nodes } = this.options;
    // Registered for this run only: a replica that loses and regains the lead builds a new
    // controller, and this one must stop hearing events.
    const offRequests = requests.on({
      add: (r) => {
        this.firstSeen.record(r);
        this.trigger();
      },
      update: () => {
        this.trigger();
      },
      delete: (r) => {
        this.firstSeen.forget(r);
        this.recorder.forget(objectKey(r));
        this.cancel(objectKey(r));
      },
    });
    const offSources = (this.options.sources ?? []).map((s) =>
      s.onArrival(() => {
        this.trigger();
      }),
    );
    const offNodes = nodes.on({
      add: () => {
        this.trigger();
      },
      update: () => {
        this.trigger();
      },
    });
    signal.addEventListener(
      'abort',
      () => {
        this.queue.shutdown();
      },
      { once: true },
    );
    try {
      await this.recovery.recover(signal);
      this.trigger();
      await Promise.all([this.rounds(signal), this.ttl.run(signal), this.stranded.run(signal)]);
    } finally {
      offRequests();
      offNodes();
      for (const off of offSources) off();
    }
  }

  /** The round worker: one round at a time, each followed by the next one at the interval. */
  private async rounds(signal: AbortSignal): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        const { requests, nodes } = this.options;
        if (!requests.isFresh || !nodes.isFresh) {
          // The API server went away; decide again once the caches reflect it.
          const aborted = new Promise<void>((resolve) => {
            signal.addEventListener(
              'abort',
              () => {
                resolve();
              },
              { once: true },
            );
          });
          await Promise.race([Promise.all([requests.whenFresh(), nodes.whenFresh()]), aborted]);
          if (signal.aborted) continue;
        }
        const all = this.options.requests.list();
        updatePhaseGauge(this.options.metrics, all);
        await this.round.run(all);
      } catch (error) {
        this.options.log.error({ err: error }, 'scheduling round failed');
      } finally {
        this.queue.done(key);
        this.queue.addAfter(ROUND_KEY, this.intervalMs());
      }
    }
  }

  /** The round interval: the smallest of the nodes' spec.scheduling.roundIntervalSeconds. */
  private intervalMs(): number {
    const intervals = this.options.nodes
      .list()
      .map(
        (n) => n.spec.scheduling?.roundIntervalSeconds ?? SCHEDULING_DEFAULTS.roundIntervalSeconds,
      );
    return Math.min(SCHEDULING_DEFAULTS.roundIntervalSeconds, ...intervals) * 1000;
  }

  /**
   * A request gone while its batch runs (an InferenceRequest deleted, an HTTP caller that
   * disconnected): its sequence stops on the agent (CancelGeneration), so it frees its place and
   * its batch-mates run on undisturbed. Nothing happens for a request in no batch.
   */
  cancel(key: string): void {
    for (const [node, batch] of this.occupancy.batches) {
      if (!batch.keys.includes(key)) continue;
      const edgeNode = this.options.nodes.get(node);
      if (edgeNode) void this.dispatcher.cancelMember(edgeNode, batch.batchId, key);
      return;
    }
  }
}
