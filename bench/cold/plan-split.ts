// One cold plan: `node dist/bench/cold/plan-split.js <layers> <index> [granularity]` plans
// instance `index` of the planner bench's series with the exact DP, once, in this fresh process,
// and prints {wallMs, cpuMs, serverWorkload}.
import { planSplit, type Granularity } from '../../src/core/planner/index.js';
import { measure } from '../cold.js';
import { splitBenchInstance } from '../split-instances.js';

const [layers, index, granularity] = process.argv.slice(2);
const inst = splitBenchInstance(
  Number(layers),
  Number(index),
  (granularity ?? 'layer') as Granularity,
);
const run = measure(() => planSplit(inst.profile, inst.slaSeconds, inst.ends));
process.stdout.write(
  `${JSON.stringify({ wallMs: run.wallMs, cpuMs: run.cpuMs, serverWorkload: run.result.serverWorkload })}\n`,
);
