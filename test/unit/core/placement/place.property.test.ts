// Placement against an exhaustive oracle: every set of variants on every node (not just the
// search's useful ones), filtered by memory and pins, ordered by the documented objective and
// tie-breaks, with the hysteresis rule applied; and the served-flow evaluator against the
// brute-force minimum cut.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  compareNodeChoice,
  compareScores,
  nodeChanges,
  servedFraction,
  valueKey,
  type PlacementScore,
} from '../../../../src/core/placement/objective.js';
import { placeModels } from '../../../../src/core/placement/place.js';
import {
  placedPairs,
  preparePlacement,
  type PreparedPlacement,
} from '../../../../src/core/placement/prepare.js';
import { maxServedFlow } from '../../../../src/core/placement/served-flow.js';
import { placedMemoryBytes } from '../../../../src/core/placement/servability.js';
import type { PlacementOptions, PlacementProblem } from '../../../../src/core/placement/types.js';
import { placementOptionsArb, placementProblemArb } from '../../../support/placement-problems.js';

const RUNS = Number(process.env.EDGELLM_PROPERTY_RUNS ?? 2000);

/** Whether `chosen` (variant indices per node) fits every node's memory and holds its pins. */
function feasible(
  prepared: PreparedPlacement,
  options: PlacementOptions,
  chosen: readonly (readonly number[])[],
): boolean {
  return prepared.nodes.every((node, ni) => {
    const set = chosen[ni] ?? [];
    const bytes = set.reduce((sum, vi) => {
      const v = prepared.variants[vi];
      return sum + (v === undefined ? Infinity : placedMemoryBytes(v, options));
    }, 0);
    return (
      bytes <= node.resources.memoryBytes &&
      (prepared.pinned[ni] ?? []).every((vi) => set.includes(vi))
    );
  });
}

interface Candidate {
  readonly chosen: number[][];
  readonly fraction: number;
  readonly score: PlacementScore;
}

/** Every placement; the best by the objective, the best that removes no running variant, and
 * the hysteresis rule between them. */
function oracle(
  problem: PlacementProblem,
  options: PlacementOptions,
): { chosen: number[][]; fraction: number } {
  const prepared = preparePlacement(problem, options);
  const v = prepared.variants.length;
  const subsets = Array.from({ length: 2 ** v }, (_, mask) =>
    prepared.variants.map((_, vi) => vi).filter((vi) => (mask & (1 << vi)) !== 0),
  );
  const held = prepared.nodes.map((_, ni) => [
    ...new Set([...(prepared.pinned[ni] ?? []), ...(prepared.current[ni] ?? [])]),
  ]);
  let best: Candidate | undefined;
  let keeping: Candidate | undefined;
  const better = (a: Candidate, b: Candidate | undefined): boolean =>
    b === undefined ||
    compareScores(a.score, b.score) > 0 ||
    (compareScores(a.score, b.score) === 0 && earlier(prepared, a.chosen, b.chosen));
  const chosen: number[][] = [];
  const walk = (ni: number): void => {
    if (ni === prepared.nodes.length) {
      if (!feasible(prepared, options, chosen)) return;
      const fraction = servedFraction(prepared, chosen);
      const candidate = {
        chosen: chosen.map((s) => [...s]),
        fraction,
        score: {
          key: valueKey(fraction),
          changes: chosen.reduce((s, set, i) => s + nodeChanges(prepared.current[i] ?? [], set), 0),
          size: chosen.reduce((s, set) => s + set.length, 0),
        },
      };
      if (better(candidate, best)) best = candidate;
      const removesNothing = held.every((set, i) => set.every((vi) => chosen[i]?.includes(vi)));
      if (removesNothing && better(candidate, keeping)) keeping = candidate;
      return;
    }
    for (const set of subsets) {
      chosen[ni] = set;
      walk(ni + 1);
    }
  };
  walk(0);
  const found = best ?? { chosen: [], fraction: 0 };
  if (
    keeping !== undefined &&
    valueKey(found.fraction) - valueKey(keeping.fraction) <= valueKey(options.hysteresisMargin)
  ) {
    return keeping;
  }
  return found;
}

/** The final tie-break: node by node in name order, each node's choice in its own order. */
function earlier(
  prepared: PreparedPlacement,
  a: readonly (readonly number[])[],
  b: readonly (readonly number[])[],
): boolean {
  for (let ni = 0; ni < prepared.nodes.length; ni++) {
    const c = compareNodeChoice(prepared.current[ni] ?? [], a[ni] ?? [], b[ni] ?? []);
    if (c !== 0) return c < 0;
  }
  return false;
}

describe('placement against the exhaustive oracle', () => {
  it('chooses the placement the oracle chooses (value, tie-breaks, hysteresis)', () => {
    fc.assert(
      fc.property(placementProblemArb(3, 4), placementOptionsArb, (problem, options) => {
        const decision = placeModels(problem, options);
        const expected = oracle(problem, options);
        const prepared = preparePlacement(problem, options);
        expect(decision.optimal).toBe(true);
        expect(decision.placement).toEqual(placedPairs(prepared, expected.chosen));
        expect(decision.servedFraction).toBe(expected.fraction);
      }),
      { numRuns: Math.ceil(RUNS / 4) },
    );
  });

  it('returns feasible placements whose pins hold, and whose diff leads from current to it', () => {
    fc.assert(
      fc.property(placementProblemArb(4, 6), placementOptionsArb, (problem, options) => {
        const decision = placeModels(problem, options);
        const prepared = preparePlacement(problem, options);
        const index = new Map(prepared.variants.map((v, i) => [`${v.name}/${v.quantization}`, i]));
        const chosen = prepared.nodes.map((n) =>
          decision.placement
            .filter((p) => p.node === n.name)
            .map((p) => index.get(`${p.model}/${p.quantization}`) ?? -1),
        );
        expect(feasible(prepared, options, chosen)).toBe(true);
        expect(decision.servedFraction).toBeGreaterThanOrEqual(0);
        expect(decision.servedFraction).toBeLessThanOrEqual(1 + 1e-9);
        const key = (p: { node: string; model: string; quantization: string }): string =>
          `${p.node}/${p.model}/${p.quantization}`;
        const after = new Set(problem.current.map(key));
        for (const p of decision.removed) after.delete(key(p));
        for (const p of decision.added) after.add(key(p));
        expect([...after].sort()).toEqual(decision.placement.map(key).sort());
      }),
      { numRuns: Math.ceil(RUNS / 4) },
    );
  });

  it('does not move again when asked again with its own decision as the current placement', () => {
    fc.assert(
      fc.property(placementProblemArb(4, 6), placementOptionsArb, (problem, options) => {
        const first = placeModels(problem, options);
        const second = placeModels({ ...problem, current: first.placement }, options);
        expect(second.placement).toEqual(first.placement);
        expect(second.added).toEqual([]);
        expect(second.removed).toEqual([]);
      }),
      { numRuns: Math.ceil(RUNS / 4) },
    );
  });

  it('returns a feasible placement, never better than the exact one, when the budget runs out', () => {
    fc.assert(
      fc.property(
        placementProblemArb(4, 6),
        placementOptionsArb,
        fc.integer({ min: 0, max: 30 }),
        (problem, options, maxEvaluations) => {
          const exact = placeModels(problem, options);
          const limited = placeModels(problem, { ...options, maxEvaluations });
          expect(limited.evaluations).toBeLessThanOrEqual(maxEvaluations);
          expect(limited.bestServedFraction).toBeLessThanOrEqual(exact.bestServedFraction + 1e-9);
          // The reported bound is proven: no placement serves more.
          expect(limited.upperBoundServedFraction).toBeGreaterThanOrEqual(
            exact.bestServedFraction - 1e-9,
          );
          if (limited.optimal) expect(limited.placement).toEqual(exact.placement);
        },
      ),
      { numRuns: Math.ceil(RUNS / 4) },
    );
  });
});

describe('the served flow', () => {
  /** Max flow = min cut: over every set X of classes left on the source side, the classes outside
   * X are cut at the source and every node serving a class in X at the sink. */
  function minCut(supply: number[], capacity: number[], serves: number[][]): number {
    let best = Infinity;
    for (let mask = 0; mask < 2 ** supply.length; mask++) {
      let cut = 0;
      supply.forEach((s, c) => {
        if ((mask & (1 << c)) === 0) cut += s;
      });
      serves.forEach((list, n) => {
        if (list.some((c) => (mask & (1 << c)) !== 0)) cut += capacity[n] ?? 0;
      });
      best = Math.min(best, cut);
    }
    return best;
  }

  it('equals the minimum cut', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 7 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 5 }),
        fc.array(fc.array(fc.nat(6), { maxLength: 7 }), { maxLength: 5 }),
        (supply, capacity, rawServes) => {
          const serves = capacity.map((_, n) =>
            [...new Set(rawServes[n] ?? [])].filter((c) => c < supply.length),
          );
          expect(maxServedFlow(supply, capacity, serves)).toBeCloseTo(
            minCut(supply, capacity, serves),
            9,
          );
        },
      ),
      { numRuns: RUNS },
    );
  });
});
