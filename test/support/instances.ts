// fast-check generators of scheduling instances whose constraints really bind: memory fits a
// few requests, deadlines are a small multiple of one request's own latency.
import fc from 'fast-check';
import { CostModel, emptyState, addInto } from '../../src/core/model/batch.js';
import type {
  CostOptions,
  ModelVariant,
  NodeResources,
  RequestDemand,
} from '../../src/core/model/types.js';
import type { ScheduleInstance } from '../../src/core/scheduler/types.js';

export function optionsWith(
  communication: readonly CostOptions['communication'][],
): fc.Arbitrary<CostOptions> {
  return fc.record({
    padding: fc.constantFrom('static' as const, 'ragged' as const),
    compute: fc.constantFrom('flops' as const, 'roofline' as const, 'calibrated' as const),
    communication: fc.constantFrom(...communication),
    bitsPerToken: fc.constantFrom(16, 32),
    objective: fc.constantFrom('requests' as const, 'requests' as const, 'tokens' as const),
    calibration: fc.record({
      prefill: fc.record({
        fixedSeconds: fc.double({ min: 0, max: 0.05, noNaN: true }),
        perTokenSeconds: fc.double({ min: 1e-5, max: 1e-3, noNaN: true }),
        perTokenSquaredSeconds: fc.double({ min: 0, max: 1e-6, noNaN: true }),
      }),
      decodeStep: fc.record({
        fixedSeconds: fc.double({ min: 1e-3, max: 0.05, noNaN: true }),
        perSequenceSeconds: fc.double({ min: 0, max: 0.01, noNaN: true }),
        perContextTokenSeconds: fc.double({ min: 0, max: 1e-5, noNaN: true }),
      }),
    }),
  });
}

/** Every option; `linear` links twice as often as `noise-scaled` (which costs O(b) per check). */
export const optionsArb = optionsWith(['linear', 'linear', 'noise-scaled']);

const modelArb: fc.Arbitrary<ModelVariant> = fc
  .record({
    layers: fc.integer({ min: 1, max: 32 }),
    hidden: fc.integer({ min: 16, max: 512 }),
    ffnRatio: fc.constantFrom(2, 4, 8 / 3),
    gqa: fc.constantFrom(1, 2, 4),
    weightBits: fc.constantFrom(4, 8, 16),
    kvBits: fc.constantFrom(8, 16),
    computeFactor: fc.double({ min: 0.5, max: 2, noNaN: true }),
    perplexity: fc.double({ min: 5, max: 12, noNaN: true }),
    // The runtime's per-sequence context: often none, sometimes tighter than some requests.
    sequenceTokens: fc.constantFrom(undefined, undefined, 256, 512),
  })
  .map((m) => ({
    name: 'm',
    quantization: `Q${m.weightBits}`,
    layers: m.layers,
    hiddenSize: m.hidden,
    ffnSize: Math.round(m.hidden * m.ffnRatio),
    kvWidth: Math.max(1, Math.round(m.hidden / m.gqa)),
    parameters: m.layers * 12 * m.hidden * m.hidden,
    weightBits: m.weightBits,
    kvBits: m.kvBits,
    computeFactor: m.computeFactor,
    perplexity: m.perplexity,
    ...(m.sequenceTokens === undefined ? {} : { sequenceTokens: m.sequenceTokens }),
  }));

/** A request before its deadline is scaled to its own latency alone. */
export type RawRequest = typeof rawRequestArb extends fc.Arbitrary<infer T> ? T : never;

const rawRequestArb = fc.record({
  promptTokens: fc.integer({ min: 1, max: 512 }),
  maxTokens: fc.integer({ min: 1, max: 256 }),
  deadlineFactor: fc.double({ min: 0.3, max: 8, noNaN: true }),
  maxPerplexityIncrease: fc.constantFrom(0, 0.5, 1, 5, 100),
  up: fc.double({ min: 0.5, max: 8, noNaN: true }),
  down: fc.double({ min: 0.5, max: 8, noNaN: true }),
  serverComputeFraction: fc.constantFrom(undefined, 1, 0.5, 0.25),
});

/**
 * Requests drawn from a few values each, so that prompts, outputs, deadlines and link loads tie
 * often (the orders and sweeps must handle equal keys).
 */
export const tiedRequestArb: fc.Arbitrary<RawRequest> = fc.record({
  promptTokens: fc.constantFrom(8, 64, 128),
  maxTokens: fc.constantFrom(4, 32),
  deadlineFactor: fc.constantFrom(0.9, 2, 3, 6),
  maxPerplexityIncrease: fc.constantFrom(0, 100),
  up: fc.constantFrom(1, 4),
  down: fc.constantFrom(1, 4),
  serverComputeFraction: fc.constantFrom(undefined, 0.5),
});

/** An instance of `minN..maxN` requests on one node with options from `options`. */
export function instanceArb(
  minN: number,
  maxN: number,
  options: fc.Arbitrary<CostOptions> = optionsArb,
  requests: fc.Arbitrary<RawRequest> = rawRequestArb,
): fc.Arbitrary<ScheduleInstance> {
  return fc
    .record({
      model: modelArb,
      options,
      raw: fc.array(requests, { minLength: minN, maxLength: maxN }),
      memoryRequests: fc.double({ min: 0.5, max: 12, noNaN: true }),
      flops: fc.double({ min: 1e9, max: 1e13, noNaN: true }),
      utilization: fc.double({ min: 0.2, max: 1, noNaN: true }),
      memoryBandwidth: fc.double({ min: 1e9, max: 1e12, noNaN: true }),
      bandwidth: fc.double({ min: 1e4, max: 2e7, noNaN: true }),
      bestGap: fc.constantFrom(0, 0.3, 2),
      maxBatchSize: fc.constantFrom(undefined, undefined, undefined, 1, 2, 3),
    })
    .map(
      ({
        model,
        options,
        raw,
        memoryRequests,
        flops,
        utilization,
        memoryBandwidth,
        bandwidth,
        bestGap,
        maxBatchSize,
      }) => {
        const probe: NodeResources = {
          memoryBytes: Number.MAX_VALUE,
          computeFlops: flops,
          utilization,
          memoryBandwidthBytesPerSecond: memoryBandwidth,
          uplinkBandwidthHz: bandwidth,
          downlinkBandwidthHz: bandwidth,
        };
        const probeCost = new CostModel(probe, model, options);
        const avgKv =
          raw.reduce((a, r) => a + r.promptTokens + r.maxTokens, 0) / Math.max(1, raw.length);
        const node: NodeResources = {
          ...probe,
          memoryBytes: probeCost.weightBytes + probeCost.kvBytesPerToken * avgKv * memoryRequests,
        };
        const requests: RequestDemand[] = raw.map((r, i) => {
          const base = {
            id: `r${i}`,
            promptTokens: r.promptTokens,
            maxTokens: r.maxTokens,
            latencyBudgetSeconds: 1,
            maxPerplexityIncrease: r.maxPerplexityIncrease,
            uplinkSpectralEfficiency: r.up,
            downlinkSpectralEfficiency: r.down,
            ...(r.serverComputeFraction === undefined
              ? {}
              : { serverComputeFraction: r.serverComputeFraction }),
          };
          const alone = probeCost.prepare(base, i);
          const c = probeCost.evaluate(addInto(emptyState(), emptyState(), alone), [alone]);
          return { ...base, latencyBudgetSeconds: c.totalSeconds * r.deadlineFactor };
        });
        return {
          node,
          model,
          bestPerplexity: model.perplexity - bestGap,
          requests,
          options,
          ...(maxBatchSize === undefined ? {} : { maxBatchSize }),
        };
      },
    );
}
