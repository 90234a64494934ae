// The CP-SAT model of the single-node batch problem (bench/external/batch_model.py, OR-tools from
// PyPI in the pinned virtual environment) against the exhaustive oracle: on random instances
// (both paddings, both objectives, batch-size limits, ineligible and over-long requests, memory
// and deadlines that bind), CP-SAT proves an optimum, its batch passes CostModel's check, and the
// optimum equals brute force's on both objective keys. All instances go to one Python process.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { checkBatch, objectiveKey } from '../../../bench/external/comparison.js';
import { EXTERNAL_STATUS, solveWithCpSat } from '../../../bench/external/cp-sat.js';
import { externalInstance } from '../../../bench/external/instance.js';
import { bruteForce } from '../../../src/core/scheduler/bruteforce.js';
import { externalModelInstanceArb } from '../../support/external-model-instances.js';

const RUNS = Number(process.env.EDGELLM_PROPERTY_RUNS ?? 2000) / 5;

describe('CP-SAT on the batch problem', () => {
  it('proves the same optimum as brute force on random instances', async () => {
    const instances = fc.sample(externalModelInstanceArb(0, 12), { numRuns: RUNS, seed: 2405 });
    const results = await solveWithCpSat(
      instances.map((instance, i) => externalInstance(`i${i}`, instance)),
      { timeLimitSeconds: 10, workers: 1 },
    );
    const paddings = new Set<string>();
    results.forEach((result, i) => {
      const instance = instances[i];
      if (!instance) throw new Error('instance missing');
      paddings.add(instance.options.padding);
      expect([i, result.status]).toEqual([i, EXTERNAL_STATUS.optimal]);
      const checked = checkBatch(instance, result.batch);
      expect([i, checked]).toEqual([i, { requests: result.requests, tokens: result.tokens }]);
      expect([i, objectiveKey(instance, result)]).toEqual([
        i,
        objectiveKey(instance, bruteForce(instance)),
      ]);
    });
    expect(paddings).toEqual(new Set(['static', 'ragged']));
  }, 600_000);
});
