// Several nodes (spec §5, GAH): per round, go through the nodes largest capacity first; for
// each, run the single-node policy (DFTSP by default) over the still unassigned requests it can
// serve, for each model variant it hosts, and commit the best variant's batch. Requests that no
// node can ever serve fail fast with a reason; the rest wait for the next round.
import { bestPerplexity, isEligible } from '../model/accuracy.js';
import { fitsSequence } from '../model/context.js';
import { addInto, CostModel, emptyState } from '../model/batch.js';
import type { CostOptions, ModelVariant, NodeResources, RequestDemand } from '../model/types.js';
import type { SplitAssignment, SplitRequestContext } from './split.js';
import type { Random } from '../random.js';
import { capAtUrgencyHorizon } from './horizon.js';
import { better, EMPTY_SCORE, type Score } from './objective.js';
import { schedule } from './schedule.js';
import { withSplitPlans } from './split.js';
import { POLICY, type Policy, type ScheduleResult, type SearchBudget } from './types.js';

export interface ClusterNode {
  readonly name: string;
  readonly resources: NodeResources;
  /** Model variants the node serves (one batch runs on one variant). */
  readonly variants: readonly ModelVariant[];
  readonly options: CostOptions;
  /**
   * Options of one variant (e.g. its calibration), overriding `options`; keyed by
   * `name/quantization`, or by quantization alone (applies to every model of that quantization).
   */
  readonly variantOptions?: Readonly<Record<string, CostOptions>>;
  /** Whether the node's runtime can execute a partial model (split plans count only then). */
  readonly partialModelExecution?: boolean;
  readonly policy?: Policy;
  readonly maxBatchSize?: number;
  readonly budget?: SearchBudget;
  /** This node's urgency horizon (horizon.ts), over GahOptions.urgencyHorizon; absent: that. */
  readonly urgencyHorizon?: number;
}

export interface ClusterRequest extends RequestDemand {
  readonly model: string;
  /** Nodes the request may run on (its nodeSelector); all when absent. */
  readonly allowedNodes?: readonly string[];
  /** spec.split and spec.client: the split is planned per node and variant before the search. */
  readonly split?: SplitRequestContext;
}

export const FAILURE_REASON = {
  /** No node serves the model at an accepted accuracy (or none matches the selector). */
  noEligibleNode: 'NoEligibleNode',
  /** Eligible somewhere, but even alone it misses its latency budget on every eligible node. */
  deadlineInfeasible: 'DeadlineInfeasible',
  /** Eligible somewhere, but even alone it does not fit in memory on any eligible node. */
  insufficientMemory: 'InsufficientMemory',
  /** Eligible somewhere, but its prompt plus maxTokens exceed one sequence's context on each. */
  contextExceeded: 'ContextExceeded',
} as const;
export type FailureReason = (typeof FAILURE_REASON)[keyof typeof FAILURE_REASON];

export interface NodeAssignment {
  readonly node: string;
  readonly variant: ModelVariant;
  readonly result: ScheduleResult;
  /** Split plans of the candidates that came with a split context, by request id. */
  readonly splits: ReadonlyMap<string, SplitAssignment>;
  /** Seconds of `GahOptions.clock` spent on this node (split plans and search), when given. */
  readonly solveSeconds?: number;
}

export interface ClusterDecision {
  /** One per node that got a non-empty batch, in the order the nodes were visited. */
  readonly assignments: readonly NodeAssignment[];
  /** Requests that cannot be served by any node, ever (under today's deadlines). */
  readonly failed: readonly {
    readonly id: string;
    readonly reason: FailureReason;
    readonly message: string;
  }[];
  /** Requests left for the next round. */
  readonly waiting: readonly string[];
}

/** Largest capacity first: effective compute, then memory, then name (deterministic). */
export function capacityOrder(a: ClusterNode, b: ClusterNode): number {
  const ca = a.resources.computeFlops * a.resources.utilization;
  const cb = b.resources.computeFlops * b.resources.utilization;
  return (
    cb - ca || b.resources.memoryBytes - a.resources.memoryBytes || a.name.localeCompare(b.name)
  );
}

function nodeAllows(request: ClusterRequest, node: string): boolean {
  return request.allowedNodes === undefined || request.allowedNodes.includes(node);
}

function variantOptions(node: ClusterNode, variant: ModelVariant): CostOptions {
  return (
    node.variantOptions?.[`${variant.name}/${variant.quantization}`] ??
    node.variantOptions?.[variant.quantization] ??
    node.options
  );
}

/** The demand the cost model sees on this node and variant: with the split plan applied. */
function demandOn(
  request: ClusterRequest,
  node: ClusterNode,
  variant: ModelVariant,
): ClusterRequest {
  if (request.split === undefined) return request;
  const planned = withSplitPlans(
    {
      node: node.resources,
      model: variant,
      bestPerplexity: variant.perplexity,
      requests: [request],
      options: variantOptions(node, variant),
    },
    new Map([[request.id, request.split]]),
    { partialModelExecution: node.partialModelExecution ?? false },
  );
  const demand = planned.instance.requests[0];
  return demand === undefined ? request : { ...request, ...demand };
}

/** The batch cap of a variant on a node: the node's maxBatchSize and the variant's own limit. */
function batchCap(node: ClusterNode, variant: ModelVariant): { maxBatchSize?: number } {
  const cap = Math.min(node.maxBatchSize ?? Infinity, variant.maxSequences ?? Infinity);
  return Number.isFinite(cap) ? { maxBatchSize: cap } : {};
}

function bestOfModel(node: ClusterNode, model: string): number {
  return bestPerplexity(node.variants.filter((v) => v.name === model));
}

/** Why a request can never be served, or null when some node could serve it alone. */
export function whyUnservable(
  request: ClusterRequest,
  nodes: readonly ClusterNode[],
): { reason: FailureReason; message: string } | null {
  let eligibleSomewhere = false;
  let fitsSomewhere = false;
  let largestSequence = 0;
  let latencyMiss = false;
  for (const node of nodes) {
    if (!nodeAllows(request, node.name)) continue;
    const best = bestOfModel(node, request.model);
    for (const variant of node.variants) {
      if (variant.name !== request.model) continue;
      if (!isEligible(variant, best, request.maxPerplexityIncrease)) continue;
      eligibleSomewhere = true;
      if (!fitsSequence(variant, request)) {
        largestSequence = Math.max(largestSequence, variant.sequenceTokens ?? 0);
        continue;
      }
      fitsSomewhere = true;
      const cost = new CostModel(node.resources, variant, variantOptions(node, variant));
      const r = cost.prepare(demandOn(request, node, variant), 0);
      const verdict = cost.check(addInto(emptyState(), emptyState(), r), [r]);
      if (verdict === 'ok') return null;
      if (verdict === 'latency') latencyMiss = true;
    }
  }
  if (!eligibleSomewhere) {
    return {
      reason: FAILURE_REASON.noEligibleNode,
      message: `no node serves model "${request.model}" within a perplexity increase of ${request.maxPerplexityIncrease}${request.allowedNodes ? ' among the nodes its selector allows' : ''}; add such a node or relax spec.accuracy`,
    };
  }
  if (!fitsSomewhere) {
    return {
      reason: FAILURE_REASON.contextExceeded,
      message: `its prompt (about ${request.promptTokens} tokens) plus maxTokens (${request.maxTokens}) exceed the ${largestSequence}-token context of one sequence on every eligible node; lower spec.maxTokens to at most ${Math.max(0, largestSequence - request.promptTokens)} or shorten the prompt`,
    };
  }
  return latencyMiss
    ? {
        reason: FAILURE_REASON.deadlineInfeasible,
        message: `even alone, the request needs more than its latency budget of ${request.latencyBudgetSeconds}s on every eligible node; raise spec.latencyBudget or shorten the prompt/maxTokens`,
      }
    : {
        reason: FAILURE_REASON.insufficientMemory,
        message:
          'even alone, the request does not fit in memory on any eligible node; lower maxTokens or shorten the prompt',
      };
}

export interface GahOptions {
  readonly rng?: Random;
  /** Default policy for nodes that name none (the sweep; DFTSP on request). */
  readonly policy?: Policy;
  /** Monotonic clock in seconds, to report each node's solve time (the core reads none). */
  readonly clock?: () => number;
  /**
   * Urgency horizon (horizon.ts): on each node and variant, no batch runs longer than this
   * factor times the smallest budget left among its candidates. Absent: the paper's objective.
   */
  readonly urgencyHorizon?: number;
}

export function assignAcrossNodes(
  nodes: readonly ClusterNode[],
  requests: readonly ClusterRequest[],
  options: GahOptions = {},
): ClusterDecision {
  const failed: { id: string; reason: FailureReason; message: string }[] = [];
  const pending = new Map<string, ClusterRequest>();
  for (const r of requests) {
    const why = whyUnservable(r, nodes);
    if (why) failed.push({ id: r.id, ...why });
    else pending.set(r.id, r);
  }
  const assignments: NodeAssignment[] = [];
  for (const node of [...nodes].sort(capacityOrder)) {
    let chosen: NodeAssignment | null = null;
    let chosenScore: Score = EMPTY_SCORE;
    const started = options.clock?.();
    for (const variant of node.variants) {
      const eligible = [...pending.values()].filter(
        (r) => r.model === variant.name && nodeAllows(r, node.name),
      );
      const horizon = node.urgencyHorizon ?? options.urgencyHorizon;
      const candidates = horizon === undefined ? eligible : capAtUrgencyHorizon(eligible, horizon);
      if (candidates.length === 0) continue;
      const splits = new Map(
        candidates.flatMap((r) => (r.split === undefined ? [] : [[r.id, r.split] as const])),
      );
      const planned = withSplitPlans(
        {
          ...batchCap(node, variant),
          node: node.resources,
          model: variant,
          bestPerplexity: bestOfModel(node, variant.name),
          requests: candidates,
          options: variantOptions(node, variant),
        },
        splits,
        { partialModelExecution: node.partialModelExecution ?? false },
      );
      const result = schedule(planned.instance, node.policy ?? options.policy ?? POLICY.sweep, {
        ...(node.budget ? { budget: node.budget } : {}),
        ...(options.rng ? { rng: options.rng } : {}),
      });
      const score: Score = { primary: result.requests, secondary: result.tokens, deadlineSum: 0 };
      if (result.requests > 0 && better(score, chosenScore)) {
        const chosenIds = new Set(result.batch);
        chosen = {
          node: node.name,
          variant,
          result,
          splits: new Map([...planned.assignments].filter(([id]) => chosenIds.has(id))),
        };
        chosenScore = score;
      }
    }
    if (chosen) {
      if (options.clock !== undefined && started !== undefined)
        chosen = { ...chosen, solveSeconds: options.clock() - started };
      assignments.push(chosen);
      for (const id of chosen.result.batch) pending.delete(id);
    }
  }
  return { assignments, failed, waiting: [...pending.keys()] };
}
