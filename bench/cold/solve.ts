// One cold decision: `node dist/bench/cold/solve.js <policy> <n> <seed> <padding> <budgetMs>
// [objective] [warmed]` solves the solver bench's instance (n, seed) once with `policy` under a
// time budget, in this fresh process, and prints {wallMs, cpuMs, optimal, requests, tokens, ...}.
// With `warmed`, the process first runs the start-up warm-up the operator runs
// (src/core/scheduler/warm-up.ts: synthetic instances, none of them the measured one), for
// `policy`, and reports its time as warmUpMs; the measured decision is then its first real one.
import { performance } from 'node:perf_hooks';
import type { Objective, Padding } from '../../src/core/model/types.js';
import { schedule } from '../../src/core/scheduler/schedule.js';
import type { Policy } from '../../src/core/scheduler/types.js';
import { warmUpSolvers } from '../../src/core/scheduler/warm-up.js';
import { measure } from '../cold.js';
import { solverBenchInstance } from '../solver-instances.js';

const [policy, n, seed, padding, budgetMs, objective, warmed] = process.argv.slice(2);
const clock = (): number => performance.now() / 1000;
const warmUp =
  warmed === 'warmed' ? warmUpSolvers(clock, { policies: [policy as Policy] }) : undefined;
const instance = solverBenchInstance(
  Number(n),
  Number(seed),
  padding as Padding,
  objective as Objective | undefined,
);
const run = measure(() =>
  schedule(instance, policy as Policy, {
    budget: { maxSeconds: Number(budgetMs) / 1000, clock },
  }),
);
const r = run.result;
process.stdout.write(
  `${JSON.stringify({ wallMs: run.wallMs, cpuMs: run.cpuMs, optimal: r.optimal, requests: r.requests, tokens: r.tokens, ...(warmUp ? { warmUpMs: warmUp.seconds * 1000, warmUpDecisions: warmUp.decisions } : {}) })}\n`,
);
