// A placement problem as indexed data: nodes sorted by name, variants by model then quantization,
// each class's share of the demand's work, each node's share of capacity, which classes each
// variant serves on each node, the pins that can be honoured, and the current placement.
import { bestPerplexity } from '../model/accuracy.js';
import type { ModelVariant } from '../model/types.js';
import { placedMemoryBytes, requestFlops, UNSERVABLE_ORDER, whyUnservable } from './servability.js';
import {
  PIN_PROBLEM,
  UNSERVABLE,
  type DemandClass,
  type PinProblem,
  type PlacedVariant,
  type PlacementNode,
  type PlacementOptions,
  type PlacementPin,
  type PlacementProblem,
  type Unservable,
} from './types.js';

export interface PreparedPlacement {
  readonly nodes: readonly PlacementNode[];
  readonly variants: readonly ModelVariant[];
  readonly classes: readonly DemandClass[];
  /** Work of the whole demand, FLOP/s (0 when there is none). */
  readonly demandFlopsPerSecond: number;
  /** Each class's fraction of that work (all 0 without demand). */
  readonly supply: readonly number[];
  /** Each node's planned work per second, as a fraction of the demand's work. */
  readonly capacity: readonly number[];
  /** Bytes each variant takes when placed. */
  readonly memory: readonly number[];
  /** serves[n][v]: the classes variant v serves on node n (empty when v does not fit there). */
  readonly serves: readonly (readonly (readonly number[])[])[];
  /** fits[n][v]: variant v alone fits node n's memory. */
  readonly fits: readonly (readonly boolean[])[];
  /** Variant indices each node must hold (pins that can be honoured). */
  readonly pinned: readonly (readonly number[])[];
  /** Variant indices each node holds now (pairs of unknown nodes or variants dropped). */
  readonly current: readonly (readonly number[])[];
  readonly unsatisfiedPins: readonly { readonly pin: PlacementPin; readonly problem: PinProblem }[];
  readonly unservable: readonly { readonly classId: string; readonly reason: Unservable }[];
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function variantKey(model: string, quantization: string): string {
  return `${model}\u0000${quantization}`;
}

export function preparePlacement(
  problem: PlacementProblem,
  options: PlacementOptions,
): PreparedPlacement {
  const nodes = [...problem.nodes].sort((a, b) => byName(a.name, b.name));
  const variants = [...problem.variants].sort(
    (a, b) => byName(a.name, b.name) || byName(a.quantization, b.quantization),
  );
  const nodeIndex = new Map(nodes.map((n, i) => [n.name, i]));
  const variantIndex = new Map(variants.map((v, i) => [variantKey(v.name, v.quantization), i]));
  const best = new Map<string, number>();
  for (const v of variants) {
    best.set(v.name, bestPerplexity(variants.filter((o) => o.name === v.name)));
  }
  const memory = variants.map((v) => placedMemoryBytes(v, options));

  // Work per class: its request rate times the FLOPs of one request (the largest over the
  // model's variants, should their shapes differ), at compute factor 1.
  const classes = problem.demand;
  const work = classes.map((c) => {
    const rate = c.arrivalsPerSecond + c.pending / options.horizonSeconds;
    const flops = variants
      .filter((v) => v.name === c.model)
      .reduce((m, v) => Math.max(m, requestFlops(v, c)), 0);
    return rate * flops;
  });
  const total = work.reduce((a, b) => a + b, 0);
  const supply = work.map((w) => (total > 0 ? w / total : 0));
  const capacity = nodes.map((n) =>
    total > 0
      ? (n.resources.computeFlops * n.resources.utilization * options.targetUtilization) / total
      : 0,
  );

  const fits = nodes.map((n) => memory.map((m) => m <= n.resources.memoryBytes));
  const furthest = classes.map((): number => 0);
  const serves = nodes.map((n, ni) =>
    variants.map((v, vi) => {
      const list: number[] = [];
      classes.forEach((c, ci) => {
        if (c.model !== v.name) return;
        const why = whyUnservable(c, n, v, best.get(v.name) ?? Infinity, options);
        const reached = why === undefined ? UNSERVABLE_ORDER.length : UNSERVABLE_ORDER.indexOf(why);
        furthest[ci] = Math.max(furthest[ci] ?? 0, reached);
        if (why === undefined && fits[ni]?.[vi] === true) list.push(ci);
      });
      return list;
    }),
  );
  const unservable = classes.flatMap((c, ci) => {
    const reached = furthest[ci] ?? 0;
    if (reached >= UNSERVABLE_ORDER.length) return [];
    const anyVariant = variants.some((v) => v.name === c.model);
    const reason = !anyVariant
      ? UNSERVABLE.noVariant
      : nodes.length === 0
        ? UNSERVABLE.memory
        : (UNSERVABLE_ORDER[reached] ?? UNSERVABLE.noVariant);
    return [{ classId: c.id, reason }];
  });

  // Pins, in the order given: honoured while they fit next to the node's earlier pins.
  const pinned: number[][] = nodes.map(() => []);
  const pinnedBytes = nodes.map(() => 0);
  const unsatisfiedPins: { pin: PlacementPin; problem: PinProblem }[] = [];
  for (const pin of problem.pins) {
    const ni = nodeIndex.get(pin.node);
    const vi = variantIndex.get(variantKey(pin.model, pin.quantization));
    if (ni === undefined) {
      unsatisfiedPins.push({ pin, problem: PIN_PROBLEM.unknownNode });
      continue;
    }
    if (vi === undefined) {
      unsatisfiedPins.push({ pin, problem: PIN_PROBLEM.unknownVariant });
      continue;
    }
    const list = pinned[ni] ?? [];
    if (list.includes(vi)) continue;
    const bytes = (pinnedBytes[ni] ?? 0) + (memory[vi] ?? 0);
    if (bytes > (nodes[ni]?.resources.memoryBytes ?? 0)) {
      unsatisfiedPins.push({ pin, problem: PIN_PROBLEM.memory });
      continue;
    }
    list.push(vi);
    pinnedBytes[ni] = bytes;
  }

  const current: number[][] = nodes.map(() => []);
  for (const p of problem.current) {
    const ni = nodeIndex.get(p.node);
    const vi = variantIndex.get(variantKey(p.model, p.quantization));
    if (ni === undefined || vi === undefined) continue;
    const list = current[ni] ?? [];
    if (!list.includes(vi)) list.push(vi);
  }

  return {
    nodes,
    variants,
    classes,
    demandFlopsPerSecond: total,
    supply,
    capacity,
    memory,
    serves,
    fits,
    pinned: pinned.map((l) => [...l].sort((a, b) => a - b)),
    current: current.map((l) => [...l].sort((a, b) => a - b)),
    unsatisfiedPins,
    unservable,
  };
}

/** The pairs of a per-node choice of variant indices, sorted by node, model, quantization. */
export function placedPairs(
  prepared: PreparedPlacement,
  chosen: readonly (readonly number[])[],
): PlacedVariant[] {
  return prepared.nodes.flatMap((n, ni) =>
    [...(chosen[ni] ?? [])]
      .sort((a, b) => a - b)
      .map((vi) => {
        const v = prepared.variants[vi];
        return { node: n.name, model: v?.name ?? '', quantization: v?.quantization ?? '' };
      }),
  );
}
