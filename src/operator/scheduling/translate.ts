// The CRD -> core translation of a scheduling round: EdgeNode objects become the core's
// ClusterNodes (cost options per variant, the loaded variants and the agent's batch cap) and
// InferenceRequest specs become ClusterRequests (remaining budget, token estimate, selector,
// split context); split plans come back as the status.assignment.split summary. Pure.
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
} from '../../core/scheduler/split.js';
import type { ClusterNode, ClusterRequest } from '../../core/scheduler/gah.js';
import { POLICIES, POLICY, type Policy } from '../../core/scheduler/types.js';
import { isConditionTrue } from '../api/conditions.js';
import { NODE_CONDITION } from '../api/constants.js';
import { parseDurationSeconds } from './duration.js';
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
  policy: POLICY.sweep,
  maxBatchSize: 16,
  solverBudgetMilliseconds: 50,
  roundIntervalSeconds: 1,
  maxPerplexityIncrease: 0,
  /**
   * spec.scheduling.urgencyHorizon when absent and the policy is an exact one (sweep, dftsp): no
   * batch longer than twice the smallest budget left among its candidates. It served as many
   * requests as the paper's objective or more in every scenario through the operator and in six of
   * eight in the simulator (docs/scheduling-scenarios.md); 0 is the paper's objective. The
   * baselines, there to compare with, take none unless the node sets one.
   */
  urgencyHorizon: 2,
} as const;

/** The policies spec.scheduling.urgencyHorizon defaults to SCHEDULING_DEFAULTS' value for. */
const HORIZON_BY_DEFAULT: ReadonlySet<Policy> = new Set([POLICY.sweep, POLICY.dftsp]);

/** The node's urgency horizon factor, or undefined for none (0, or a baseline's default). */
export function urgencyHorizonOf(set: number | undefined, policy: Policy): number | undefined {
  const factor =
    set ?? (HORIZON_BY_DEFAULT.has(policy) ? SCHEDULING_DEFAULTS.urgencyHorizon : undefined);
  return factor === undefined || factor <= 0 ? undefined : factor;
}

/** spec.scheduling.compute: `auto` is `calibrated` when status has the variant's profile. */
export const COMPUTE_SETTING = {
  auto: 'auto',
  flops: 'flops',
  roofline: 'roofline',
  calibrated: 'calibrated',
} as const;

/** Whether the EdgeNode controller marked the node Ready (its agent answers and serves a model). */
export function isNodeReady(node: EdgeNodeView): boolean {
  return isConditionTrue(node.status?.conditions, NODE_CONDITION.ready);
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

export function nodeName(node: EdgeNodeView): string {
  return node.metadata?.name ?? '';
}

export function agentModelOf(model: EdgeNodeModelView): string {
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

export interface TranslatedNode {
  /** Every spec variant (for "can any node ever serve this" checks). */
  readonly all: ClusterNode;
  /** Only the variants the agent has loaded, with the agent's batch limit (for the round). */
  readonly round: ClusterNode;
  readonly agentModels: ReadonlyMap<string, string>;
}

export function variantKey(name: string, quantization: string): string {
  return `${name}/${quantization}`;
}

export function translateNode(
  node: EdgeNodeView,
  clock: (() => number) | undefined,
  notes: string[],
): TranslatedNode {
  const name = nodeName(node);
  const r = node.spec.resources;
  const s = node.spec.scheduling;
  // A variant without a perplexity counts as the best of its model (no accuracy penalty).
  const bestByModel = new Map<string, number>();
  for (const m of node.spec.models ?? []) {
    const p = m.perplexity ?? profilePerplexity(node, m);
    if (p !== undefined) bestByModel.set(m.name, Math.min(bestByModel.get(m.name) ?? p, p));
  }
  const variantOptions: Record<string, CostOptions> = {};
  const agentModels = new Map<string, string>();
  const variants: ModelVariant[] = (node.spec.models ?? []).map((m) => {
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
  const horizon = urgencyHorizonOf(s?.urgencyHorizon, policy);
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
    ...(horizon === undefined ? {} : { urgencyHorizon: horizon }),
    partialModelExecution: node.status?.agent?.partialModelExecution ?? false,
    ...(clock === undefined ? {} : { budget: { maxSeconds: budgetSeconds, clock } }),
  };
  // What the agent reports of each variant: whether it is loaded, its batch limit (sequences)
  // and how many tokens one sequence holds. The round uses only loaded variants (all when
  // status lists no models yet), each capped by its own limit.
  const statusModels = node.status?.models;
  const limits = (v: ModelVariant): ModelVariant => {
    const agentModel = agentModels.get(variantKey(v.name, v.quantization));
    const entry = statusModels?.find((m) => (m.agentModel ?? m.name) === agentModel);
    return {
      ...v,
      ...(entry?.maxSequences !== undefined && entry.maxSequences > 0
        ? { maxSequences: entry.maxSequences }
        : {}),
      ...(entry?.sequenceContextTokens !== undefined && entry.sequenceContextTokens > 0
        ? { sequenceTokens: entry.sequenceContextTokens }
        : {}),
    };
  };
  const known = variants.map(limits);
  const loaded = known.filter((v) => {
    if (statusModels === undefined) return true;
    const agentModel = agentModels.get(variantKey(v.name, v.quantization));
    return statusModels.find((m) => (m.agentModel ?? m.name) === agentModel)?.loaded === true;
  });
  return {
    all: { ...all, variants: known },
    round: { ...all, variants: loaded },
    agentModels,
  };
}

function profilePerplexity(node: EdgeNodeView, m: EdgeNodeModelView): number | undefined {
  return node.status?.profiles?.find(
    (p) => p.agentModel === agentModelOf(m) && p.quantization === m.quantization,
  )?.perplexity;
}

export interface TranslatedRequest {
  readonly request: ClusterRequest;
  /** With the whole budget, to tell "never feasible" from "no longer feasible". */
  readonly fullBudget: ClusterRequest;
  readonly uid: string | undefined;
  readonly waitedSeconds: number;
}

export function translateRequest(
  object: InferenceRequestView,
  nodes: readonly EdgeNodeView[],
  input: {
    readonly nowMs: number;
    readonly promptBytes?: ReadonlyMap<string, number> | undefined;
    readonly firstSeenMs?: ReadonlyMap<string, number> | undefined;
  },
): TranslatedRequest {
  const key = requestKey(object);
  const spec = object.spec;
  const budget = parseDurationSeconds(spec.latencyBudget);
  const created =
    input.firstSeenMs?.get(key) ?? timestampMs(object.metadata?.creationTimestamp) ?? input.nowMs;
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

export function splitSummary(a: SplitAssignment): SplitSummary {
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
