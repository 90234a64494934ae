// Branch and bound over placements, node by node (nodes in name order).
//
// Choices: each node's sets of useful variants (those that serve some class there, plus its
// pinned and current ones) that hold its pins and fit its memory, without the dominated ones: a
// set is dropped when another serves every class it serves with no more variants and no more
// changes, and is strictly better on size, changes or the final tie-break (any placement using
// the dropped set is beaten by the same placement using the other).
//
// Bound: a partial placement's undecided nodes are relaxed to serve every class any of their
// choices serves. The served flow only grows with more edges, so that flow bounds the value of
// every completion; the undecided nodes' least changes and sizes bound the tie-breaks; and once
// the decided nodes differ from the best placement's, the final tie-break between them is known.
// A branch is cut when its bound cannot beat the best placement found.
//
// Symmetry: nodes alike in resources, pins and current variants have the same choices, and
// swapping their choices changes no score; the final tie-break prefers the earlier node to hold
// the earlier choice, so a node's choice is searched only from its twin's (the previous node
// alike) onwards.
//
// Incumbent: the better of the current placement (when feasible) and a greedy one (each node in
// turn takes the choice that serves the most with the nodes before it, the fewest variants on
// ties), so the search starts from a good, lean placement.
import {
  compareNodeChoice,
  compareScores,
  nodeChanges,
  servedFraction,
  valueKey,
  type PlacementScore,
} from './objective.js';
import type { PreparedPlacement } from './prepare.js';
import { maxServedFlow } from './served-flow.js';
import type { PlacementOptions } from './types.js';

/** Slack added to a bound before it is rounded, far above the flow's rounding error. */
const BOUND_SLACK = 1e-9;

export interface NodeChoice {
  readonly variants: readonly number[];
  readonly serves: readonly number[];
  readonly changes: number;
}

export interface PlacementSearchResult {
  /** Variant indices per node. */
  readonly chosen: readonly (readonly number[])[];
  readonly servedFraction: number;
  readonly score: PlacementScore;
  readonly optimal: boolean;
  /** A proven upper bound on the served fraction of any feasible placement. */
  readonly upperBound: number;
  readonly evaluations: number;
}

function isSubset(a: readonly number[], b: ReadonlySet<number>): boolean {
  return a.every((x) => b.has(x));
}

/** Drops the choices another choice dominates (see the file comment). */
function undominated(current: readonly number[], choices: NodeChoice[]): NodeChoice[] {
  const sets = choices.map((c) => new Set(c.serves));
  return choices.filter((c, i) =>
    choices.every((d, j) => {
      if (i === j || d.variants.length > c.variants.length || d.changes > c.changes) return true;
      if (!isSubset(c.serves, sets[j] ?? new Set())) return true;
      const strictly =
        d.variants.length < c.variants.length ||
        d.changes < c.changes ||
        compareNodeChoice(current, d.variants, c.variants) < 0;
      return !strictly;
    }),
  );
}

/** Node `ni`'s undominated choices, in compareNodeChoice's order. */
export function nodeChoices(prepared: PreparedPlacement, ni: number): NodeChoice[] {
  const pinned = prepared.pinned[ni] ?? [];
  const current = prepared.current[ni] ?? [];
  const memoryBytes = prepared.nodes[ni]?.resources.memoryBytes ?? 0;
  const optional = prepared.variants
    .map((_, vi) => vi)
    .filter(
      (vi) =>
        !pinned.includes(vi) &&
        prepared.fits[ni]?.[vi] === true &&
        ((prepared.serves[ni]?.[vi]?.length ?? 0) > 0 || current.includes(vi)),
    );
  const out: NodeChoice[] = [];
  const pick: number[] = [];
  const grow = (from: number, bytes: number): void => {
    const variants = [...pinned, ...pick].sort((a, b) => a - b);
    const serves = new Set<number>();
    for (const vi of variants) for (const c of prepared.serves[ni]?.[vi] ?? []) serves.add(c);
    out.push({ variants, serves: [...serves], changes: nodeChanges(current, variants) });
    for (let i = from; i < optional.length; i++) {
      const vi = optional[i] ?? 0;
      const next = bytes + (prepared.memory[vi] ?? 0);
      if (next > memoryBytes) continue;
      pick.push(vi);
      grow(i + 1, next);
      pick.pop();
    }
  };
  grow(
    0,
    pinned.reduce((sum, vi) => sum + (prepared.memory[vi] ?? 0), 0),
  );
  return undominated(current, out).sort((a, b) =>
    compareNodeChoice(current, a.variants, b.variants),
  );
}

interface Placement {
  readonly chosen: readonly (readonly number[])[];
  readonly fraction: number;
  readonly score: PlacementScore;
}

function scored(prepared: PreparedPlacement, chosen: readonly (readonly number[])[]): Placement {
  const fraction = servedFraction(prepared, chosen);
  return {
    chosen,
    fraction,
    score: {
      key: valueKey(fraction),
      changes: chosen.reduce((s, set, ni) => s + nodeChanges(prepared.current[ni] ?? [], set), 0),
      size: chosen.reduce((s, set) => s + set.length, 0),
    },
  };
}

/** Compares the first `depth` nodes of two placements in the final tie-break's order. */
function comparePrefix(
  prepared: PreparedPlacement,
  a: readonly (readonly number[] | undefined)[],
  b: readonly (readonly number[])[],
  depth: number,
): number {
  for (let ni = 0; ni < depth; ni++) {
    const c = compareNodeChoice(prepared.current[ni] ?? [], a[ni] ?? [], b[ni] ?? []);
    if (c !== 0) return c;
  }
  return 0;
}

/** Positive when `a` beats `b`: the score, then the final tie-break. */
function beats(prepared: PreparedPlacement, a: Placement, b: Placement | undefined): boolean {
  if (b === undefined) return true;
  const s = compareScores(a.score, b.score);
  if (s !== 0) return s > 0;
  return comparePrefix(prepared, a.chosen, b.chosen, prepared.nodes.length) < 0;
}

/** For each node, the previous node alike in resources, pins and current variants. */
function twins(prepared: PreparedPlacement): (number | undefined)[] {
  const last = new Map<string, number>();
  return prepared.nodes.map((node, ni) => {
    const r = node.resources;
    const key = JSON.stringify([
      r.memoryBytes,
      r.computeFlops,
      r.utilization,
      prepared.pinned[ni],
      prepared.current[ni],
    ]);
    const before = last.get(key);
    last.set(key, ni);
    return before;
  });
}

function greedy(prepared: PreparedPlacement, choices: readonly NodeChoice[][]): number[][] {
  const chosen = prepared.pinned.map((l) => [...l]);
  for (let ni = 0; ni < prepared.nodes.length; ni++) {
    let best: Placement | undefined;
    for (const choice of choices[ni] ?? []) {
      const trial = chosen.map((l, i) => (i === ni ? [...choice.variants] : l));
      const candidate = scored(prepared, trial);
      const better =
        best === undefined ||
        candidate.score.key > best.score.key ||
        (candidate.score.key === best.score.key && candidate.score.size < best.score.size);
      if (better) best = candidate;
    }
    chosen[ni] = [...(best?.chosen[ni] ?? chosen[ni] ?? [])];
  }
  return chosen;
}

/**
 * The best placement (exact when `optimal`). `incumbent`, when given, is a feasible placement to
 * start from (the current one).
 */
export function searchPlacement(
  prepared: PreparedPlacement,
  options: Pick<PlacementOptions, 'maxEvaluations'>,
  incumbent?: readonly (readonly number[])[],
): PlacementSearchResult {
  const n = prepared.nodes.length;
  const choices = prepared.nodes.map((_, ni) => nodeChoices(prepared, ni));
  const relaxed = choices.map((list) => [...new Set(list.flatMap((c) => c.serves))]);
  const suffixChanges = new Array<number>(n + 1).fill(0);
  const suffixSize = new Array<number>(n + 1).fill(0);
  for (let ni = n - 1; ni >= 0; ni--) {
    const list = choices[ni] ?? [];
    suffixChanges[ni] = (suffixChanges[ni + 1] ?? 0) + Math.min(...list.map((c) => c.changes));
    suffixSize[ni] = (suffixSize[ni + 1] ?? 0) + Math.min(...list.map((c) => c.variants.length));
  }
  const upperBound = maxServedFlow(prepared.supply, prepared.capacity, relaxed);
  const twin = twins(prepared);

  let best: Placement = scored(prepared, greedy(prepared, choices));
  if (incumbent !== undefined) {
    const start = scored(prepared, incumbent);
    if (beats(prepared, start, best)) best = start;
  }

  const picked = new Array<readonly number[] | undefined>(n).fill(undefined);
  const pickedRank = new Array<number>(n).fill(0);
  const pickedServes = new Array<readonly number[] | undefined>(n).fill(undefined);
  let evaluations = 0;
  // Set by visit when the budget runs out (an object: the closure writes it).
  const run = { stopped: false };
  const visit = (depth: number, changes: number, size: number): void => {
    if (evaluations >= options.maxEvaluations) {
      run.stopped = true;
      return;
    }
    evaluations += 1;
    const served = prepared.nodes.map((_, ni) =>
      ni < depth ? (pickedServes[ni] ?? []) : (relaxed[ni] ?? []),
    );
    const fraction = maxServedFlow(prepared.supply, prepared.capacity, served);
    if (depth === n) {
      const leaf: Placement = {
        chosen: picked.map((c) => [...(c ?? [])]),
        fraction,
        score: { key: valueKey(fraction), changes, size },
      };
      if (beats(prepared, leaf, best)) best = leaf;
      return;
    }
    const bound: PlacementScore = {
      key: valueKey(fraction + BOUND_SLACK),
      changes: changes + (suffixChanges[depth] ?? 0),
      size: size + (suffixSize[depth] ?? 0),
    };
    const s = compareScores(bound, best.score);
    if (s < 0 || (s === 0 && comparePrefix(prepared, picked, best.chosen, depth) > 0)) return;
    const list = choices[depth] ?? [];
    const before = twin[depth];
    for (
      let rank = before === undefined ? 0 : (pickedRank[before] ?? 0);
      rank < list.length;
      rank++
    ) {
      const choice = list[rank];
      if (choice === undefined) break;
      pickedRank[depth] = rank;
      picked[depth] = choice.variants;
      pickedServes[depth] = choice.serves;
      visit(depth + 1, changes + choice.changes, size + choice.variants.length);
      if (run.stopped) return;
    }
    picked[depth] = undefined;
    pickedServes[depth] = undefined;
  };
  visit(0, 0, 0);

  return {
    chosen: best.chosen,
    servedFraction: best.fraction,
    score: best.score,
    optimal: !run.stopped,
    upperBound: run.stopped ? upperBound : best.fraction,
    evaluations,
  };
}
