// Placement on hand-made cases whose answer is known: accuracy bounds pick the variant, load
// spreads replicas, hysteresis holds until the gain passes the margin, pins and unservable
// demand come back with their reasons.
import { describe, expect, it } from '@jest/globals';
import type { ModelVariant } from '../../../../src/core/model/types.js';
import { placeModels } from '../../../../src/core/placement/place.js';
import {
  PIN_PROBLEM,
  PLACEMENT_DEFAULTS,
  UNSERVABLE,
  type DemandClass,
  type PlacementNode,
  type PlacementProblem,
} from '../../../../src/core/placement/types.js';

/** 41M parameters, 8 layers: F16 weighs 82 MB, Q4_K_M 24.6 MB; a 4096-token KV reserve 33.6 MB. */
function variant(quantization: string, weightBits: number, perplexity: number): ModelVariant {
  return {
    name: 'llm',
    quantization,
    layers: 8,
    hiddenSize: 512,
    ffnSize: 1376,
    kvWidth: 256,
    parameters: 41_000_000,
    weightBits,
    kvBits: 16,
    computeFactor: 1,
    perplexity,
  };
}
const F16 = variant('F16', 16, 10);
const Q4 = variant('Q4_K_M', 4.8, 11);

function node(name: string, memoryBytes: number, computeFlops = 1e13): PlacementNode {
  return { name, resources: { memoryBytes, computeFlops, utilization: 0.5 } };
}
/** Holds F16 and Q4 together (116 + 58 MB). */
const big = node('big', 200e6);
/** Holds Q4 only. */
const small = node('small', 60e6);

function demand(id: string, patch: Partial<DemandClass> = {}): DemandClass {
  return {
    id,
    model: 'llm',
    promptTokens: 256,
    maxTokens: 256,
    latencyBudgetSeconds: 10,
    maxPerplexityIncrease: 2,
    pending: 0,
    arrivalsPerSecond: 1,
    ...patch,
  };
}

function problem(patch: Partial<PlacementProblem>): PlacementProblem {
  return { nodes: [big, small], variants: [F16, Q4], demand: [], pins: [], current: [], ...patch };
}

const at = (n: string, v: ModelVariant): { node: string; model: string; quantization: string } => ({
  node: n,
  model: v.name,
  quantization: v.quantization,
});

describe('placeModels', () => {
  it('puts the best variant where a strict accuracy bound needs it, and only what serves', () => {
    const decision = placeModels(
      problem({ demand: [demand('strict', { maxPerplexityIncrease: 0 })] }),
    );
    expect(decision.placement).toEqual([at('big', F16)]);
    expect(decision.servedFraction).toBe(1);
    expect(decision.optimal).toBe(true);
  });

  it('adds a replica when one node cannot compute the demand', () => {
    // One request is ~20 GFLOP; each node plans 0.5 * 0.8 * 1e11 = 40 GFLOP/s: 2 requests/s.
    const slow = [node('a', 60e6, 1e11), node('b', 60e6, 1e11)];
    const light = placeModels(
      problem({ nodes: slow, demand: [demand('d', { arrivalsPerSecond: 1 })] }),
    );
    expect(light.placement).toEqual([at('a', Q4)]);
    const heavy = placeModels(
      problem({ nodes: slow, demand: [demand('d', { arrivalsPerSecond: 3 })] }),
    );
    expect(heavy.placement).toEqual([at('a', Q4), at('b', Q4)]);
    expect(heavy.servedFraction).toBe(1);
  });

  it('keeps a running variant until removing it gains more than the margin', () => {
    // mid holds F16 or Q4, not both: serving the strict class means removing Q4.
    const mid = node('mid', 150e6);
    const current = [at('mid', Q4)];
    const mix = (strictShare: number): DemandClass[] => [
      demand('strict', { maxPerplexityIncrease: 0, arrivalsPerSecond: strictShare }),
      demand('loose', { arrivalsPerSecond: 1 - strictShare }),
    ];
    const small3 = placeModels(problem({ nodes: [mid], current, demand: mix(0.03) }));
    expect(small3.kept).toBe(true);
    expect(small3.placement).toEqual(current);
    expect(small3.servedFraction).toBeCloseTo(0.97, 9);
    expect(small3.bestServedFraction).toBe(1);

    const big10 = placeModels(problem({ nodes: [mid], current, demand: mix(0.1) }));
    expect(big10.kept).toBe(false);
    expect(big10.placement).toEqual([at('mid', F16)]);
    expect(big10.added).toEqual([at('mid', F16)]);
    expect(big10.removed).toEqual([at('mid', Q4)]);

    const noMargin = placeModels(problem({ nodes: [mid], current, demand: mix(0.03) }), {
      ...PLACEMENT_DEFAULTS,
      hysteresisMargin: 0,
    });
    expect(noMargin.placement).toEqual([at('mid', F16)]);
  });

  it('adds next to running variants without asking hysteresis', () => {
    // big holds both: F16 joins Q4, which stays (removing it would be a change for nothing).
    const decision = placeModels(
      problem({
        current: [at('big', Q4)],
        demand: [
          demand('strict', { maxPerplexityIncrease: 0, arrivalsPerSecond: 0.03 }),
          demand('loose', { arrivalsPerSecond: 0.97 }),
        ],
      }),
    );
    expect(decision.placement).toEqual([at('big', F16), at('big', Q4)]);
    expect(decision.added).toEqual([at('big', F16)]);
    expect(decision.removed).toEqual([]);
    expect(decision.servedFraction).toBe(1);
    expect(decision.kept).toBe(false);
  });

  it('moves off a current placement that no longer fits, whatever the margin', () => {
    const decision = placeModels(
      problem({ nodes: [node('big', 100e6)], current: [at('big', F16)], demand: [demand('d')] }),
    );
    expect(decision.placement).toEqual([at('big', Q4)]);
    expect(decision.kept).toBe(false);
  });

  it('honours pins without demand and says which pins it cannot honour', () => {
    const decision = placeModels(
      problem({
        pins: [
          at('small', Q4),
          at('small', F16),
          at('nowhere', Q4),
          { node: 'big', model: 'llm', quantization: 'Q2_K' },
        ],
      }),
    );
    expect(decision.placement).toEqual([at('small', Q4)]);
    expect(decision.unsatisfiedPins).toEqual([
      { pin: at('small', F16), problem: PIN_PROBLEM.memory },
      { pin: at('nowhere', Q4), problem: PIN_PROBLEM.unknownNode },
      {
        pin: { node: 'big', model: 'llm', quantization: 'Q2_K' },
        problem: PIN_PROBLEM.unknownVariant,
      },
    ]);
  });

  it('names why demand cannot be served anywhere', () => {
    const decision = placeModels(
      problem({
        nodes: [small],
        demand: [
          demand('ghost', { model: 'ghost' }),
          demand('strict', { maxPerplexityIncrease: 0 }),
          demand('long', { promptTokens: 4000, maxTokens: 200 }),
          demand('urgent', { latencyBudgetSeconds: 0.001 }),
          demand('fine'),
        ],
      }),
    );
    expect(decision.unservable).toEqual([
      { classId: 'ghost', reason: UNSERVABLE.noVariant },
      { classId: 'strict', reason: UNSERVABLE.memory },
      { classId: 'long', reason: UNSERVABLE.context },
      { classId: 'urgent', reason: UNSERVABLE.deadline },
    ]);
    expect(decision.placement).toEqual([at('small', Q4)]);
  });

  it('starts cold from the greedy placement when the budget allows no search, and keeps nothing', () => {
    const decision = placeModels(problem({ demand: [demand('d')] }), {
      ...PLACEMENT_DEFAULTS,
      maxEvaluations: 0,
    });
    expect(decision.optimal).toBe(false);
    expect(decision.kept).toBe(false);
    expect(decision.placement).toEqual([at('big', F16)]);
    expect(decision.upperBoundServedFraction).toBe(1);
  });

  it('places nothing without demand, pins or a current placement', () => {
    const decision = placeModels(problem({}));
    expect(decision.placement).toEqual([]);
    expect(decision.demandFlopsPerSecond).toBe(0);
    expect(decision.servedFraction).toBe(0);
  });
});
