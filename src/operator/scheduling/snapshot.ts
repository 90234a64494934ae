// One scheduling round as a pure function: EdgeNode and InferenceRequest objects (as the
// informer caches hold them), the set of busy nodes and the time in, a decision as data out.
// No I/O and no clock of its own (`now` and the solver clock are parameters), so it is tested
// with plain objects and the controller only writes what it returns. See
// docs/scheduling-operator.md for the defaults.
import { COST_DEFAULTS, DEFAULT_KV_BITS, DEFAULT_UTILIZATION } from '../../core/model/types.js';
import type {
  CommunicationModel,
  ComputeModel,
  CostOptions,
  ModelVariant,
  Padding,
} from '../../core/model/types.js';
import {
  SPLIT_MODE,
  type SplitAssignment,
  type SplitRequestContext,
} from '../../core/planner/index.js';
import {
  assignAcrossNodes,
  whyUnservable,
  type ClusterNode,
  type ClusterRequest,
  type FailureReason,
} from '../../core/scheduler/gah.js';
import { POLICIES, POLICY, type Policy, type PredictedTimes } from '../../core/scheduler/types.js';
import { DurationError, parseDurationSeconds } from './duration.js';
import {
  requestKey,
  timestampMs,
  type EdgeNodeModelView,
  type EdgeNodeView,
  type InferenceRequestView,
} from './objects.js';

/** The defaults scheduling applies where a spec leaves a field out (docs/scheduling-operator.md). */
export const SCHEDULING_DEFAULTS = {
  /** bit/s/Hz of a client that states none: a modest link (the simulator draws from 1..6). */
  uplinkSpectralEfficiency: 2,
  downlinkSpectralEfficiency: 2,
  /** Prompt token estimate without spec.promptTokens: UTF-8 bytes / 4, rounded up (at least 1). */
  bytesPerToken: 4,
  /** Added to that estimate for spec.promptFormat chat: the template around one message (ChatML ~10). */
  chatTemplateTokens: 16,
  policy: POLICY.dftsp,
  maxBatchSize: 16,
  solverBudgetMilliseconds: 50,
  roundIntervalSeconds: 1,
  maxPerplexityIncrease: 0,
} as const;

/** spec.scheduling.compute: `auto` is `calibrated` when status has the variant's profile. */
export const COMPUTE_SETTING = {
  auto: 'auto',
  flops: 'flops',
  roofline: 'roofline',
  calibrated: 'calibrated',
} as const;

/** Why a Pending request left the round without a batch. */
export const ROUND_FAILURE = {
  noEligibleNode: 'NoEligibleNode',
  deadlineInfeasible: 'DeadlineInfeasible',
  insufficientMemory: 'InsufficientMemory',
  deadlineExceeded: 'DeadlineExceeded',
} as const;
export type RoundFailureReason = (typeof ROUND_FAILURE)[keyof typeof ROUND_FAILURE];

export const READY_CONDITION = 'Ready';

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
}

/** A split plan as InferenceRequest status.assignment.split holds it. */
export interface SplitSummary {
  readonly algorithm?: string;
  /** planned | server-only-flagged | rejected, when a plan was made. */
  readonly decision?: string;
  readonly feasible?: boolean;
  /** One letter per unit in order: c (client) or s (server). */
  readonly placement?: string;
  readonly clientUnits?: number;
  readonly serverUnits?: number;
  readonly switches?: number;
  readonly serverFlops?: number;
  readonly clientFlops?: number;
  /** How the node counts the request's compute, and why. */
  readonly note: string;
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

export function isNodeReady(node: EdgeNodeView): boolean {
  return (
    node.status?.conditions?.some((c) => c.type === READY_CONDITION && c.status === 'True') ?? false
  );
}

function nodeName(node: EdgeNodeView): string {
  return node.metadata?.name ?? '';
}

function agentModelOf(model: EdgeNodeModelView): string {
  return model.agentModel ?? model.name;
}

/**
 * Prompt tokens: spec.promptTokens, else UTF-8 bytes / bytesPerToken (rounded up, >= 1) plus
 * chatTemplateTokens for a chat prompt.
 */
export function estimatePromptTokens(
  spec: InferenceRequestView['spec'],
  promptFromBytes: number | undefined,
): number {
  if (spec.promptTokens !== undefined) return spec.promptTokens;
  const bytes =
    spec.prompt !== undefined ? Buffer.byteLength(spec.prompt, 'utf8') : (promptFromBytes ?? 0);
  const template = spec.promptFormat === 'chat' ? SCHEDULING_DEFAULTS.chatTemplateTokens : 0;
  return Math.max(1, Math.ceil(bytes / SCHEDULING_DEFAULTS.bytesPerToken)) + template;
}

function selectorMatches(
  selector: Readonly<Record<string, string | undefined>>,
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

function isPolicy(value: string): value is Policy {
  return (POLICIES as readonly string[]).includes(value);
}

/** The cost options of one variant on one node, and a note when a setting could not apply. */
function costOptionsFor(
  node: EdgeNodeView,
  model: EdgeNodeModelView,
): { options: CostOptions; note?: string } {
  const s = node.spec.scheduling;
  const base: CostOptions = {
    ...COST_DEFAULTS,
    padding: (s?.padding ?? COST_DEFAULTS.padding) as Padding,
    communication: (s?.communication ?? COST_DEFAULTS.communication) as CommunicationModel,
    compute: COST_DEFAULTS.compute,
  };
  const setting = s?.compute ?? COMPUTE_SETTING.auto;
  const profile = node.status?.profiles?.find(
    (p) =>
      p.agentModel === agentModelOf(model) &&
      (p.quantization === undefined || p.quantization === model.quantization),
  );
  const where = `EdgeNode ${nodeName(node)} model ${model.name}/${model.quantization}`;
  if (setting === COMPUTE_SETTING.auto || setting === COMPUTE_SETTING.calibrated) {
    if (profile?.calibration !== undefined) {
      return {
        options: {
          ...base,
          compute: 'calibrated' satisfies ComputeModel,
          calibration: profile.calibration,
        },
      };
    }
    return setting === COMPUTE_SETTING.calibrated
      ? {
          options: base,
          note: `${where}: compute is calibrated but status has no profile for agent model ${agentModelOf(model)}; using flops until the agent reports one`,
        }
      : { options: base };
  }
  if (setting === COMPUTE_SETTING.roofline) {
    if (node.spec.resources.memoryBandwidthBytesPerSecond === undefined) {
      return {
        options: base,
        note: `${where}: compute is roofline but spec.resources.memoryBandwidthBytesPerSecond is not set; using flops`,
      };
    }
    return { options: { ...base, compute: 'roofline' } };
  }
  return { options: base };
}

interface TranslatedNode {
  /** Every spec variant (for "can any node ever serve this" checks). */
  readonly all: ClusterNode;
  /** Only the variants the agent has loaded, with the agent's batch limit (for the round). */
  readonly round: ClusterNode;
  readonly agentModels: ReadonlyMap<string, string>;
}

function variantKey(name: string, quantization: string): string {
  return `${name}/${quantization}`;
}

function translateNode(
  node: EdgeNodeView,
  clock: (() => number) | undefined,
  notes: string[],
): TranslatedNode {
  const name = nodeName(node);
  const r = node.spec.resources;
  const s = node.spec.scheduling;
  // A variant without a perplexity counts as the best of its model (no accuracy penalty).
  const bestByModel = new Map<string, number>();
  for (const m of node.spec.models) {
    const p = m.perplexity ?? profilePerplexity(node, m);
    if (p !== undefined) bestByModel.set(m.name, Math.min(bestByModel.get(m.name) ?? p, p));
  }
  const variantOptions: Record<string, CostOptions> = {};
  const agentModels = new Map<string, string>();
  const variants: ModelVariant[] = node.spec.models.map((m) => {
    const { options, note } = costOptionsFor(node, m);
    if (note !== undefined) notes.push(note);
    variantOptions[variantKey(m.name, m.quantization)] = options;
    agentModels.set(variantKey(m.name, m.quantization), agentModelOf(m));
    return {
      name: m.name,
      quantization: m.quantization,
      layers: m.layers,
      hiddenSize: m.hiddenSize,
      ffnSize: m.ffnSize,
      kvWidth: m.kvWidth,
      parameters: m.parameters,
      weightBits: m.weightBits,
      kvBits: m.kvBits ?? DEFAULT_KV_BITS,
      computeFactor: m.computeFactor ?? 1,
      perplexity: m.perplexity ?? profilePerplexity(node, m) ?? bestByModel.get(m.name) ?? 0,
    };
  });
  const policyText = s?.policy ?? SCHEDULING_DEFAULTS.policy;
  const policy = isPolicy(policyText) ? policyText : SCHEDULING_DEFAULTS.policy;
  if (policy !== policyText)
    notes.push(`EdgeNode ${name}: unknown policy "${policyText}"; using ${policy}`);
  const budgetSeconds =
    (s?.solverBudgetMilliseconds ?? SCHEDULING_DEFAULTS.solverBudgetMilliseconds) / 1000;
  const all: ClusterNode = {
    name,
    resources: {
      memoryBytes: r.memoryBytes,
      computeFlops: r.computeFlops,
      utilization: r.utilization ?? DEFAULT_UTILIZATION,
      ...(r.memoryBandwidthBytesPerSecond === undefined
        ? {}
        : { memoryBandwidthBytesPerSecond: r.memoryBandwidthBytesPerSecond }),
      uplinkBandwidthHz: r.uplinkBandwidthHz,
      downlinkBandwidthHz: r.downlinkBandwidthHz,
    },
    variants,
    options: COST_DEFAULTS,
    variantOptions,
    policy,
    maxBatchSize: s?.maxBatchSize ?? SCHEDULING_DEFAULTS.maxBatchSize,
    partialModelExecution: node.status?.agent?.partialModelExecution ?? false,
    ...(clock === undefined ? {} : { budget: { maxSeconds: budgetSeconds, clock } }),
  };
  // The round uses the variants the agent reports loaded (all when status lists no models yet)
  // and never more requests than the agent's context holds sequences.
  const statusModels = node.status?.models;
  let maxBatchSize = all.maxBatchSize ?? SCHEDULING_DEFAULTS.maxBatchSize;
  const loaded = variants.filter((v) => {
    if (statusModels === undefined) return true;
    const agentModel = agentModels.get(variantKey(v.name, v.quantization));
    const entry = statusModels.find((m) => (m.agentModel ?? m.name) === agentModel);
    if (entry?.loaded !== true) return false;
    if (entry.maxSequences !== undefined && entry.maxSequences > 0)
      maxBatchSize = Math.min(maxBatchSize, entry.maxSequences);
    return true;
  });
  return { all, round: { ...all, variants: loaded, maxBatchSize }, agentModels };
}

function profilePerplexity(node: EdgeNodeView, m: EdgeNodeModelView): number | undefined {
  return node.status?.profiles?.find(
    (p) => p.agentModel === agentModelOf(m) && p.quantization === m.quantization,
  )?.perplexity;
}

interface TranslatedRequest {
  readonly request: ClusterRequest;
  /** With the whole budget, to tell "never feasible" from "no longer feasible". */
  readonly fullBudget: ClusterRequest;
  readonly uid: string | undefined;
  readonly waitedSeconds: number;
}

function translateRequest(
  object: InferenceRequestView,
  nodes: readonly EdgeNodeView[],
  input: RoundInput,
): TranslatedRequest {
  const key = requestKey(object);
  const spec = object.spec;
  const budget = parseDurationSeconds(spec.latencyBudget);
  const created = timestampMs(object.metadata?.creationTimestamp) ?? input.nowMs;
  const waitedSeconds = Math.max(0, (input.nowMs - created) / 1000);
  const allowedNodes =
    spec.nodeSelector === undefined || Object.keys(spec.nodeSelector).length === 0
      ? undefined
      : nodes
          .filter((n) => selectorMatches(spec.nodeSelector ?? {}, n.metadata?.labels))
          .map(nodeName);
  const client = spec.client;
  const request: ClusterRequest = {
    id: key,
    model: spec.model,
    promptTokens: estimatePromptTokens(spec, input.promptBytes?.get(key)),
    maxTokens: spec.maxTokens,
    latencyBudgetSeconds: budget - waitedSeconds,
    maxPerplexityIncrease:
      spec.accuracy?.maxPerplexityIncrease ?? SCHEDULING_DEFAULTS.maxPerplexityIncrease,
    uplinkSpectralEfficiency:
      client?.uplinkSpectralEfficiency ?? SCHEDULING_DEFAULTS.uplinkSpectralEfficiency,
    downlinkSpectralEfficiency:
      client?.downlinkSpectralEfficiency ?? SCHEDULING_DEFAULTS.downlinkSpectralEfficiency,
    ...(allowedNodes === undefined ? {} : { allowedNodes }),
  };
  const split = splitContext(spec, request, nodes, allowedNodes);
  const withSplit = split === undefined ? request : { ...request, split };
  return {
    request: withSplit,
    fullBudget: { ...withSplit, latencyBudgetSeconds: budget },
    uid: object.metadata?.uid,
    waitedSeconds,
  };
}

/**
 * spec.split auto: the client's compute and link rates. Link rates the spec leaves out are the
 * spectral efficiency times the narrowest band among the nodes the request may use, / 8
 * (bytes/s): the whole band, as the planner assumes the request alone on the node.
 */
function splitContext(
  spec: InferenceRequestView['spec'],
  request: ClusterRequest,
  nodes: readonly EdgeNodeView[],
  allowedNodes: readonly string[] | undefined,
): SplitRequestContext | undefined {
  if (spec.split !== SPLIT_MODE.auto) return undefined;
  const c = spec.client;
  if (c?.computeFlops === undefined) return { split: SPLIT_MODE.auto };
  const usable = nodes.filter(
    (n) => allowedNodes === undefined || allowedNodes.includes(nodeName(n)),
  );
  const narrowest = (pick: (n: EdgeNodeView) => number): number =>
    usable.length === 0 ? 0 : Math.min(...usable.map(pick));
  const up =
    c.uplinkBytesPerSecond ??
    (request.uplinkSpectralEfficiency * narrowest((n) => n.spec.resources.uplinkBandwidthHz)) / 8;
  const down =
    c.downlinkBytesPerSecond ??
    (request.downlinkSpectralEfficiency * narrowest((n) => n.spec.resources.downlinkBandwidthHz)) /
      8;
  if (!(up > 0 && down > 0)) return { split: SPLIT_MODE.auto };
  return {
    split: SPLIT_MODE.auto,
    client: {
      computeFlops: c.computeFlops,
      uplinkBytesPerSecond: up,
      downlinkBytesPerSecond: down,
    },
  };
}

function splitSummary(a: SplitAssignment): SplitSummary {
  const plan = a.plan;
  const note = `${a.accounting}: ${a.reason}`;
  if (plan === null) return { note };
  const placement = plan.placement;
  return {
    algorithm: plan.algorithm,
    decision: plan.decision,
    feasible: plan.feasible,
    ...(placement === null
      ? {}
      : {
          placement: placement.map((l) => (l === 'client' ? 'c' : 's')).join(''),
          clientUnits: placement.filter((l) => l === 'client').length,
          serverUnits: placement.filter((l) => l === 'server').length,
        }),
    switches: plan.switches,
    serverFlops: plan.serverFlops,
    clientFlops: plan.clientFlops,
    note: plan.note === undefined ? note : `${note}; ${plan.note}`,
  };
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
    if (t.request.latencyBudgetSeconds <= 0) {
      expired.push({
        key,
        reason: ROUND_FAILURE.deadlineExceeded,
        message: `the latency budget of ${object.spec.latencyBudget} passed while the request waited ${t.waitedSeconds.toFixed(1)}s for a node`,
      });
      continue;
    }
    const never = whyUnservable(t.fullBudget, allNodes);
    if (never !== null) {
      failed.push({ key, reason: never.reason, message: never.message });
      continue;
    }
    const notAnyMore = whyUnservable(t.request, allNodes);
    if (notAnyMore !== null) {
      expired.push({
        key,
        reason: ROUND_FAILURE.deadlineExceeded,
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
    input.clock === undefined ? {} : { clock: input.clock },
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
  const waiting = servable.map((t) => t.request.id).filter((id) => !assigned.has(id));
  return {
    batches,
    failed,
    expired,
    waiting,
    invalid,
    participants: participants.map((p) => p.all.name),
    notes,
  };
}

export type { FailureReason };
