// EdgeNode controller: at every heartbeat asks each node's agent for its info and calibrated
// profile and writes what it answered into status (node-status.ts builds the report, the
// conditions AgentConnected, Ready and Degraded, and the patch). When the agent stops answering
// the node turns Ready=False with the reason, and scheduling skips it.
import type { Logger } from 'pino';
import type { EdgeNode } from '../../gen/crds/edgenode.js';
import { isConditionTrue, type Condition } from '../api/conditions.js';
import { NODE_CONDITION } from '../api/constants.js';
import type { AgentConnector } from '../agents/connector.js';
import { systemClock, type Clock } from '../kube/clock.js';
import type { Informer } from '../kube/informer.js';
import { EVENT_TYPE, type EventRecorder, type StatusWriter } from '../kube/writes.js';
import type { OperatorMetrics } from '../metrics.js';
import type { InFlightBatch } from '../requests/node-occupancy.js';
import { agentReport, heartbeatPatch, nodeConditions, type Heartbeat } from './node-status.js';

export const EDGENODE_DEFAULTS = {
  /** How often each node's agent is asked for its state. */
  heartbeatSeconds: 5,
  /** Deadline of the GetInfo/GetProfile calls of one heartbeat. */
  callSeconds: 4,
} as const;

export interface EdgeNodeControllerOptions {
  readonly nodes: Informer<EdgeNode>;
  readonly agents: AgentConnector;
  readonly status: StatusWriter;
  readonly events: EventRecorder;
  readonly metrics: OperatorMetrics;
  readonly log: Logger;
  readonly heartbeatSeconds?: number;
  /** Called after a node's status changed readiness (the request controller starts a round). */
  readonly onReadinessChange?: (node: string) => void;
  /** The batch in flight on a node (status.currentBatch), if any. */
  readonly currentBatch?: (node: string) => InFlightBatch | undefined;
  /** Time of the heartbeats (the system clock unless a test drives it). */
  readonly clock?: Clock;
}

export class EdgeNodeController {
  private readonly heartbeatMs: number;
  private readonly clock: Clock;

  constructor(private readonly options: EdgeNodeControllerOptions) {
    this.heartbeatMs = (options.heartbeatSeconds ?? EDGENODE_DEFAULTS.heartbeatSeconds) * 1000;
    this.clock = options.clock ?? systemClock;
  }

  async reconcile(name: string): Promise<{ requeueAfterMs: number } | undefined> {
    const { nodes, agents, metrics } = this.options;
    const node = nodes.get(name);
    if (!node) {
      agents.forget(name);
      metrics.nodeReady.remove({ node: name });
      metrics.nodeQueueLength.remove({ node: name });
      return undefined;
    }
    const now = new Date(this.clock.now());
    const generation = node.metadata.generation;
    const old = (node.status?.conditions ?? []) as readonly Condition[];
    const heartbeat = await this.ask(node);
    const conditions = nodeConditions(old, heartbeat, now, generation);
    const batch = this.options.currentBatch?.(name);
    await this.options.status.patchEdgeNode(
      name,
      heartbeatPatch({
        heartbeat,
        conditions,
        currentBatch:
          batch === undefined
            ? undefined
            : { batchId: batch.batchId, requests: batch.keys.length, sinceMs: batch.sinceMs },
        now,
        generation,
      }),
    );
    const wasReady = isConditionTrue(old, NODE_CONDITION.ready);
    const ready = isConditionTrue(conditions, NODE_CONDITION.ready);
    metrics.nodeReady.set({ node: name }, ready ? 1 : 0);
    if (heartbeat.answered && heartbeat.report.queueLength !== undefined)
      metrics.nodeQueueLength.set({ node: name }, heartbeat.report.queueLength);
    if (ready !== wasReady) {
      const readyCondition = conditions.find((c) => c.type === NODE_CONDITION.ready);
      this.options.events.record(
        node,
        ready ? EVENT_TYPE.normal : EVENT_TYPE.warning,
        ready ? 'NodeReady' : 'NodeNotReady',
        readyCondition?.message ?? '',
      );
      this.options.log.info(
        { node: name, ready, message: readyCondition?.message },
        'node readiness changed',
      );
      this.options.onReadinessChange?.(name);
    }
    return { requeueAfterMs: this.heartbeatMs };
  }

  /** One heartbeat: GetInfo and GetProfile, or why the agent did not answer. */
  private async ask(node: EdgeNode): Promise<Heartbeat> {
    const { agents } = this.options;
    try {
      const client = await agents.client(node);
      const info = await client.getInfo(EDGENODE_DEFAULTS.callSeconds);
      const { profiles } = await client.getProfile({ model: '' }, EDGENODE_DEFAULTS.callSeconds);
      return { answered: true, address: client.address, report: agentReport(node, info, profiles) };
    } catch (error) {
      agents.forget(node.metadata.name ?? '');
      return { answered: false, message: error instanceof Error ? error.message : String(error) };
    }
  }
}
