// Inputs and outputs of model placement: which variants run on which edge nodes (docs/placement.md
// states the objective, the search and the defaults).
import type { ModelVariant, NodeResources } from '../model/types.js';

export interface PlacementNode {
  readonly name: string;
  /** memoryBytes holds the weights and KV reserves of the variants placed here; computeFlops *
   * utilization * targetUtilization is the work per second placement plans for the node. */
  readonly resources: Pick<NodeResources, 'memoryBytes' | 'computeFlops' | 'utilization'>;
}

/**
 * Requests alike in model, size, deadline and accuracy bound: the unit of demand (the shell
 * groups pending InferenceRequests, HTTP requests and recent arrivals into classes).
 */
export interface DemandClass {
  readonly id: string;
  readonly model: string;
  readonly promptTokens: number;
  readonly maxTokens: number;
  readonly latencyBudgetSeconds: number;
  /** Largest accepted perplexity increase over the model's best variant (A_u). */
  readonly maxPerplexityIncrease: number;
  /** Requests of the class waiting now. */
  readonly pending: number;
  /** Recent arrivals of the class, requests per second. */
  readonly arrivalsPerSecond: number;
}

/** One variant on one node. */
export interface PlacedVariant {
  readonly node: string;
  readonly model: string;
  readonly quantization: string;
}

/** A Model's spec.pins entry: this variant runs on this node whatever the demand. */
export type PlacementPin = PlacedVariant;

export interface PlacementOptions {
  /** Pending requests count as arriving evenly over this many seconds. */
  readonly horizonSeconds: number;
  /** KV-cache tokens each placed variant reserves next to its weights. */
  readonly kvReserveTokens: number;
  /** Fraction of a node's effective compute (computeFlops * utilization) placement fills. */
  readonly targetUtilization: number;
  /** A placement that removes a running variant must serve more than this fraction of the
   * demand more than the best one that removes nothing (0.05 = 5 points). */
  readonly hysteresisMargin: number;
  /** Search nodes (bounds and leaves) evaluated before the best so far is returned with
   * optimal=false. */
  readonly maxEvaluations: number;
}

/**
 * The documented defaults: a 60 s horizon, a 4096-token KV reserve per placed variant (one
 * sequence of a typical edge context), 80% of effective compute planned, a 5-point hysteresis
 * margin, and a budget of 20000 evaluations (bench/README.md: 4 nodes finish well within it,
 * 16 nodes often do not and return the best placement found with a proven bound).
 */
export const PLACEMENT_DEFAULTS = {
  horizonSeconds: 60,
  kvReserveTokens: 4096,
  targetUtilization: 0.8,
  hysteresisMargin: 0.05,
  maxEvaluations: 20_000,
} as const satisfies PlacementOptions;

export interface PlacementProblem {
  readonly nodes: readonly PlacementNode[];
  /** Every variant of every model (ModelVariant.name is the model). */
  readonly variants: readonly ModelVariant[];
  readonly demand: readonly DemandClass[];
  readonly pins: readonly PlacementPin[];
  /** What runs now; moves away from it must pay for themselves (hysteresis). */
  readonly current: readonly PlacedVariant[];
}

/** Why a class cannot be served by a variant on a node, in the order the checks run. */
export const UNSERVABLE = {
  /** No variant of the class's model exists. */
  noVariant: 'NoVariant',
  /** Every variant is worse than the class's accuracy bound allows. */
  accuracy: 'AccuracyBound',
  /** Prompt plus output exceed the KV reserve or the variant's sequence. */
  context: 'ContextExceeded',
  /** No eligible variant fits in any node's memory. */
  memory: 'InsufficientMemory',
  /** Even alone on the node, the compute misses the deadline. */
  deadline: 'DeadlineInfeasible',
} as const;
export type Unservable = (typeof UNSERVABLE)[keyof typeof UNSERVABLE];

export const PIN_PROBLEM = {
  unknownNode: 'UnknownNode',
  unknownVariant: 'UnknownVariant',
  /** The pin does not fit in the node's memory next to the pins before it. */
  memory: 'InsufficientMemory',
} as const;
export type PinProblem = (typeof PIN_PROBLEM)[keyof typeof PIN_PROBLEM];

export interface PlacementDecision {
  /** Sorted by node, model, quantization. */
  readonly placement: readonly PlacedVariant[];
  readonly added: readonly PlacedVariant[];
  readonly removed: readonly PlacedVariant[];
  /** Fraction of the demand's work (FLOP/s) the placement can serve, in [0, 1]. */
  readonly servedFraction: number;
  /** The best placement's served fraction (higher than servedFraction only when kept). */
  readonly bestServedFraction: number;
  /** The demand's work, FLOP/s: sum over classes of rate * FLOPs of one request. */
  readonly demandFlopsPerSecond: number;
  /** True when hysteresis kept running variants although a placement without them served more. */
  readonly kept: boolean;
  /** True when the search finished (the best placement is proven best). */
  readonly optimal: boolean;
  /** A proven upper bound on the served fraction of any placement: bestServedFraction when
   * optimal, else the relaxation's bound (every node serving all it could), so the gap to
   * bestServedFraction bounds what the budget cost. */
  readonly upperBoundServedFraction: number;
  /** Search nodes evaluated. */
  readonly evaluations: number;
  readonly unsatisfiedPins: readonly { readonly pin: PlacementPin; readonly problem: PinProblem }[];
  /** Classes no variant on any node can serve, even with the node to itself. */
  readonly unservable: readonly { readonly classId: string; readonly reason: Unservable }[];
}
