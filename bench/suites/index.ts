// Every benchmark suite `make bench` runs, in order.
import type { BenchSuite } from '../suite.js';
import { agentSuite } from './agent.js';

export const SUITES: readonly BenchSuite[] = [agentSuite];
