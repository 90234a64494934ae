// Single-node scheduling instances for the solver bench and its cold runs: `n` requests drawn
// from the default simulation scenario (7B FP16 on a 24 GB node, deadlines 1-6 s), so memory
// and latency both bind; `padding` and `objective` override the scenario's (static, requests).
import type { Objective, Padding } from '../src/core/model/types.js';
import { createRng } from '../src/core/random.js';
import type { ScheduleInstance } from '../src/core/scheduler/types.js';
import { DEFAULT_SCHEDULING_SCENARIO as scenario } from '../src/sim/scheduling-scenario.js';
import { drawRequests, scenarioInstance, variantsOf } from '../src/sim/scheduling-experiment.js';

/** The instance of `n` requests with this seed: the same in every process. */
export function solverBenchInstance(
  n: number,
  seed: number,
  padding?: Padding,
  objective?: Objective,
): ScheduleInstance {
  const [model] = variantsOf(scenario);
  if (!model) throw new Error('the scenario has no variant');
  const requests = drawRequests(scenario, n, createRng(seed));
  return scenarioInstance(scenario, model, requests, {
    ...(padding === undefined ? {} : { padding }),
    ...(objective === undefined ? {} : { objective }),
  });
}
