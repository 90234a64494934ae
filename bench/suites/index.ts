// Every benchmark suite `make bench` runs, in order.
import type { BenchSuite } from '../suite.js';

export const SUITES: readonly BenchSuite[] = [];
