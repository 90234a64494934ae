// The cost model keeps its inputs in one shape each (fixed-shape.ts): the same fields in the same
// order, with the caller's values, whatever order or optional fields the caller's objects have.
import { describe, expect, it } from '@jest/globals';
import { CostModel } from '../../../../src/core/model/batch.js';
import {
  COST_DEFAULTS,
  type ModelVariant,
  type NodeResources,
} from '../../../../src/core/model/types.js';

const node: NodeResources = {
  memoryBytes: 24e9,
  computeFlops: 125e12,
  utilization: 0.5,
  uplinkBandwidthHz: 10e6,
  downlinkBandwidthHz: 20e6,
};
const model: ModelVariant = {
  name: 'm',
  quantization: 'Q8_0',
  layers: 30,
  hiddenSize: 576,
  ffnSize: 1536,
  kvWidth: 192,
  parameters: 135e6,
  weightBits: 8.5,
  kvBits: 16,
  computeFactor: 1,
  perplexity: 10,
};

/** The same object with its keys in reverse order. */
function reversed<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).reverse()) as T;
}

describe('CostModel inputs in a fixed shape', () => {
  it('keeps every field, in one order, whatever order the caller built', () => {
    const a = new CostModel(node, model, COST_DEFAULTS);
    const b = new CostModel(
      reversed({ ...node, memoryBandwidthBytesPerSecond: 6e11 }),
      reversed({ ...model, sequenceTokens: 2048, maxSequences: 16 }),
      reversed({ ...COST_DEFAULTS, objective: 'tokens' as const }),
    );
    for (const key of ['node', 'model', 'options'] as const) {
      expect(Object.keys(b[key])).toEqual(Object.keys(a[key]));
    }
    expect(Object.keys(a.node)).toEqual([
      'memoryBytes',
      'computeFlops',
      'utilization',
      'memoryBandwidthBytesPerSecond',
      'uplinkBandwidthHz',
      'downlinkBandwidthHz',
    ]);
  });

  it("has the caller's values, and absent optional fields read as absent", () => {
    const cost = new CostModel(node, { ...model, sequenceTokens: 2048 }, COST_DEFAULTS);
    expect(cost.node).toEqual({ ...node, memoryBandwidthBytesPerSecond: undefined });
    expect(cost.node.memoryBandwidthBytesPerSecond).toBeUndefined();
    expect(cost.model.sequenceTokens).toBe(2048);
    expect(cost.model.maxSequences).toBeUndefined();
    expect(cost.options).toEqual({ ...COST_DEFAULTS, calibration: undefined });
  });

  it('copies a calibration, so that the caller may not change it under the model', () => {
    const calibration = {
      prefill: { fixedSeconds: 0.01, perTokenSeconds: 1e-4, perTokenSquaredSeconds: 1e-8 },
      decodeStep: { fixedSeconds: 0.02, perSequenceSeconds: 1e-3, perContextTokenSeconds: 1e-6 },
    };
    const cost = new CostModel(node, model, {
      ...COST_DEFAULTS,
      compute: 'calibrated',
      calibration,
    });
    expect(cost.options.calibration).toEqual(calibration);
    expect(cost.options.calibration).not.toBe(calibration);
  });
});
