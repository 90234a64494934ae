// Solver benchmark: DFTSP against brute force for N = 8..24 candidates, DFTSP alone for
// N = 32, 64, 128 with a 10 ms budget, and side by side with OR-tools CP-SAT for N = 16..256
// (bench/external/comparison.ts). Instances come from the default simulation scenario
// (7B FP16 on a 24 GB node), so memory and latency both bind.
import { performance } from 'node:perf_hooks';
import { createRng } from '../../src/core/random.js';
import { bruteForce } from '../../src/core/scheduler/bruteforce.js';
import { DFTSP_BUDGET_DEFAULTS, dftsp } from '../../src/core/scheduler/dftsp.js';
import type { ScheduleInstance } from '../../src/core/scheduler/types.js';
import { DEFAULT_SCHEDULING_SCENARIO as scenario } from '../../src/sim/scheduling-scenario.js';
import { drawRequests, variantsOf } from '../../src/sim/scheduling-experiment.js';
import { defined } from '../../src/util/objects.js';
import { compareWithCpSat } from '../external/comparison.js';
import { markdownTable, median, quantile, type BenchSuite } from '../suite.js';

const BUDGET_SECONDS = 0.01;

function instance(n: number, seed: number): ScheduleInstance {
  const variants = variantsOf(scenario);
  const model = variants[0];
  if (!model) throw new Error('scenario has no variants');
  return {
    node: defined(scenario.node),
    model,
    bestPerplexity: Math.min(...variants.map((v) => v.perplexity)),
    requests: drawRequests(scenario, n, createRng(seed)),
    options: scenario.options,
  };
}

function timed<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const value = f();
  return [value, (performance.now() - t0) / 1000];
}

export const solverSuite: BenchSuite = {
  name: 'solver',
  description:
    'DFTSP vs brute force (nodes evaluated, wall time); DFTSP at N=32..128 under a 10 ms budget; DFTSP next to CP-SAT at N=16..256',
  async run({ quick }) {
    const versus: Record<string, unknown>[] = [];
    const vsRows: string[][] = [];
    const sizes = quick ? [8, 12, 16] : [8, 12, 16, 20, 22, 24];
    for (const n of sizes) {
      const samples = n >= 22 ? 3 : 7;
      const d: { nodes: number; seconds: number }[] = [];
      const b: { nodes: number; seconds: number }[] = [];
      for (let k = 0; k < samples; k++) {
        const inst = instance(n, 1000 * n + k);
        const [dr, ds] = timed(() => dftsp(inst));
        const [br, bs] = timed(() => bruteForce(inst));
        if (dr.requests !== br.requests)
          throw new Error(`DFTSP disagrees with brute force at N=${n}`);
        d.push({ nodes: dr.nodesEvaluated, seconds: ds });
        b.push({ nodes: br.nodesEvaluated, seconds: bs });
      }
      const row = {
        n,
        samples,
        dftspNodesMedian: median(d.map((x) => x.nodes)),
        bruteForceNodes: 2 ** n,
        reduction: 1 - median(d.map((x) => x.nodes)) / 2 ** n,
        dftspMillisecondsMedian: median(d.map((x) => x.seconds)) * 1000,
        bruteForceMillisecondsMedian: median(b.map((x) => x.seconds)) * 1000,
      };
      versus.push(row);
      vsRows.push([
        String(n),
        String(samples),
        String(row.dftspNodesMedian),
        row.bruteForceNodes.toExponential(2),
        `${(row.reduction * 100).toFixed(3)}%`,
        row.dftspMillisecondsMedian.toFixed(3),
        row.bruteForceMillisecondsMedian.toFixed(1),
        (row.bruteForceMillisecondsMedian / row.dftspMillisecondsMedian).toFixed(0),
      ]);
    }
    const large: Record<string, unknown>[] = [];
    const largeRows: string[][] = [];
    for (const n of quick ? [32, 64] : [32, 64, 128]) {
      const count = quick ? 20 : 100;
      const seconds: number[] = [];
      const nodes: number[] = [];
      let optimal = 0;
      for (let k = 0; k < count; k++) {
        const inst = instance(n, 77 * n + k);
        const [r, s] = timed(() =>
          dftsp(inst, { maxSeconds: BUDGET_SECONDS, clock: () => performance.now() / 1000 }),
        );
        seconds.push(s);
        nodes.push(r.nodesEvaluated);
        if (r.optimal) optimal++;
      }
      const row = {
        n,
        instances: count,
        provenOptimalShare: optimal / count,
        nodesMedian: median(nodes),
        p50Milliseconds: median(seconds) * 1000,
        p99Milliseconds: quantile(seconds, 0.99) * 1000,
      };
      large.push(row);
      largeRows.push([
        String(n),
        String(count),
        `${(row.provenOptimalShare * 100).toFixed(0)}%`,
        String(row.nodesMedian),
        row.p50Milliseconds.toFixed(3),
        row.p99Milliseconds.toFixed(3),
      ]);
    }
    const markdown = [
      'Instances: the default simulation scenario (7B FP16, 24 GB, deadlines 1-6 s), static padding, `flops` compute.',
      '',
      markdownTable(
        [
          'N',
          'instances',
          'DFTSP nodes (median)',
          'brute force nodes',
          'fewer evaluations',
          'DFTSP ms (median)',
          'brute force ms (median)',
          'speed-up',
        ],
        vsRows,
      ),
      '',
      `DFTSP alone with a ${BUDGET_SECONDS * 1000} ms budget for the whole decision (search stops at ${DFTSP_BUDGET_DEFAULTS.searchShare * 100}% of it, clock read every ${DFTSP_BUDGET_DEFAULTS.clockCheckInterval} nodes):`,
      '',
      markdownTable(
        ['N', 'instances', 'proven optimal', 'nodes (median)', 'p50 ms', 'p99 ms'],
        largeRows,
      ),
    ].join('\n');
    const reference = await compareWithCpSat({
      quick,
      instance,
      ours: [
        {
          label: 'DFTSP',
          solve: (inst, seconds) =>
            dftsp(inst, { maxSeconds: seconds, clock: () => performance.now() / 1000 }),
        },
      ],
    });
    return {
      name: 'solver',
      title: 'Solver: DFTSP vs brute force',
      markdown: `${markdown}\n\n${reference.markdown}`,
      data: { versus, large, reference: reference.data },
    };
  },
};
