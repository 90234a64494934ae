// Instances the sweep once got wrong or that pin a boundary of its argument, each checked
// against the brute-force oracle (the property tests draw far more; these stay fixed).
import { describe, expect, it } from '@jest/globals';
import { bruteForce } from '../../../../src/core/scheduler/bruteforce.js';
import { sweep } from '../../../../src/core/scheduler/sweep/index.js';
import type { ScheduleInstance } from '../../../../src/core/scheduler/types.js';
import type { CostOptions, ModelVariant, NodeResources } from '../../../../src/core/model/types.js';
import { assertFeasible, objectiveKey } from '../../../support/schedule-checks.js';

const STATIC_FLOPS: CostOptions = {
  padding: 'static',
  compute: 'flops',
  communication: 'linear',
  bitsPerToken: 16,
  objective: 'requests',
};

function request(
  id: string,
  promptTokens: number,
  maxTokens: number,
  latencyBudgetSeconds: number,
  up: number,
  down: number,
): ScheduleInstance['requests'][number] {
  return {
    id,
    promptTokens,
    maxTokens,
    latencyBudgetSeconds,
    maxPerplexityIncrease: 0,
    uplinkSpectralEfficiency: up,
    downlinkSpectralEfficiency: down,
  };
}

/** A one-layer toy decoder; `kvWidth` and the bits set its footprint. */
function toyModel(over: Partial<ModelVariant>): ModelVariant {
  return {
    name: 'm',
    quantization: 'Q8',
    layers: 1,
    hiddenSize: 16,
    ffnSize: 32,
    kvWidth: 16,
    parameters: 3072,
    weightBits: 8,
    kvBits: 8,
    computeFactor: 1,
    perplexity: 5,
    ...over,
  };
}

/** A node of 1 GFLOP/s and 10 kHz links with the given memory. */
function toyInstance(
  model: ModelVariant,
  memoryBytes: number,
  utilization: number,
  requests: ScheduleInstance['requests'],
): ScheduleInstance {
  const node: NodeResources = {
    memoryBytes,
    computeFlops: 1e9,
    utilization,
    uplinkBandwidthHz: 1e4,
    downlinkBandwidthHz: 1e4,
  };
  return { node, model, bestPerplexity: model.perplexity, requests, options: STATIC_FLOPS };
}

function expectOptimal(instance: ScheduleInstance, size: number): void {
  const found = sweep(instance);
  expect(found.optimal).toBe(true);
  expect(objectiveKey(instance, found)).toEqual(objectiveKey(instance, bruteForce(instance)));
  expect(found.requests).toBe(size);
  assertFeasible(instance, found);
}

describe('the sweep on fixed instances', () => {
  it('finds a pair when the cell holds more members than the pair (the k-batch check summed more than k terms)', () => {
    // Shrunk by fast-check from the tie generator. The cell (64, 4) holds all three requests;
    // the batch check for k = 2 summed the terms of all three (its heap kept the first size it
    // was built with) and found no pair, although r0 + r2 meet r2's deadline.
    const model = toyModel({ quantization: 'Q4', weightBits: 4, computeFactor: 0.5 });
    const instance = toyInstance(model, 5888, 0.2, [
      request('r0', 8, 4, 0.11826432, 1, 1),
      request('r1', 64, 4, 0.34287744, 1, 1),
      request('r2', 64, 4, 0.07498496, 4, 1),
    ]);
    expectOptimal(instance, 2);
  });

  it('finds a batch whose longest prompt and longest output come from different members, at the memory boundary', () => {
    // Three members padded to (64, 32) use exactly the node's 7680 bytes (3072 of weights and
    // 3 x 96 tokens of 16 bytes): the cell is a pair of lengths, not a member.
    const model = toyModel({ kvWidth: 8 });
    const instance = toyInstance(model, 7680, 0.5, [
      request('r0', 64, 4, 0.543, 3, 3),
      request('r1', 64, 4, 0.817, 1, 2),
      request('r2', 8, 32, 0.708, 3, 1),
    ]);
    expectOptimal(instance, 3);
    expect(sweep(instance).memoryBytes).toBe(7680);
  });
});
