// The placement objective and its total order. A placement (variant indices per node) is worth
// the fraction of the demand's work it can serve (maxServedFlow), resolved to VALUE_RESOLUTION so
// that equal values compare equal whatever the rounding of the flow; ties go to fewer changes
// from the current placement, then fewer placed variants, then the earlier placement in the
// search's order (node by node in name order, each node's choice by compareNodeChoice).
import type { PreparedPlacement } from './prepare.js';
import { maxServedFlow } from './served-flow.js';

/** Served fractions are compared in steps of one millionth of the demand. */
export const VALUE_RESOLUTION = 1e-6;

export function valueKey(servedFraction: number): number {
  return Math.round(servedFraction / VALUE_RESOLUTION);
}

/** The classes each node can serve with the variants chosen for it. */
export function servedClasses(
  prepared: PreparedPlacement,
  chosen: readonly (readonly number[])[],
): number[][] {
  return prepared.nodes.map((_, ni) => {
    const set = new Set<number>();
    for (const vi of chosen[ni] ?? []) {
      for (const c of prepared.serves[ni]?.[vi] ?? []) set.add(c);
    }
    return [...set];
  });
}

/** The served fraction of demand of a placement, in [0, 1]. */
export function servedFraction(
  prepared: PreparedPlacement,
  chosen: readonly (readonly number[])[],
): number {
  return maxServedFlow(prepared.supply, prepared.capacity, servedClasses(prepared, chosen));
}

/** Variants added plus variants removed on one node. */
export function nodeChanges(current: readonly number[], chosen: readonly number[]): number {
  let same = 0;
  for (const v of chosen) if (current.includes(v)) same += 1;
  return current.length - same + (chosen.length - same);
}

/**
 * Order of one node's choices: more variants first (among placements of equal score, nodes
 * earlier in name order are filled first), then fewer changes, then smaller indices.
 */
export function compareNodeChoice(
  current: readonly number[],
  a: readonly number[],
  b: readonly number[],
): number {
  if (a.length !== b.length) return b.length - a.length;
  const changes = nodeChanges(current, a) - nodeChanges(current, b);
  if (changes !== 0) return changes;
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The (value key, changes, variants) triple, larger-is-better first. */
export interface PlacementScore {
  readonly key: number;
  readonly changes: number;
  readonly size: number;
}

/** Positive when `a` is better than `b` on the triple alone. */
export function compareScores(a: PlacementScore, b: PlacementScore): number {
  if (a.key !== b.key) return a.key - b.key;
  if (a.changes !== b.changes) return b.changes - a.changes;
  return b.size - a.size;
}
