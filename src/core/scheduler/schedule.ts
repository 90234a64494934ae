// One entry point for every single-node policy.
import type { Random } from '../random.js';
import { baseline } from './baselines.js';
import { bruteForce } from './bruteforce.js';
import { dftsp } from './dftsp.js';
import { sweep } from './sweep/index.js';
import {
  POLICY,
  type Policy,
  type ScheduleInstance,
  type ScheduleResult,
  type SearchBudget,
} from './types.js';

export interface ScheduleOptions {
  readonly budget?: SearchBudget;
  /** Seeded random source for policy `random`. */
  readonly rng?: Random;
}

export function schedule(
  instance: ScheduleInstance,
  policy: Policy,
  options: ScheduleOptions = {},
): ScheduleResult {
  switch (policy) {
    case POLICY.dftsp:
      return dftsp(instance, options.budget);
    case POLICY.sweep:
      return sweep(instance, options.budget);
    case POLICY.bruteforce:
      return bruteForce(instance);
    default:
      return baseline(policy, instance, options.rng);
  }
}
