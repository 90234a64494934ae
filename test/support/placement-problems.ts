// fast-check generators of placement problems whose constraints bind: a node holds zero to a few
// variants, one request alone takes a fraction to a multiple of its deadline, and the demand's
// work is of the order of the nodes' compute. Small enough for the exhaustive oracle.
import fc from 'fast-check';
import type { ModelVariant } from '../../src/core/model/types.js';
import type {
  DemandClass,
  PlacedVariant,
  PlacementNode,
  PlacementOptions,
  PlacementProblem,
} from '../../src/core/placement/types.js';

const QUANTIZATIONS = [
  { quantization: 'F16', weightBits: 16, perplexityIncrease: 0 },
  { quantization: 'Q8_0', weightBits: 8.5, perplexityIncrease: 0.1 },
  { quantization: 'Q4_K_M', weightBits: 4.8, perplexityIncrease: 1.2 },
] as const;

/** A ~40M-parameter decoder: 8 layers, hidden 512 (KV 16 KiB per token at 16 bits). */
function variantsOf(model: string, count: number, basePerplexity: number): ModelVariant[] {
  return QUANTIZATIONS.slice(0, count).map((q) => ({
    name: model,
    quantization: q.quantization,
    layers: 8,
    hiddenSize: 512,
    ffnSize: 1376,
    kvWidth: 256,
    parameters: 41_000_000,
    weightBits: q.weightBits,
    kvBits: 16,
    computeFactor: 1,
    perplexity: basePerplexity + q.perplexityIncrease,
  }));
}

const nodeArb = (name: string): fc.Arbitrary<PlacementNode> =>
  fc.record({
    name: fc.constant(name),
    resources: fc.record({
      memoryBytes: fc.integer({ min: 30_000_000, max: 300_000_000 }),
      computeFlops: fc.double({ min: 5e9, max: 2e11, noNaN: true }),
      utilization: fc.constantFrom(0.5, 1),
    }),
  });

const classArb = (id: string, models: readonly string[]): fc.Arbitrary<DemandClass> =>
  fc.record({
    id: fc.constant(id),
    // A model nobody declared now and then (its demand can never be served).
    model: fc.oneof(
      { weight: 9, arbitrary: fc.constantFrom(...models) },
      { weight: 1, arbitrary: fc.constant('unknown-model') },
    ),
    promptTokens: fc.integer({ min: 8, max: 400 }),
    maxTokens: fc.integer({ min: 8, max: 400 }),
    latencyBudgetSeconds: fc.integer({ min: 1, max: 300 }).map((tenths) => tenths / 10),
    maxPerplexityIncrease: fc.constantFrom(0, 0.05, 0.5, 2),
    pending: fc.integer({ min: 0, max: 30 }),
    arrivalsPerSecond: fc.constantFrom(0, 0.1, 0.5, 2, 5, 20),
  });

export const placementOptionsArb: fc.Arbitrary<PlacementOptions> = fc.record({
  horizonSeconds: fc.constantFrom(10, 60),
  kvReserveTokens: fc.constantFrom(512, 1024, 4096, 4096),
  targetUtilization: fc.constantFrom(0.5, 0.8, 1),
  hysteresisMargin: fc.constantFrom(0, 0.05, 0.2),
  maxEvaluations: fc.constant(1_000_000),
});

/** Up to `maxNodes` nodes and `maxVariants` variants in all (over one or two models). */
export function placementProblemArb(
  maxNodes: number,
  maxVariants: number,
): fc.Arbitrary<PlacementProblem> {
  return fc
    .record({
      nodeCount: fc.integer({ min: 1, max: maxNodes }),
      first: fc.integer({ min: 1, max: Math.min(3, maxVariants) }),
      second: fc.integer({ min: 0, max: Math.min(3, maxVariants - 1) }),
      classCount: fc.integer({ min: 1, max: 5 }),
      perplexity: fc.double({ min: 5, max: 20, noNaN: true }),
    })
    .chain(({ nodeCount, first, second, classCount, perplexity }) => {
      const secondCount = Math.min(second, maxVariants - first);
      const variants = [
        ...variantsOf('alpha', first, perplexity),
        ...variantsOf('beta', secondCount, perplexity + 3),
      ];
      const models = secondCount > 0 ? ['alpha', 'beta'] : ['alpha'];
      const names = Array.from({ length: nodeCount }, (_, i) => `node-${i}`);
      const pairArb: fc.Arbitrary<PlacedVariant> = fc
        .record({
          node: fc.constantFrom(...names, 'gone-node'),
          variant: fc.constantFrom(...variants),
        })
        .map(({ node, variant }) => ({
          node,
          model: variant.name,
          quantization: variant.quantization,
        }));
      return fc.record({
        // Some nodes alike (the same device model twice), so the search's symmetry rule runs.
        nodes: fc
          .tuple(
            fc.tuple(...names.map(nodeArb)),
            fc.array(fc.boolean(), { minLength: nodeCount, maxLength: nodeCount }),
          )
          .map(([list, twin]) =>
            list.map((node, i) => {
              const previous = list[i - 1];
              return twin[i] === true && previous !== undefined
                ? { ...node, resources: previous.resources }
                : node;
            }),
          ),
        variants: fc.constant(variants),
        demand: fc.tuple(
          ...Array.from({ length: classCount }, (_, i) => classArb(`class-${i}`, models)),
        ),
        pins: fc.array(pairArb, { maxLength: 2 }),
        current: fc.array(pairArb, { maxLength: 4 }),
      });
    });
}
