// EdgeNode controller: asks each node's agent for its info and calibrated profile and mirrors
// them into status (agent, capacity, models, profiles fitted for the `calibrated` cost model,
// queue length) with the conditions AgentConnected, Ready and Degraded, every heartbeat. When the
// agent stops answering the node turns Ready=False with the reason, and scheduling skips it.
import type { Logger } from 'pino';
import { CalibrationError, fitLatencyProfile } from '../../core/model/calibration.js';
import { PROFILE_PHASE } from '../../core/model/profile.js';
import type { EdgeNode, EdgeNodeStatus } from '../../gen/crds/edgenode.js';
import {
  ProfilePhase,
  type GetInfoResponse,
  type LatencyProfile,
} from '../../gen/edgellm/agent/v1/agent.js';
import { isConditionTrue, setCondition, type Condition } from '../api/conditions.js';
import { NODE_CONDITION } from '../api/constants.js';
import type { AgentConnector } from '../agents/connector.js';
import type { Informer } from '../kube/informer.js';
import {
  EVENT_TYPE,
  type EventRecorder,
  type MergePatch,
  type StatusWriter,
} from '../kube/writes.js';
import type { OperatorMetrics } from '../metrics.js';
import type { InFlightBatch } from '../requests/node-occupancy.js';

type NodeProfile = NonNullable<EdgeNodeStatus['profiles']>[number];
type NodeModel = NonNullable<EdgeNodeStatus['models']>[number];

/** What the agent reported, as EdgeNode status holds it. */
type AgentReport = Pick<
  EdgeNodeStatus,
  'agent' | 'capacity' | 'loadedModels' | 'models' | 'profiles' | 'queueLength'
> & { readonly models: NodeModel[] };

export const EDGENODE_DEFAULTS = {
  /** How often each node's agent is asked for its state. */
  heartbeatSeconds: 5,
  /** Deadline of the GetInfo/GetProfile calls of one heartbeat. */
  callSeconds: 4,
} as const;

export const NODE_REASON = {
  connected: 'AgentConnected',
  unreachable: 'AgentUnreachable',
  modelsServed: 'ModelsServed',
  noModelServed: 'NoModelServed',
  modelsMissing: 'ModelsMissing',
  allServed: 'AllModelsServed',
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
}

function fitted(profile: LatencyProfile): NodeProfile | undefined {
  try {
    const calibration = fitLatencyProfile({
      model: profile.model,
      quantization: profile.quantization,
      threads: profile.threads,
      samples: profile.samples.map((s) => ({
        phase:
          s.phase === ProfilePhase.PROFILE_PHASE_PREFILL
            ? PROFILE_PHASE.prefill
            : PROFILE_PHASE.decode,
        batchSize: s.batchSize,
        contextTokens: s.contextTokens,
        seconds: s.seconds,
      })),
    });
    return {
      agentModel: profile.model,
      quantization: profile.quantization,
      threads: profile.threads,
      samples: profile.samples.length,
      ...(profile.perplexity === undefined ? {} : { perplexity: profile.perplexity }),
      calibration,
    };
  } catch (error) {
    if (error instanceof CalibrationError) return undefined;
    throw error;
  }
}

export class EdgeNodeController {
  private readonly heartbeatMs: number;

  constructor(private readonly options: EdgeNodeControllerOptions) {
    this.heartbeatMs = (options.heartbeatSeconds ?? EDGENODE_DEFAULTS.heartbeatSeconds) * 1000;
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
    const now = new Date();
    const generation = node.metadata.generation;
    const old = (node.status?.conditions ?? []) as readonly Condition[];
    const set = (
      list: readonly Condition[],
      next: Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>,
    ): Condition[] => setCondition(list, next, now, generation);
    let conditions: Condition[];
    let report: AgentReport | undefined;
    try {
      const client = await agents.client(node);
      const info = await client.getInfo(EDGENODE_DEFAULTS.callSeconds);
      const { profiles } = await client.getProfile({ model: '' }, EDGENODE_DEFAULTS.callSeconds);
      report = this.describe(node, info, profiles);
      const served = report.models.filter((m) => m.loaded === true);
      const missing = report.models.filter((m) => m.loaded !== true).map((m) => m.agentModel);
      conditions = set(old, {
        type: NODE_CONDITION.agentConnected,
        status: 'True',
        reason: NODE_REASON.connected,
        message: `agent ${info.agentVersion} answers at ${client.address}`,
      });
      conditions = set(
        conditions,
        served.length > 0
          ? {
              type: NODE_CONDITION.ready,
              status: 'True',
              reason: NODE_REASON.modelsServed,
              message: `serves ${served.map((m) => m.agentModel).join(', ')}`,
            }
          : {
              type: NODE_CONDITION.ready,
              status: 'False',
              reason: NODE_REASON.noModelServed,
              message: `the agent has none of spec.models loaded (${missing.join(', ')}): check the agent's config`,
            },
      );
      conditions = set(
        conditions,
        missing.length > 0
          ? {
              type: NODE_CONDITION.degraded,
              status: 'True',
              reason: NODE_REASON.modelsMissing,
              message: `the agent does not serve ${missing.join(', ')} (spec.models[].agentModel must name a model in the agent's config)`,
            }
          : {
              type: NODE_CONDITION.degraded,
              status: 'False',
              reason: NODE_REASON.allServed,
              message: 'every model in spec.models is loaded',
            },
      );
    } catch (error) {
      agents.forget(name);
      const message = error instanceof Error ? error.message : String(error);
      conditions = set(old, {
        type: NODE_CONDITION.agentConnected,
        status: 'False',
        reason: NODE_REASON.unreachable,
        message,
      });
      conditions = set(conditions, {
        type: NODE_CONDITION.ready,
        status: 'False',
        reason: NODE_REASON.unreachable,
        message: `the agent does not answer: ${message}`,
      });
    }
    const wasReady = isConditionTrue(old, NODE_CONDITION.ready);
    const ready = isConditionTrue(conditions, NODE_CONDITION.ready);
    const batch = this.options.currentBatch?.(name);
    const patch: MergePatch<EdgeNodeStatus> = {
      ...report,
      conditions,
      lastHeartbeatTime: now.toISOString(),
      currentBatch:
        batch === undefined
          ? null
          : {
              id: batch.batchId,
              requests: batch.keys.length,
              startTime: new Date(batch.sinceMs).toISOString(),
            },
      ...(generation === undefined ? {} : { observedGeneration: generation }),
    };
    await this.options.status.patchEdgeNode(name, patch);
    metrics.nodeReady.set({ node: name }, ready ? 1 : 0);
    if (report?.queueLength !== undefined)
      metrics.nodeQueueLength.set({ node: name }, report.queueLength);
    if (ready !== wasReady) {
      const ready_ = conditions.find((c) => c.type === NODE_CONDITION.ready);
      this.options.events.record(
        node,
        ready ? EVENT_TYPE.normal : EVENT_TYPE.warning,
        ready ? 'NodeReady' : 'NodeNotReady',
        ready_?.message ?? '',
      );
      this.options.log.info(
        { node: name, ready, message: ready_?.message },
        'node readiness changed',
      );
      this.options.onReadinessChange?.(name);
    }
    return { requeueAfterMs: this.heartbeatMs };
  }

  private describe(
    node: EdgeNode,
    info: GetInfoResponse,
    profiles: readonly LatencyProfile[],
  ): AgentReport {
    const variants = new Map(info.models.map((m) => [m.name, m]));
    const models = node.spec.models.map((m): NodeModel => {
      const agentModel = m.agentModel ?? m.name;
      const variant = variants.get(agentModel);
      return {
        name: m.name,
        quantization: m.quantization,
        agentModel,
        loaded: variant?.loaded ?? false,
        ...(variant
          ? {
              contextTokens: variant.contextTokens,
              maxSequences: variant.maxSequences,
              sequenceContextTokens: variant.sequenceContextTokens,
            }
          : {}),
      };
    });
    const caps = info.capabilities;
    return {
      agent: {
        endpoint: node.spec.agent.endpoint ?? node.spec.agent.nodeName ?? '',
        version: info.agentVersion,
        accelerator: caps?.accelerator ?? '',
        threads: caps?.threads ?? 0,
        partialModelExecution: caps?.partialModelExecution ?? false,
      },
      capacity: {
        memoryTotalBytes: info.memoryTotalBytes,
        memoryFreeBytes: info.memoryFreeBytes,
      },
      loadedModels: info.models.filter((m) => m.loaded).length,
      models,
      profiles: profiles.flatMap((p) => {
        const f = fitted(p);
        return f ? [f] : [];
      }),
      queueLength: info.queueLength,
    };
  }
}
