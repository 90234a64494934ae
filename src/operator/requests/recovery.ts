// Recovery on taking leadership: requests already Scheduled/Running under an earlier leader are
// followed on their agent by batch id (GetBatch). Finished there -> their results are recorded;
// still queued or running -> followed until they finish; unknown to the agent (or the node is
// gone) -> back to Pending for a new round. A batch is never sent twice under one id.
import type { Logger } from 'pino';
import type { AgentClient } from '../../agent-client/client.js';
import { classifyAgentError } from '../../agent-client/error-meaning.js';
import type { EdgeNode } from '../../gen/crds/edgenode.js';
import type { InferenceRequest } from '../../gen/crds/inferencerequest.js';
import { PHASE } from '../api/constants.js';
import type { AgentConnector } from '../agents/connector.js';
import { sleep, type Clock } from '../kube/clock.js';
import type { Informer } from '../kube/informer.js';
import { objectKey } from '../kube/informer.js';
import { batchEnded, recordEndedBatch, recordUnreportedBatch } from './batch-report.js';
import type { NodeOccupancy } from './node-occupancy.js';
import { phaseOf } from './request-facts.js';
import type { RequestStatusRecorder } from './status-recorder.js';

export const RECOVERY_DEFAULTS = {
  /** Poll interval while following a recovered batch. */
  pollMilliseconds: 500,
} as const;

export interface BatchRecoveryOptions {
  readonly nodes: Informer<EdgeNode>;
  readonly requests: Informer<InferenceRequest>;
  readonly agents: AgentConnector;
  readonly recorder: RequestStatusRecorder;
  readonly occupancy: NodeOccupancy;
  readonly log: Logger;
  readonly clock: Clock;
  /** Called when a followed batch is done (its node is free for a round). */
  readonly onBatchDone: () => void;
}

export class BatchRecovery {
  constructor(private readonly options: BatchRecoveryOptions) {}

  /** Starts following every batch an earlier leader left in flight; returns at once. */
  async recover(signal: AbortSignal): Promise<void> {
    const { recorder, occupancy, log, clock } = this.options;
    const groups = new Map<
      string,
      { node: string; batchId: string; members: InferenceRequest[] }
    >();
    for (const r of this.options.requests.list()) {
      const phase = phaseOf(r);
      if (phase !== PHASE.scheduled && phase !== PHASE.running) continue;
      const batchId = r.status?.assignment?.batchId;
      const node = r.status?.assignment?.node;
      if (!batchId || !node) {
        await recorder.requeue(r, 'recovered without a batch id');
        continue;
      }
      const k = `${node}\u0000${batchId}`;
      const group = groups.get(k) ?? { node, batchId, members: [] };
      group.members.push(r);
      groups.set(k, group);
    }
    for (const { node, batchId, members } of groups.values()) {
      occupancy.begin(node, { batchId, keys: members.map(objectKey), sinceMs: clock.now() });
      log.info({ node, batchId, requests: members.length }, 'recovering batch');
      void this.follow(node, batchId, members, signal)
        .catch((error: unknown) => {
          // A write the API server refused after retries: once this batch no longer holds its
          // members, the repair of stranded requests settles them (stranded.ts).
          log.warn({ err: error, node, batchId }, 'could not record a recovered batch');
        })
        .finally(() => {
          occupancy.end(node);
          this.options.onBatchDone();
        });
    }
  }

  private async follow(
    node: string,
    batchId: string,
    members: readonly InferenceRequest[],
    signal: AbortSignal,
  ): Promise<void> {
    const { recorder, clock } = this.options;
    const edgeNode = this.options.nodes.get(node);
    if (!edgeNode) {
      for (const r of members) await recorder.requeue(r, `node ${node} no longer exists`);
      return;
    }
    let client: AgentClient;
    try {
      client = await this.options.agents.client(edgeNode);
    } catch (error) {
      for (const r of members)
        await recorder.requeue(
          r,
          `agent on ${node} unreachable during recovery: ${classifyAgentError(error).message}`,
        );
      return;
    }
    const started = clock.now();
    for (;;) {
      if (signal.aborted) return;
      let batch;
      try {
        batch = await client.getBatch({ batchId });
      } catch (error) {
        await recordUnreportedBatch({
          recorder,
          node,
          batchId,
          failure: classifyAgentError(error),
          members,
        });
        return;
      }
      if (batchEnded(batch)) {
        const batchStartedMs = started - (batch.summary?.queueSeconds ?? 0) * 1000;
        await recordEndedBatch({ recorder, node, batchId, batch, members, batchStartedMs });
        return;
      }
      await sleep(clock, RECOVERY_DEFAULTS.pollMilliseconds, signal).catch(() => undefined);
    }
  }
}
