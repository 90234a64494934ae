// One cold decision: `node dist/bench/cold/solve.js <policy> <n> <seed> <padding> <budgetMs>
// [objective]` solves the solver bench's instance (n, seed) once with `policy` under a time
// budget, in this fresh process, and prints {wallMs, cpuMs, optimal, requests, tokens}.
import { performance } from 'node:perf_hooks';
import type { Objective, Padding } from '../../src/core/model/types.js';
import { schedule } from '../../src/core/scheduler/schedule.js';
import type { Policy } from '../../src/core/scheduler/types.js';
import { measure } from '../cold.js';
import { solverBenchInstance } from '../solver-instances.js';

const [policy, n, seed, padding, budgetMs, objective] = process.argv.slice(2);
const instance = solverBenchInstance(
  Number(n),
  Number(seed),
  padding as Padding,
  objective as Objective | undefined,
);
const run = measure(() =>
  schedule(instance, policy as Policy, {
    budget: { maxSeconds: Number(budgetMs) / 1000, clock: () => performance.now() / 1000 },
  }),
);
const r = run.result;
process.stdout.write(
  `${JSON.stringify({ wallMs: run.wallMs, cpuMs: run.cpuMs, optimal: r.optimal, requests: r.requests, tokens: r.tokens })}\n`,
);
