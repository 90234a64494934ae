// An EdgeNode's status as pure functions of what its agent answered at one heartbeat: the agent's
// report as status holds it (models, capacity, fitted latency profiles) and the conditions
// AgentConnected, Ready and Degraded, each stamped with the generation it describes. The EdgeNode
// controller asks the agent and writes the patch these build.
import { CalibrationError, fitLatencyProfile } from '../../core/model/calibration.js';
import { PROFILE_PHASE } from '../../core/model/profile.js';
import type { EdgeNode, EdgeNodeStatus } from '../../gen/crds/edgenode.js';
import {
  ProfilePhase,
  type GetInfoResponse,
  type LatencyProfile,
} from '../../gen/edgellm/agent/v1/agent.js';
import { setCondition, type Condition } from '../api/conditions.js';
import { NODE_CONDITION } from '../api/constants.js';
import type { MergePatch } from '../kube/writes.js';

type NodeProfile = NonNullable<EdgeNodeStatus['profiles']>[number];
type NodeModel = NonNullable<EdgeNodeStatus['models']>[number];

/** What the agent reported, as EdgeNode status holds it. */
export type AgentReport = Pick<
  EdgeNodeStatus,
  'agent' | 'capacity' | 'loadedModels' | 'models' | 'profiles' | 'queueLength'
> & { readonly models: NodeModel[] };

export const NODE_REASON = {
  connected: 'AgentConnected',
  unreachable: 'AgentUnreachable',
  modelsServed: 'ModelsServed',
  noModelServed: 'NoModelServed',
  modelsMissing: 'ModelsMissing',
  allServed: 'AllModelsServed',
} as const;

/** One heartbeat: the agent answered (with its address), or the call failed with `message`. */
export type Heartbeat =
  | { readonly answered: true; readonly address: string; readonly report: AgentReport }
  | { readonly answered: false; readonly message: string };

/** The batch in flight on the node, as status.currentBatch holds it. */
export interface CurrentBatch {
  readonly batchId: string;
  readonly requests: number;
  readonly sinceMs: number;
}

/** A profile the agent measured, fitted for the `calibrated` cost model (undefined: too few samples). */
export function fittedProfile(profile: LatencyProfile): NodeProfile | undefined {
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

/** The agent's GetInfo and GetProfile answers as status holds them, per spec.models entry. */
export function agentReport(
  node: EdgeNode,
  info: GetInfoResponse,
  profiles: readonly LatencyProfile[],
): AgentReport {
  const variants = new Map(info.models.map((m) => [m.name, m]));
  const models = (node.spec.models ?? []).map((m): NodeModel => {
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
      const f = fittedProfile(p);
      return f ? [f] : [];
    }),
    queueLength: info.queueLength,
  };
}

/**
 * The conditions after a heartbeat: AgentConnected, Ready (some spec model is loaded) and
 * Degraded (some is not), or, when the agent did not answer, AgentConnected and Ready False with
 * why (Degraded kept as it was). lastTransitionTime moves only when a status changes.
 */
export function nodeConditions(
  old: readonly Condition[],
  heartbeat: Heartbeat,
  now: Date,
  generation: number | undefined,
): Condition[] {
  const set = (
    list: readonly Condition[],
    next: Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>,
  ): Condition[] => setCondition(list, next, now, generation);
  if (!heartbeat.answered) {
    const conditions = set(old, {
      type: NODE_CONDITION.agentConnected,
      status: 'False',
      reason: NODE_REASON.unreachable,
      message: heartbeat.message,
    });
    return set(conditions, {
      type: NODE_CONDITION.ready,
      status: 'False',
      reason: NODE_REASON.unreachable,
      message: `the agent does not answer: ${heartbeat.message}`,
    });
  }
  const { report } = heartbeat;
  const served = report.models.filter((m) => m.loaded === true).map((m) => m.agentModel);
  const missing = report.models.filter((m) => m.loaded !== true).map((m) => m.agentModel);
  let conditions = set(old, {
    type: NODE_CONDITION.agentConnected,
    status: 'True',
    reason: NODE_REASON.connected,
    message: `agent ${report.agent?.version ?? ''} answers at ${heartbeat.address}`,
  });
  conditions = set(
    conditions,
    served.length > 0
      ? {
          type: NODE_CONDITION.ready,
          status: 'True',
          reason: NODE_REASON.modelsServed,
          message: `serves ${served.join(', ')}`,
        }
      : {
          type: NODE_CONDITION.ready,
          status: 'False',
          reason: NODE_REASON.noModelServed,
          message: `the agent has none of spec.models loaded (${missing.join(', ')}): check the agent's config`,
        },
  );
  return set(
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
}

/** The status merge patch of one heartbeat. */
export function heartbeatPatch(input: {
  readonly heartbeat: Heartbeat;
  readonly conditions: Condition[];
  readonly currentBatch: CurrentBatch | undefined;
  readonly now: Date;
  readonly generation: number | undefined;
}): MergePatch<EdgeNodeStatus> {
  const { heartbeat, currentBatch, generation } = input;
  return {
    ...(heartbeat.answered ? heartbeat.report : {}),
    conditions: input.conditions,
    lastHeartbeatTime: input.now.toISOString(),
    currentBatch:
      currentBatch === undefined
        ? null
        : {
            id: currentBatch.batchId,
            requests: currentBatch.requests,
            startTime: new Date(currentBatch.sinceMs).toISOString(),
          },
    ...(generation === undefined ? {} : { observedGeneration: generation }),
  };
}
