// Requests left in flight by nobody. The write that ends a request (its result, a failure, a
// requeue) can be refused after the dispatcher is done with its batch: etcd out of space (NOSPACE,
// not retried: the alarm stays until an administrator frees space) or the write forbidden. The
// request then stays Scheduled or Running while no batch of this leader holds it, and before this
// repair only a new leader's recovery looked at it again. Level-triggered: every check, the
// requests the cache shows Scheduled or Running that no batch in flight holds (NodeOccupancy:
// this leader's dispatches and recovered batches, from before their first write to after their
// last) and whose resourceVersion has not changed for graceMs are read again from the API server
// (the cache may lag a write that landed) and settled the way recovery settles them, by asking
// their agent about their batch (GetBatch, which never runs anything):
// - ended: its results are recorded (batch-report.ts); the result the agent kept, not a re-run;
// - still queued or running: asked again at the next check, without backoff (the question keeps
//   the agent, whose orphan grace is 20 s, from counting the batch orphaned);
// - unknown to the agent (restarted): classifyRecoveryFailure, back to Pending or AgentLost;
// - agent unreachable: asked again, and given up as unknown only after the dispatcher's reattach
//   window, past the agent's orphan grace, when a live agent has cancelled the batch itself.
// A settlement whose write is refused again leaves the request as it was: it is tried again with
// backoff (retryBaseMilliseconds doubling to retryMaxMilliseconds) until a write lands. Which
// requests are due when is stranded-watch.ts (pure).
import type { Logger } from 'pino';
import { classifyAgentError, AGENT_ERROR_MEANING } from '../../agent-client/error-meaning.js';
import type { EdgeNode } from '../../gen/crds/edgenode.js';
import type { InferenceRequest } from '../../gen/crds/inferencerequest.js';
import type { AgentConnector } from '../agents/connector.js';
import { isNotFound } from '../kube/api-errors.js';
import { sleep, type Clock } from '../kube/clock.js';
import { objectKey, type Informer } from '../kube/informer.js';
import { batchEnded, recordEndedBatch, recordUnreportedBatch } from './batch-report.js';
import { DISPATCH_DEFAULTS } from './dispatch.js';
import type { NodeOccupancy } from './node-occupancy.js';
import type { RequestReader, RequestStatusRecorder } from './status-recorder.js';
import { StrandedWatch } from './stranded-watch.js';

export const STRANDED_DEFAULTS = {
  /** How often the leader looks for stranded requests. */
  checkMilliseconds: 2_000,
  /** How long a request must stay in flight, unchanged and held by no batch, to count. */
  graceMilliseconds: 5_000,
  /** The wait before a settlement is tried again, doubled per try up to the maximum. */
  retryBaseMilliseconds: 2_000,
  retryMaxMilliseconds: 30_000,
  /** Deadline of the GetBatch call. */
  callSeconds: 5,
} as const;

export interface StrandedRequestsOptions {
  readonly nodes: Informer<EdgeNode>;
  readonly requests: Informer<InferenceRequest>;
  readonly agents: AgentConnector;
  readonly recorder: RequestStatusRecorder;
  readonly occupancy: NodeOccupancy;
  readonly read: RequestReader;
  readonly log: Logger;
  readonly clock: Clock;
}

export class StrandedRequests {
  private readonly watch = new StrandedWatch({
    graceMs: STRANDED_DEFAULTS.graceMilliseconds,
    retryBaseMs: STRANDED_DEFAULTS.retryBaseMilliseconds,
    retryMaxMs: STRANDED_DEFAULTS.retryMaxMilliseconds,
  });

  constructor(private readonly options: StrandedRequestsOptions) {}

  /** Checks every checkMilliseconds until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, log } = this.options;
    while (!signal.aborted) {
      try {
        await this.check();
      } catch (error) {
        log.error({ err: error }, 'checking for stranded requests failed');
      }
      await sleep(clock, STRANDED_DEFAULTS.checkMilliseconds, signal).catch(() => undefined);
    }
  }

  /** One check: tries to settle the requests stranded long enough; returns how many. */
  async check(): Promise<number> {
    const { requests, occupancy, recorder, clock } = this.options;
    if (!requests.isFresh) return 0;
    // What this operator wrote counts even before the informer shows it.
    const current = requests.list().map((r) => recorder.fresher(r));
    const due = this.watch.due(current, occupancy.inFlightKeys(), clock.now());
    const batches = new Map<
      string,
      { node: string; batchId: string; members: InferenceRequest[] }
    >();
    for (const cached of due) {
      const r = await this.stillStranded(cached);
      if (r === undefined) continue;
      const node = r.status?.assignment?.node ?? '';
      const batchId = r.status?.assignment?.batchId ?? '';
      const k = `${node}\u0000${batchId}`;
      const group = batches.get(k) ?? { node, batchId, members: [] };
      group.members.push(r);
      batches.set(k, group);
    }
    for (const { node, batchId, members } of batches.values()) {
      try {
        await this.settle(node, batchId, members);
      } catch (error) {
        this.options.log.warn(
          { err: error, node, batchId, requests: members.map(objectKey) },
          'could not settle stranded requests; trying again later',
        );
      }
    }
    return due.length;
  }

  /** The API server's copy when it still is what the cache showed; undefined otherwise. */
  private async stillStranded(cached: InferenceRequest): Promise<InferenceRequest | undefined> {
    let live: InferenceRequest;
    try {
      live = await this.options.read(
        cached.metadata.namespace ?? 'default',
        cached.metadata.name ?? '',
      );
    } catch (error) {
      if (!isNotFound(error)) throw error;
      return undefined;
    }
    return live.metadata.resourceVersion === cached.metadata.resourceVersion ? live : undefined;
  }

  private async settle(
    node: string,
    batchId: string,
    members: readonly InferenceRequest[],
  ): Promise<void> {
    const { recorder, log, clock } = this.options;
    log.info({ node, batchId, requests: members.map(objectKey) }, 'settling stranded requests');
    if (node === '' || batchId === '') {
      for (const r of members) await recorder.requeue(r, 'left in flight without a batch id');
      return;
    }
    const edgeNode = this.options.nodes.get(node);
    if (!edgeNode) {
      for (const r of members) await recorder.requeue(r, `node ${node} no longer exists`);
      return;
    }
    let batch;
    try {
      const client = await this.options.agents.client(edgeNode);
      batch = await client.getBatch({ batchId }, STRANDED_DEFAULTS.callSeconds);
    } catch (error) {
      const failure = classifyAgentError(error);
      const unreachableMs = this.watch.unreachable(members.map(objectKey), clock.now());
      if (
        failure.meaning === AGENT_ERROR_MEANING.notFound ||
        unreachableMs >= DISPATCH_DEFAULTS.reattachWindowMs
      )
        await recordUnreportedBatch({ recorder, node, batchId, failure, members });
      return;
    }
    if (!batchEnded(batch)) {
      this.watch.soon(members.map(objectKey));
      return;
    }
    // Dispatched when it was marked Scheduled: the measured queue and latency count from then.
    const scheduled = members[0]?.status?.scheduledTime;
    const batchStartedMs = scheduled === undefined ? clock.now() : new Date(scheduled).getTime();
    await recordEndedBatch({ recorder, node, batchId, batch, members, batchStartedMs });
  }
}
