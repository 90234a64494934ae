// One scheduling round as a pure function: EdgeNode and InferenceRequest objects (as the
// informer caches hold them), the set of busy nodes and the time in, a decision as data out:
// which Pending requests run where in which batch, which fail now and why, which wait. No I/O
// and no clock of its own (`now` and the solver clock are parameters), so it is tested with plain
// objects and the request controller only writes what it returns. The CRD -> core translation is
// in translate.ts; docs/operator.md lists the defaults.
import {
  assignAcrossNodes,
  whyUnservable,
  type ClusterNode,
  type FailureReason,
} from '../../core/scheduler/gah.js';
import { createRng } from '../../core/random.js';
import type { Policy, PredictedTimes } from '../../core/scheduler/types.js';
import { REQUEST_REASON } from '../api/constants.js';
import { decideAdmission, type AdmissionNode, type Shed } from './admission.js';
import { DurationError } from './duration.js';
import {
  requestKey,
  timestampMs,
  type EdgeNodeView,
  type InferenceRequestView,
} from './objects.js';
import {
  isNodeReady,
  nodeName,
  SCHEDULING_DEFAULTS,
  splitSummary,
  translateNode,
  translateRequest,
  variantKey,
  type SplitSummary,
  type TranslatedRequest,
} from './translate.js';

/** Why a Pending request left the round without a batch. */
export type RoundFailureReason = FailureReason | typeof REQUEST_REASON.deadlineExceeded;

export interface RoundInput {
  readonly nodes: readonly EdgeNodeView[];
  /** Every InferenceRequest in the cache; only Pending ones (phase absent or Pending) count. */
  readonly requests: readonly InferenceRequestView[];
  /** Nodes with a batch in flight (dispatched and not finished): they sit this round out. */
  readonly busyNodes: ReadonlySet<string>;
  /** Epoch milliseconds of the round. */
  readonly nowMs: number;
  /**
   * Prompt length in UTF-8 bytes by request key, for requests whose prompt comes from
   * promptFrom (the controller reads it); without it such a request counts one token.
   */
  readonly promptBytes?: ReadonlyMap<string, number>;
  /** Monotonic clock in seconds for the solver budget and per-node solve times. */
  readonly clock?: () => number;
  /**
   * When the operator first saw each request (epoch ms, by key): its latency budget counts from
   * then. Requests not in it count from creationTimestamp (whole seconds).
   */
  readonly firstSeenMs?: ReadonlyMap<string, number>;
  /**
   * Admission control of the requests left waiting (admission.ts): per node, seconds until its
   * batch in flight is predicted to end and its last batch's predicted seconds; without it no
   * request is shed.
   */
  readonly admission?: {
    readonly maxPendingPerNode: number;
    readonly nodeTimes: ReadonlyMap<
      string,
      { readonly freeInSeconds: number; readonly batchSeconds: number | undefined }
    >;
  };
}

export interface BatchMember {
  readonly key: string;
  readonly uid: string | undefined;
  readonly uplinkHz: number;
  readonly downlinkHz: number;
  /** This request's share of the batch's server compute (by its tokens, after its split). */
  readonly computeShare: number;
  readonly split?: SplitSummary;
  /** Predicted seconds until its result (the batch's completion under static batching). */
  readonly predicted: PredictedTimes;
  readonly promptTokens: number;
  /** Remaining latency budget when the round ran. */
  readonly remainingBudgetSeconds: number;
}

export interface SolverStats {
  readonly policy: Policy;
  readonly nodesEvaluated: number;
  readonly prunedInfeasible: number;
  readonly prunedByBound: number;
  readonly optimal: boolean;
  readonly candidates: number;
  readonly solveSeconds?: number;
}

export interface NodeBatch {
  readonly node: string;
  readonly model: string;
  readonly quantization: string;
  /** The model name in the agent's configuration (ExecuteBatch's model). */
  readonly agentModel: string;
  readonly members: readonly BatchMember[];
  readonly predicted: PredictedTimes;
  readonly memoryBytes: number;
  readonly solver: SolverStats;
}

export interface RoundFailure {
  readonly key: string;
  readonly reason: RoundFailureReason;
  readonly message: string;
}

export interface RoundDecision {
  readonly batches: readonly NodeBatch[];
  /** Fail now: no node can ever serve them (NoEligibleNode, DeadlineInfeasible, InsufficientMemory). */
  readonly failed: readonly RoundFailure[];
  /** Fail now with DeadlineExceeded: the budget ran out (or can no longer be met) while waiting. */
  readonly expired: readonly RoundFailure[];
  /** Pending requests left for a later round. */
  readonly waiting: readonly string[];
  /** Waiting requests admission control fails now (QueueFull, Overloaded); not in `waiting`. */
  readonly shed: readonly Shed[];
  /** Pending requests skipped because their spec cannot be read (with what to fix). */
  readonly invalid: readonly { readonly key: string; readonly message: string }[];
  /** Nodes that took part (Ready and idle). */
  readonly participants: readonly string[];
  /** Notes about nodes (e.g. `compute: calibrated` without a profile), for logs. */
  readonly notes: readonly string[];
}

function isPending(r: InferenceRequestView): boolean {
  const phase = r.status?.phase;
  return phase === undefined || phase === '' || phase === 'Pending';
}

function byArrival(a: InferenceRequestView, b: InferenceRequestView): number {
  const ta = timestampMs(a.metadata?.creationTimestamp) ?? 0;
  const tb = timestampMs(b.metadata?.creationTimestamp) ?? 0;
  return ta - tb || requestKey(a).localeCompare(requestKey(b));
}

/** Decides one round: which Pending requests run where, which fail, which wait. Pure. */
export function decideRound(input: RoundInput): RoundDecision {
  const notes: string[] = [];
  const translated = input.nodes
    .filter((n) => nodeName(n) !== '')
    .map((n) => ({ view: n, ...translateNode(n, input.clock, notes) }));
  const allNodes = translated.map((t) => t.all);

  const invalid: { key: string; message: string }[] = [];
  const failed: RoundFailure[] = [];
  const expired: RoundFailure[] = [];
  const servable: TranslatedRequest[] = [];
  const pending = input.requests.filter(isPending).sort(byArrival);
  for (const object of pending) {
    const key = requestKey(object);
    let t: TranslatedRequest;
    try {
      t = translateRequest(object, input.nodes, input);
    } catch (err) {
      if (!(err instanceof DurationError)) throw err;
      invalid.push({ key, message: `spec.latencyBudget: ${err.message}` });
      continue;
    }
    // A budget no node could ever meet says so (DeadlineInfeasible), even once it has passed.
    const never = whyUnservable(t.fullBudget, allNodes);
    if (never !== null) {
      failed.push({ key, reason: never.reason, message: never.message });
      continue;
    }
    if (t.request.latencyBudgetSeconds <= 0) {
      expired.push({
        key,
        reason: REQUEST_REASON.deadlineExceeded,
        message: `the latency budget of ${object.spec.latencyBudget} passed while the request waited ${t.waitedSeconds.toFixed(1)}s for a node`,
      });
      continue;
    }
    const notAnyMore = whyUnservable(t.request, allNodes);
    if (notAnyMore !== null) {
      expired.push({
        key,
        reason: REQUEST_REASON.deadlineExceeded,
        message: `after waiting ${t.waitedSeconds.toFixed(1)}s the remaining ${t.request.latencyBudgetSeconds.toFixed(3)}s of the latency budget cannot be met on any eligible node, even alone`,
      });
      continue;
    }
    servable.push(t);
  }

  const participants = translated.filter(
    (t) => isNodeReady(t.view) && !input.busyNodes.has(t.all.name) && t.round.variants.length > 0,
  );
  const decision = assignAcrossNodes(
    participants.map((p) => p.round),
    servable.map((t) => t.request),
    {
      ...(input.clock === undefined ? {} : { clock: input.clock }),
      // Policy random's shuffle, seeded by the round's time: a pure function of the input.
      rng: createRng(input.nowMs),
    },
  );
  const byKey = new Map(servable.map((t) => [t.request.id, t]));
  const batches: NodeBatch[] = decision.assignments.map((a) => {
    const node = participants.find((p) => p.all.name === a.node);
    const result = a.result;
    const tokens = (id: string): number => {
      const t = byKey.get(id);
      const fraction = a.splits.get(id)?.demand.serverComputeFraction ?? 1;
      return t === undefined ? 0 : (t.request.promptTokens + t.request.maxTokens) * fraction;
    };
    const totalTokens = result.batch.reduce((sum, id) => sum + tokens(id), 0);
    const members = result.batch.map((id): BatchMember => {
      const t = byKey.get(id);
      const share = result.bandwidthShares[id];
      const split = a.splits.get(id);
      return {
        key: id,
        uid: t?.uid,
        uplinkHz: share?.uplinkHz ?? 0,
        downlinkHz: share?.downlinkHz ?? 0,
        computeShare: totalTokens > 0 ? tokens(id) / totalTokens : 1 / result.batch.length,
        ...(split === undefined ? {} : { split: splitSummary(split) }),
        predicted: result.predicted,
        promptTokens: t?.request.promptTokens ?? 0,
        remainingBudgetSeconds: t?.request.latencyBudgetSeconds ?? 0,
      };
    });
    return {
      node: a.node,
      model: a.variant.name,
      quantization: a.variant.quantization,
      agentModel:
        node?.agentModels.get(variantKey(a.variant.name, a.variant.quantization)) ?? a.variant.name,
      members,
      predicted: result.predicted,
      memoryBytes: result.memoryBytes,
      solver: {
        policy: result.policy,
        nodesEvaluated: result.nodesEvaluated,
        prunedInfeasible: result.prunedInfeasible,
        prunedByBound: result.prunedByBound,
        optimal: result.optimal,
        candidates: servable.filter(
          (t) =>
            t.request.model === a.variant.name &&
            (t.request.allowedNodes === undefined || t.request.allowedNodes.includes(a.node)),
        ).length,
        ...(a.solveSeconds === undefined ? {} : { solveSeconds: a.solveSeconds }),
      },
    };
  });
  // Requests the round's nodes could not take (their nodes are busy or not Ready) wait.
  const assigned = new Set(batches.flatMap((b) => b.members.map((m) => m.key)));
  const left = servable.filter((t) => !assigned.has(t.request.id));
  const shed =
    input.admission === undefined
      ? []
      : decideAdmission({
          waiting: left.map((t) => ({
            key: t.request.id,
            model: t.request.model,
            remainingBudgetSeconds: t.request.latencyBudgetSeconds,
            allowedNodes: t.request.allowedNodes,
          })),
          nodes: translated
            .filter((t) => isNodeReady(t.view))
            .map((t) => admissionNode(t.all, input.admission?.nodeTimes.get(t.all.name))),
          maxPendingPerNode: input.admission.maxPendingPerNode,
        });
  const shedKeys = new Set(shed.map((s) => s.key));
  const waiting = left.map((t) => t.request.id).filter((id) => !shedKeys.has(id));
  return {
    batches,
    failed,
    expired,
    waiting,
    shed,
    invalid,
    participants: participants.map((p) => p.all.name),
    notes,
  };
}

/** A node as admission control sees it: its models, batch cap and predicted batch times. */
function admissionNode(
  node: ClusterNode,
  times: { readonly freeInSeconds: number; readonly batchSeconds: number | undefined } | undefined,
): AdmissionNode {
  return {
    name: node.name,
    models: new Set(node.variants.map((v) => v.name)),
    batchCap: node.maxBatchSize ?? SCHEDULING_DEFAULTS.maxBatchSize,
    freeInSeconds: times?.freeInSeconds ?? 0,
    batchSeconds: times?.batchSeconds,
  };
}
