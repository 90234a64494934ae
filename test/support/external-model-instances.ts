// Random single-node instances within what the external model (bench/external/) states: the
// property-test instances of instances.ts with `flops` compute, `linear` links and no split
// requests; both paddings, both objectives, batch-size limits, ineligible and over-long requests.
import type fc from 'fast-check';
import type { ScheduleInstance } from '../../src/core/scheduler/types.js';
import { instanceArb, optionsWith } from './instances.js';

export function externalModelInstanceArb(
  minN: number,
  maxN: number,
): fc.Arbitrary<ScheduleInstance> {
  const options = optionsWith(['linear']).map((o) => ({ ...o, compute: 'flops' as const }));
  return instanceArb(minN, maxN, options).map((instance) => ({
    ...instance,
    requests: instance.requests.map(({ serverComputeFraction: _split, ...demand }) => demand),
  }));
}
