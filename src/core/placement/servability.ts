// Whether a variant on a node can serve a demand class at all: the same model, within the class's
// accuracy bound, its prompt plus output within the KV reserve and the variant's sequence, the
// variant's weights plus reserve within the node's memory, and one request alone computing within
// the deadline (the compute part of spec §2; the round's DFTSP still checks radio and batching).
import { isEligible } from '../model/accuracy.js';
import { fitsSequence } from '../model/context.js';
import { decodeFlops, prefillFlops } from '../model/flops.js';
import { kvBytesPerToken, weightBytes } from '../model/memory.js';
import type { ModelVariant } from '../model/types.js';
import {
  UNSERVABLE,
  type DemandClass,
  type PlacementNode,
  type PlacementOptions,
  type Unservable,
} from './types.js';

/** Memory a placed variant takes: its weights and its KV reserve. */
export function placedMemoryBytes(
  variant: ModelVariant,
  options: Pick<PlacementOptions, 'kvReserveTokens'>,
): number {
  return weightBytes(variant) + options.kvReserveTokens * kvBytesPerToken(variant);
}

/** FLOPs of one request of the class on the variant (prefill and decode). */
export function requestFlops(
  variant: ModelVariant,
  demand: Pick<DemandClass, 'promptTokens' | 'maxTokens'>,
): number {
  return (
    prefillFlops(variant, demand.promptTokens) +
    decodeFlops(variant, demand.promptTokens, demand.maxTokens)
  );
}

/** The checks in order; `undefined` when the variant on the node serves the class. */
export function whyUnservable(
  demand: DemandClass,
  node: PlacementNode,
  variant: ModelVariant,
  bestPerplexity: number,
  options: Pick<PlacementOptions, 'kvReserveTokens'>,
): Unservable | undefined {
  if (variant.name !== demand.model) return UNSERVABLE.noVariant;
  if (!isEligible(variant, bestPerplexity, demand.maxPerplexityIncrease)) {
    return UNSERVABLE.accuracy;
  }
  if (
    demand.promptTokens + demand.maxTokens > options.kvReserveTokens ||
    !fitsSequence(variant, demand)
  ) {
    return UNSERVABLE.context;
  }
  if (placedMemoryBytes(variant, options) > node.resources.memoryBytes) return UNSERVABLE.memory;
  const seconds =
    requestFlops(variant, demand) /
    (node.resources.computeFlops * node.resources.utilization * variant.computeFactor);
  if (seconds > demand.latencyBudgetSeconds) return UNSERVABLE.deadline;
  return undefined;
}

/** How far the checks got: a reason later in UNSERVABLE's order means a nearer miss. */
export const UNSERVABLE_ORDER: readonly Unservable[] = Object.values(UNSERVABLE);
