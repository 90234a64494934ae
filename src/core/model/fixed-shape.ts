// Copies of the cost model's inputs in one fixed shape. V8 compiles the solvers' hot code for the
// hidden classes it has seen; callers build nodes, variants and options in different places, with
// different property orders and optional fields present or absent, and each new shape at a hot
// property load throws optimised code away (a "wrong map" deoptimisation) and runs the solver in
// the interpreter again. The cost model keeps these copies instead of the caller's objects, so
// its code sees one shape per input whoever built the instance: the start-up warm-up
// (scheduler/warm-up.ts) then warms the code the real decisions run. Every field is present, in
// declaration order; the values are the caller's.
//
// A shape is also its fields' representations: a field V8 first saw holding small integers is
// re-shaped (and the code using it deoptimised) when a fraction arrives, one that held only
// `undefined` when a number does. So the module builds each shape once at load with the most
// general values, a fraction in every number field and an optional field both present and
// absent, after which no caller's values change it (seedShapes below).
import type { LatencyCoefficients } from './calibration.js';
import type { CostOptions, ModelVariant, NodeResources } from './types.js';

// An absent optional field is copied as present and undefined: the same hidden class with and
// without it. exactOptionalPropertyTypes tells `x?: number` from `x: number | undefined`, so each
// copy is asserted to its interface; reading the field gives `undefined` either way.

export function fixedShapeNode(n: NodeResources): NodeResources {
  return {
    memoryBytes: n.memoryBytes,
    computeFlops: n.computeFlops,
    utilization: n.utilization,
    memoryBandwidthBytesPerSecond: n.memoryBandwidthBytesPerSecond,
    uplinkBandwidthHz: n.uplinkBandwidthHz,
    downlinkBandwidthHz: n.downlinkBandwidthHz,
  } as NodeResources;
}

export function fixedShapeModel(m: ModelVariant): ModelVariant {
  return {
    name: m.name,
    quantization: m.quantization,
    layers: m.layers,
    hiddenSize: m.hiddenSize,
    ffnSize: m.ffnSize,
    kvWidth: m.kvWidth,
    parameters: m.parameters,
    weightBits: m.weightBits,
    kvBits: m.kvBits,
    computeFactor: m.computeFactor,
    perplexity: m.perplexity,
    sequenceTokens: m.sequenceTokens,
    maxSequences: m.maxSequences,
  } as ModelVariant;
}

export function fixedShapeCoefficients(c: LatencyCoefficients): LatencyCoefficients {
  return {
    prefill: {
      fixedSeconds: c.prefill.fixedSeconds,
      perTokenSeconds: c.prefill.perTokenSeconds,
      perTokenSquaredSeconds: c.prefill.perTokenSquaredSeconds,
    },
    decodeStep: {
      fixedSeconds: c.decodeStep.fixedSeconds,
      perSequenceSeconds: c.decodeStep.perSequenceSeconds,
      perContextTokenSeconds: c.decodeStep.perContextTokenSeconds,
    },
  };
}

export function fixedShapeOptions(o: CostOptions): CostOptions {
  return {
    padding: o.padding,
    compute: o.compute,
    communication: o.communication,
    bitsPerToken: o.bitsPerToken,
    objective: o.objective,
    calibration: o.calibration === undefined ? undefined : fixedShapeCoefficients(o.calibration),
  } as CostOptions;
}

/** Builds each shape with the most general field values (see the top of the file). */
function seedShapes(): void {
  const x = 0.5;
  const coefficients: LatencyCoefficients = {
    prefill: { fixedSeconds: x, perTokenSeconds: x, perTokenSquaredSeconds: x },
    decodeStep: { fixedSeconds: x, perSequenceSeconds: x, perContextTokenSeconds: x },
  };
  const node: NodeResources = {
    memoryBytes: x,
    computeFlops: x,
    utilization: x,
    uplinkBandwidthHz: x,
    downlinkBandwidthHz: x,
  };
  const model: ModelVariant = {
    name: 'seed',
    quantization: 'seed',
    layers: x,
    hiddenSize: x,
    ffnSize: x,
    kvWidth: x,
    parameters: x,
    weightBits: x,
    kvBits: x,
    computeFactor: x,
    perplexity: x,
  };
  const options: CostOptions = {
    padding: 'static',
    compute: 'flops',
    communication: 'linear',
    bitsPerToken: x,
    objective: 'requests',
  };
  for (const present of [true, false]) {
    fixedShapeNode(present ? { ...node, memoryBandwidthBytesPerSecond: x } : node);
    fixedShapeModel(present ? { ...model, sequenceTokens: x, maxSequences: x } : model);
    fixedShapeOptions(present ? { ...options, calibration: coefficients } : options);
  }
}
seedShapes();
