// Every benchmark suite `make bench` runs, in order.
import type { BenchSuite } from '../suite.js';
import { runtimeSuite } from './runtime.js';

export const SUITES: readonly BenchSuite[] = [runtimeSuite];
