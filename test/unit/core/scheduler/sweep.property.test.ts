// Property tests of the sweep (src/core/scheduler/sweep/) against the brute-force oracle and
// DFTSP, on random instances with every cost option, both padding modes and both objectives.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { createRng } from '../../../../src/core/random.js';
import { bruteForce } from '../../../../src/core/scheduler/bruteforce.js';
import { dftsp } from '../../../../src/core/scheduler/dftsp.js';
import { sweep } from '../../../../src/core/scheduler/sweep/index.js';
import {
  drawRequests,
  scenarioInstance,
  variantsOf,
} from '../../../../src/sim/scheduling-experiment.js';
import { DEFAULT_SCHEDULING_SCENARIO } from '../../../../src/sim/scheduling-scenario.js';
import type { ScheduleInstance, ScheduleResult } from '../../../../src/core/scheduler/types.js';
import {
  instanceArb,
  optionsArb,
  optionsWith,
  tiedRequestArb,
} from '../../../support/instances.js';
import { assertFeasible, atMost, objectiveKey } from '../../../support/schedule-checks.js';

const RUNS = Number(process.env.EDGELLM_PROPERTY_RUNS ?? 2000);

/** The sweep proves a batch as good as `reference` (an optimal result), and it is feasible. */
function matchesReference(instance: ScheduleInstance, reference: ScheduleResult): void {
  const found = sweep(instance);
  expect(found.policy).toBe('sweep');
  expect(found.optimal).toBe(true);
  expect(objectiveKey(instance, found)).toEqual(objectiveKey(instance, reference));
  assertFeasible(instance, found);
}

function matchesOracle(instance: ScheduleInstance): void {
  matchesReference(instance, bruteForce(instance));
}

describe('the sweep against brute force', () => {
  it('finds a batch as good as brute force (size then tokens, or tokens then size), every option', () => {
    fc.assert(fc.property(instanceArb(0, 10, optionsArb), matchesOracle), { numRuns: RUNS });
  });

  it('does so when prompts, outputs, deadlines and links tie', () => {
    fc.assert(fc.property(instanceArb(0, 11, optionsArb, tiedRequestArb), matchesOracle), {
      numRuns: RUNS,
    });
  });

  it('covers both padding modes and both objectives (the generator draws all four)', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(instanceArb(1, 6, optionsWith(['linear'])), (instance) => {
        seen.add(`${instance.options.padding}/${instance.options.objective}`);
      }),
      { numRuns: 200 },
    );
    expect([...seen].sort()).toEqual([
      'ragged/requests',
      'ragged/tokens',
      'static/requests',
      'static/tokens',
    ]);
  });
});

describe('the sweep against DFTSP', () => {
  it('agrees with DFTSP where brute force is too slow (12 to 18 candidates)', () => {
    fc.assert(
      fc.property(instanceArb(12, 18, optionsWith(['linear'])), (instance) => {
        const reference = dftsp(instance);
        expect(reference.optimal).toBe(true);
        matchesReference(instance, reference);
      }),
      { numRuns: Math.ceil(RUNS / 8) },
    );
  });

  it('agrees with DFTSP on the simulator scenario, static and ragged, both objectives', () => {
    const scenario = DEFAULT_SCHEDULING_SCENARIO;
    const [model] = variantsOf(scenario);
    if (!model) throw new Error('the scenario has no variant');
    fc.assert(
      fc.property(
        fc.integer({ min: 4, max: 20 }),
        fc.integer(),
        fc.constantFrom('static' as const, 'ragged' as const),
        fc.constantFrom('requests' as const, 'tokens' as const),
        (n, seed, padding, objective) => {
          const instance = scenarioInstance(
            scenario,
            model,
            drawRequests(scenario, n, createRng(seed)),
            {
              padding,
              objective,
            },
          );
          matchesReference(instance, dftsp(instance));
        },
      ),
      { numRuns: Math.ceil(RUNS / 10) },
    );
  });
});

describe('the sweep at 16-32 requests of the simulator scenario', () => {
  // Large enough that the bounds prune: the Lagrangian bound under ragged padding (fixed-size.ts:
  // the tie-break of objective requests, and objective tokens), the condition scan and the
  // per-candidate size limits under static padding (static-bound.ts, static-context.ts). A bound
  // that is too low loses the optimum.
  it.each([
    ['ragged', 'requests'],
    ['static', 'requests'],
    ['ragged', 'tokens'],
  ] as const)('agrees with DFTSP under %s padding, objective %s', (padding, objective) => {
    const scenario = DEFAULT_SCHEDULING_SCENARIO;
    const [model] = variantsOf(scenario);
    if (!model) throw new Error('the scenario has no variant');
    fc.assert(
      fc.property(
        fc.integer({ min: 16, max: padding === 'ragged' ? 32 : 22 }),
        fc.integer(),
        (n, seed) => {
          const instance = scenarioInstance(
            scenario,
            model,
            drawRequests(scenario, n, createRng(seed)),
            { padding, objective },
          );
          const reference = dftsp(instance, { maxNodes: 300_000 });
          fc.pre(reference.optimal);
          matchesReference(instance, reference);
        },
      ),
      { numRuns: Math.ceil(RUNS / 10) },
    );
  });
});

describe('the sweep under a budget', () => {
  it('returns a feasible incumbent, no better than the optimum, with optimal=false when the node budget runs out', () => {
    fc.assert(
      fc.property(instanceArb(4, 14), fc.integer({ min: 1, max: 60 }), (instance, maxNodes) => {
        const unbounded = sweep(instance);
        const limited = sweep(instance, { maxNodes });
        assertFeasible(instance, limited);
        const a = objectiveKey(instance, limited);
        const b = objectiveKey(instance, unbounded);
        if (limited.optimal) expect(a).toEqual(b);
        else expect(atMost(a, b)).toBe(true);
      }),
      { numRuns: Math.ceil(RUNS / 4) },
    );
  });

  it('stops on a time budget through the injected clock', () => {
    let t = 0;
    const clock = (): number => (t += 1); // every read advances one "second"
    const scenario = DEFAULT_SCHEDULING_SCENARIO;
    const [model] = variantsOf(scenario);
    if (!model) throw new Error('the scenario has no variant');
    const instance = scenarioInstance(scenario, model, drawRequests(scenario, 200, createRng(7)));
    const result = sweep(instance, { maxSeconds: 0.5, clock });
    expect(result.optimal).toBe(false);
    assertFeasible(instance, result);
  });
});
