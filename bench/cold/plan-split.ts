// One cold plan: `node dist/bench/cold/plan-split.js <layers> <index> [granularity] [warmed]`
// plans instance `index` of the planner bench's series with the exact DP, once, in this fresh
// process, and prints {wallMs, cpuMs, serverWorkload}. With `warmed`, the process first runs the
// operator's start-up warm-up (src/core/scheduler/warm-up.ts, which plans splits of synthetic
// requests before its decisions) and reports its time as warmUpMs; the measured plan is then
// its first plan of a bench instance.
import { performance } from 'node:perf_hooks';
import { planSplit, type Granularity } from '../../src/core/planner/index.js';
import { warmUpSolvers } from '../../src/core/scheduler/warm-up.js';
import { measure } from '../cold.js';
import { splitBenchInstance } from '../split-instances.js';

const [layers, index, granularity, warmed] = process.argv.slice(2);
const warmUp = warmed === 'warmed' ? warmUpSolvers(() => performance.now() / 1000) : undefined;
const inst = splitBenchInstance(
  Number(layers),
  Number(index),
  (granularity ?? 'layer') as Granularity,
);
const run = measure(() => planSplit(inst.profile, inst.slaSeconds, inst.ends));
process.stdout.write(
  `${JSON.stringify({ wallMs: run.wallMs, cpuMs: run.cpuMs, serverWorkload: run.result.serverWorkload, ...(warmUp ? { warmUpMs: warmUp.seconds * 1000 } : {}) })}\n`,
);
