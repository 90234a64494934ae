// Model placement: which variants run on which edge nodes (docs/placement.md). Pure: plain data
// in, a decision out. The best placement serves the largest fraction of the demand's work within
// accuracy bounds, deadlines, node memory and node compute (searchPlacement, exact unless the
// evaluation budget runs out). Hysteresis: adding a variant next to what runs is free, but a
// placement that removes a running variant is chosen only when it serves more than
// `hysteresisMargin` more of the demand than the best placement that removes nothing, so
// variants do not move back and forth as demand wobbles.
import { valueKey } from './objective.js';
import { placedPairs, preparePlacement, variantKey, type PreparedPlacement } from './prepare.js';
import { searchPlacement } from './search.js';
import {
  PLACEMENT_DEFAULTS,
  type PlacedVariant,
  type PlacementDecision,
  type PlacementOptions,
  type PlacementProblem,
} from './types.js';

/**
 * The current placement as a candidate (pairs on unknown nodes or of unknown variants dropped),
 * or undefined when it breaks a constraint: a node over its memory, or a pin not held.
 */
export function currentIfFeasible(prepared: PreparedPlacement): number[][] | undefined {
  for (const [ni, node] of prepared.nodes.entries()) {
    const current = prepared.current[ni] ?? [];
    const bytes = current.reduce((sum, vi) => sum + (prepared.memory[vi] ?? 0), 0);
    if (bytes > node.resources.memoryBytes) return undefined;
    if (!(prepared.pinned[ni] ?? []).every((vi) => current.includes(vi))) return undefined;
  }
  return prepared.current.map((l) => [...l]);
}

/**
 * Each node's pins plus its current variants: what a placement that removes nothing must hold;
 * undefined when some node cannot hold them all (then nothing can stay as it is).
 */
export function pinnedAndCurrent(prepared: PreparedPlacement): number[][] | undefined {
  const held = prepared.nodes.map((_, ni) =>
    [...new Set([...(prepared.pinned[ni] ?? []), ...(prepared.current[ni] ?? [])])].sort(
      (a, b) => a - b,
    ),
  );
  const fits = prepared.nodes.every(
    (node, ni) =>
      (held[ni] ?? []).reduce((sum, vi) => sum + (prepared.memory[vi] ?? 0), 0) <=
      node.resources.memoryBytes,
  );
  return fits ? held : undefined;
}

const pairKey = (p: PlacedVariant): string =>
  `${p.node}\u0000${variantKey(p.model, p.quantization)}`;

export function placeModels(
  problem: PlacementProblem,
  options: PlacementOptions = PLACEMENT_DEFAULTS,
): PlacementDecision {
  const prepared = preparePlacement(problem, options);
  const current = currentIfFeasible(prepared);
  const best = searchPlacement(prepared, options, current);
  const held = pinnedAndCurrent(prepared);
  // Without running variants beyond the pins, removing nothing is no constraint: the same search.
  // The budget is shared: what the first search left is the second one's.
  const nothingRuns = held?.every((set, ni) => set.length === (prepared.pinned[ni]?.length ?? 0));
  const keeping =
    held === undefined || nothingRuns === true
      ? undefined
      : searchPlacement(
          { ...prepared, pinned: held },
          { maxEvaluations: options.maxEvaluations - best.evaluations },
          current,
        );

  let chosen = best.chosen;
  let fraction = best.servedFraction;
  let kept = false;
  if (
    keeping !== undefined &&
    valueKey(best.servedFraction) - valueKey(keeping.servedFraction) <=
      valueKey(options.hysteresisMargin)
  ) {
    kept = valueKey(best.servedFraction) > valueKey(keeping.servedFraction);
    chosen = keeping.chosen;
    fraction = keeping.servedFraction;
  }

  const placement = placedPairs(prepared, chosen);
  const now = new Set(problem.current.map(pairKey));
  const next = new Set(placement.map(pairKey));
  const removed = [...new Map(problem.current.map((p) => [pairKey(p), p])).values()]
    .filter((p) => !next.has(pairKey(p)))
    .map((p) => ({ node: p.node, model: p.model, quantization: p.quantization }))
    .sort((a, b) => (pairKey(a) < pairKey(b) ? -1 : 1));
  return {
    placement,
    added: placement.filter((p) => !now.has(pairKey(p))),
    removed,
    servedFraction: fraction,
    bestServedFraction: best.servedFraction,
    demandFlopsPerSecond: prepared.demandFlopsPerSecond,
    kept,
    optimal: best.optimal && (keeping?.optimal ?? true),
    upperBoundServedFraction: best.upperBound,
    evaluations: best.evaluations + (keeping?.evaluations ?? 0),
    unsatisfiedPins: prepared.unsatisfiedPins,
    unservable: prepared.unservable,
  };
}
