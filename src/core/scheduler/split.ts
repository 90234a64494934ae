// The split plan's hook into the scheduler's cost model. For a request with a client profile
// and `split: auto`, the planner decides which layers the client runs; DFTSP's compute term then
// counts only the server's share of the request's FLOPs (RequestDemand.serverComputeFraction,
// which the cost model multiplies into the request's prefill and decode FLOPs). When the node's
// runtime cannot execute a partial model (the agent reports partialModelExecution: false), the
// plan is still made and reported, but the fraction stays 1: offloaded work is not counted as
// saved. A fraction in [0, 1] only scales each request's own FLOPs, so adding a request still
// never lowers the batch's cost: the cost model's anti-monotonicity is kept.
//
// What the planner sees: the request alone on the node at the node's effective FLOP/s
// (eta * F * c_q) and the request's whole latency budget as its SLA. In a batch the server's
// compute is shared, so the split is planned optimistically; DFTSP still checks the batch's
// real latency with the reduced FLOPs.
import type { ModelVariant, NodeResources, RequestDemand } from '../model/types.js';
import {
  buildSplitProfile,
  planSplit,
  serverFlopsFraction,
  type SplitClient,
  type SplitOptions,
  type SplitPlan,
} from '../planner/index.js';
import type { ScheduleInstance } from './types.js';

/** InferenceRequest spec.split. */
export const SPLIT_MODE = { auto: 'auto', serverOnly: 'server-only' } as const;
export type SplitMode = (typeof SPLIT_MODE)[keyof typeof SPLIT_MODE];

/** How the request's compute is counted on the node. */
export const SPLIT_ACCOUNTING = {
  /** Only the plan's server share of the FLOPs. */
  serverShare: 'server-share',
  /** The whole model (no plan, or the node cannot run a partial model). */
  fullModel: 'full-model',
} as const;
export type SplitAccounting = (typeof SPLIT_ACCOUNTING)[keyof typeof SPLIT_ACCOUNTING];

export interface SplitRequestContext {
  readonly split: SplitMode;
  /** The requesting device (spec.client); without it no split is planned. */
  readonly client?: SplitClient | undefined;
}

/** What the node's agent reports about its runtime. */
export interface SplitNodeCapability {
  readonly partialModelExecution: boolean;
}

export const SPLIT_WIRING_DEFAULTS = {
  /** Bytes per activation element on the wire (fp16 activations). */
  activationBytesPerElement: 2,
} as const;

export interface SplitAssignment {
  /** The demand DFTSP sees, with serverComputeFraction set. */
  readonly demand: RequestDemand;
  /** The plan, when one was made (reported in the request's status). */
  readonly plan: SplitPlan | null;
  readonly accounting: SplitAccounting;
  /** One line for status and logs. */
  readonly reason: string;
}

/** Plans the request's split on `node` and sets the server share DFTSP counts. */
export function applySplitPlan(
  demand: RequestDemand,
  model: ModelVariant,
  node: NodeResources,
  context: SplitRequestContext,
  capability: SplitNodeCapability,
  options: Partial<SplitOptions> & { readonly activationBytesPerElement?: number } = {},
): SplitAssignment {
  const full = (plan: SplitPlan | null, reason: string): SplitAssignment => ({
    demand: { ...demand, serverComputeFraction: 1 },
    plan,
    accounting: SPLIT_ACCOUNTING.fullModel,
    reason,
  });
  if (context.split !== SPLIT_MODE.auto) return full(null, 'split: server-only');
  if (context.client === undefined)
    return full(null, 'split: auto, but the request has no client profile');
  const { activationBytesPerElement, ...planOptions } = options;
  const profile = buildSplitProfile({
    model: {
      layers: model.layers,
      hiddenSize: model.hiddenSize,
      ffnSize: model.ffnSize,
      bytesPerElement: activationBytesPerElement ?? SPLIT_WIRING_DEFAULTS.activationBytesPerElement,
    },
    request: { promptTokens: demand.promptTokens, outputTokens: demand.maxTokens },
    client: context.client,
    server: { computeFlops: node.utilization * node.computeFlops * model.computeFactor },
  });
  const plan = planSplit(profile, demand.latencyBudgetSeconds, planOptions);
  const fraction = serverFlopsFraction(plan);
  if (!capability.partialModelExecution) {
    return full(
      plan,
      `planned ${(100 * (1 - fraction)).toFixed(1)}% of the FLOPs on the client, but the node's runtime cannot execute a partial model: counting the full model`,
    );
  }
  return {
    demand: { ...demand, serverComputeFraction: fraction },
    plan,
    accounting: SPLIT_ACCOUNTING.serverShare,
    reason: `${plan.decision}: ${(100 * fraction).toFixed(1)}% of the FLOPs on the server`,
  };
}

/*
 * Before DFTSP runs on a node, every request with a client profile and `split: auto` gets its
 * split planned for that node (withSplitPlans), and its RequestDemand carries the plan's server
 * share of the FLOPs. See docs/split-planner.md.
 */
export interface SplitInstance {
  /** The instance DFTSP should search, with server shares applied. */
  readonly instance: ScheduleInstance;
  /** Per request id, for the requests that came with a split context. */
  readonly assignments: ReadonlyMap<string, SplitAssignment>;
}

/**
 * Applies split plans to the requests of `instance` that have a context in `splits` (by id);
 * the others are left as they are. Pure; O(requests * L * K).
 */
export function withSplitPlans(
  instance: ScheduleInstance,
  splits: ReadonlyMap<string, SplitRequestContext>,
  capability: SplitNodeCapability,
  options: Partial<SplitOptions> = {},
): SplitInstance {
  const assignments = new Map<string, SplitAssignment>();
  const requests = instance.requests.map((demand) => {
    const context = splits.get(demand.id);
    if (context === undefined) return demand;
    const assignment = applySplitPlan(
      demand,
      instance.model,
      instance.node,
      context,
      capability,
      options,
    );
    assignments.set(demand.id, assignment);
    return assignment.demand;
  });
  return { instance: { ...instance, requests }, assignments };
}
