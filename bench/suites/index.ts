// Every benchmark suite `make bench` runs, in order.
import type { BenchSuite } from '../suite.js';
import { agentSuite } from './agent.js';
import { calibrationSuite } from './calibration.js';
import { openaiSuite } from './openai.js';
import { operatorSuite } from './operator.js';
import { operatorScenariosSuite } from './operator-scenarios.js';
import { pendingSuite } from './pending.js';
import { placementSuite } from './placement.js';
import { plannerSuite } from './planner.js';
import { runtimeSuite } from './runtime.js';
import { soakSuite } from './soak.js';
import { solverSuite } from './solver.js';

export const SUITES: readonly BenchSuite[] = [
  solverSuite,
  plannerSuite,
  placementSuite,
  runtimeSuite,
  calibrationSuite,
  agentSuite,
  operatorSuite,
  openaiSuite,
  soakSuite,
  pendingSuite,
  operatorScenariosSuite,
];
