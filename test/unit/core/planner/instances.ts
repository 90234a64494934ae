// Random split-planning instances for the property tests: a profile from raw per-unit numbers,
// an SLA somewhere between "nothing fits" and "everything fits", endpoints, and a power-of-two
// time step (so that dividing by it, and halving it, is exact in floating point).
import fc from 'fast-check';
import {
  evaluatePlacement,
  LOC_CLIENT,
  LOC_SERVER,
  OUTPUT_AT,
  profileFromArrays,
  type Endpoints,
  type OutputAt,
  type SplitProfile,
} from '../../../../src/core/planner/index.js';

export interface Instance {
  readonly profile: SplitProfile;
  readonly slaSeconds: number;
  readonly ends: Endpoints;
  /** log2 of the time step. */
  readonly stepExponent: number;
}

const realCost = (max: number): fc.Arbitrary<number> =>
  fc.oneof(
    { weight: 1, arbitrary: fc.constant(0) },
    { weight: 6, arbitrary: fc.double({ min: 0, max, noNaN: true, noDefaultInfinity: true }) },
  );
const integerCost = (max: number): fc.Arbitrary<number> => fc.integer({ min: 0, max });

function instanceArbitrary(
  maxUnits: number,
  cost: (max: number) => fc.Arbitrary<number>,
  integerSla: boolean,
): fc.Arbitrary<Instance> {
  return fc.integer({ min: 1, max: maxUnits }).chain((units) =>
    fc
      .record({
        clientSeconds: fc.array(cost(10), { minLength: units, maxLength: units }),
        serverSeconds: fc.array(cost(3), { minLength: units, maxLength: units }),
        serverWorkload: fc.array(
          fc.oneof(
            fc.integer({ min: 1, max: 8 }),
            fc.double({ min: 0.01, max: 100, noNaN: true, noDefaultInfinity: true }),
          ),
          { minLength: units, maxLength: units },
        ),
        uploadSeconds: fc.array(cost(5), { minLength: units + 1, maxLength: units + 1 }),
        downloadSeconds: fc.array(cost(5), { minLength: units + 1, maxLength: units + 1 }),
        slaFraction: fc.double({ min: 0, max: 1.2, noNaN: true }),
        inputAtClient: fc.boolean(),
        outputAt: fc.constantFrom<OutputAt>(OUTPUT_AT.client, OUTPUT_AT.server, OUTPUT_AT.anywhere),
        stepExponent: integerSla ? fc.constant(0) : fc.integer({ min: -3, max: 1 }),
      })
      .map((r) => {
        const profile = profileFromArrays(r);
        const ends: Endpoints = { inputAtClient: r.inputAtClient, outputAt: r.outputAt };
        const all = (loc: number): number =>
          evaluatePlacement(profile, new Uint8Array(units).fill(loc), ends).latency.totalSeconds;
        const span = all(LOC_CLIENT) + all(LOC_SERVER);
        const sla = r.slaFraction * span;
        return {
          profile,
          slaSeconds: integerSla ? Math.floor(sla) : sla,
          ends,
          stepExponent: r.stepExponent,
        };
      }),
  );
}

/** Arbitrary real-valued costs, up to `maxUnits` units. */
export const realInstance = (maxUnits: number): fc.Arbitrary<Instance> =>
  instanceArbitrary(maxUnits, realCost, false);

/** Integer costs and SLA with a time step of 1: rounding up changes nothing. */
export const integerInstance = (maxUnits: number): fc.Arbitrary<Instance> =>
  instanceArbitrary(maxUnits, integerCost, true);
