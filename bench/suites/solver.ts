// Solver benchmark. (1) DFTSP and the sweep against brute force for N = 8..24 candidates (nodes
// and time; both must agree with it). (2) DFTSP (the paper's search, the reference) and the sweep
// (our exact solver) side by side for N = 32..256 under the 10 ms budget, static and ragged
// padding, warm (one process, after a warm-up) and cold (a fresh process per decision, its first
// call): how often each proves its answer optimal, the time, and the size each finds against the
// optimum. The optimum is the sweep's answer with a long budget (proven unless said otherwise).
// Instances: bench/solver-instances.ts (the default simulation scenario, 7B FP16 on 24 GB).
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Padding } from '../../src/core/model/types.js';
import { bruteForce } from '../../src/core/scheduler/bruteforce.js';
import { SEARCH_BUDGET_DEFAULTS } from '../../src/core/scheduler/budget.js';
import { dftsp } from '../../src/core/scheduler/dftsp.js';
import { schedule } from '../../src/core/scheduler/schedule.js';
import { sweep } from '../../src/core/scheduler/sweep/index.js';
import { POLICY, type ScheduleResult } from '../../src/core/scheduler/types.js';
import { coldSample, measure } from '../cold.js';
import { solverBenchInstance } from '../solver-instances.js';
import { markdownTable, median, quantile, type BenchSuite } from '../suite.js';

const BUDGET_MS = 10;
/** Budget of the reference run that gives the optimum (static padding needs far less). */
const REFERENCE_MS = 1000;
const SOLVERS = [POLICY.dftsp, POLICY.sweep] as const;
type Solver = (typeof SOLVERS)[number];
const LARGE_SIZES = [32, 64, 128, 256] as const;

const clock = (): number => performance.now() / 1000;
const budget = (ms: number): { maxSeconds: number; clock: () => number } => ({
  maxSeconds: ms / 1000,
  clock,
});

/** One decision of one solver: its time, whether it proved optimality, and the size found. */
interface Decision {
  readonly ms: number;
  readonly optimal: boolean;
  readonly requests: number;
}

interface SolverStats {
  readonly provenShare: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Decisions whose batch has the optimum's size. */
  readonly atOptimum: number;
  /** Optimum size minus found size: mean and max over the decisions. */
  readonly meanShortfall: number;
  readonly maxShortfall: number;
  /** Mean shortfall relative to the optimum's size. */
  readonly meanShortfallShare: number;
}

interface LargeRow {
  readonly padding: Padding;
  readonly n: number;
  readonly mode: 'warm' | 'cold';
  readonly instances: number;
  /** References (long-budget sweep runs) that proved their answer optimal. */
  readonly referencesProven: number;
  readonly solvers: Record<Solver, SolverStats>;
}

function stats(decisions: readonly Decision[], optimum: readonly number[]): SolverStats {
  const short = decisions.map((d, k) => (optimum[k] ?? 0) - d.requests);
  const share = decisions.map((d, k) => {
    const best = optimum[k] ?? 0;
    return best > 0 ? (best - d.requests) / best : 0;
  });
  const ms = decisions.map((d) => d.ms);
  const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    provenShare: decisions.filter((d) => d.optimal).length / decisions.length,
    p50Ms: median(ms),
    p99Ms: quantile(ms, 0.99),
    maxMs: Math.max(...ms),
    atOptimum: short.filter((s) => s <= 0).length,
    meanShortfall: mean(short),
    maxShortfall: Math.max(...short),
    meanShortfallShare: mean(share),
  };
}

function decide(result: ScheduleResult, ms: number): Decision {
  return { ms, optimal: result.optimal, requests: result.requests };
}

/** The seed of instance k of size n (the same in warm and cold runs). */
const seedOf = (n: number, k: number): number => 77 * n + k;

function largeRows(padding: Padding, n: number, instances: number, coldRuns: number): LargeRow[] {
  // Warm-up on other instances, so the measured calls run optimised code.
  for (let k = 0; k < 5; k++) {
    const w = solverBenchInstance(n, seedOf(n, 100_000 + k), padding);
    for (const s of SOLVERS) schedule(w, s, { budget: budget(BUDGET_MS) });
  }
  const optimum: number[] = [];
  let referencesProven = 0;
  const warm: Record<Solver, Decision[]> = { dftsp: [], sweep: [] };
  for (let k = 0; k < instances; k++) {
    const inst = solverBenchInstance(n, seedOf(n, k), padding);
    const reference = sweep(inst, budget(REFERENCE_MS));
    optimum.push(reference.requests);
    if (reference.optimal) referencesProven++;
    for (const s of SOLVERS) {
      const run = measure(() => schedule(inst, s, { budget: budget(BUDGET_MS) }));
      warm[s].push(decide(run.result, run.wallMs));
    }
  }
  const cold: Record<Solver, Decision[]> = { dftsp: [], sweep: [] };
  for (let k = 0; k < coldRuns; k++) {
    for (const s of SOLVERS) {
      const sample = coldSample('solve', [s, String(n), String(seedOf(n, k)), padding, '10']);
      cold[s].push({
        ms: sample.wallMs,
        optimal: sample['optimal'] === true,
        requests: Number(sample['requests']),
      });
    }
  }
  const coldOptimum = optimum.slice(0, coldRuns);
  return [
    {
      padding,
      n,
      mode: 'warm',
      instances,
      referencesProven,
      solvers: { dftsp: stats(warm.dftsp, optimum), sweep: stats(warm.sweep, optimum) },
    },
    {
      padding,
      n,
      mode: 'cold',
      instances: coldRuns,
      referencesProven: Math.min(referencesProven, coldRuns),
      solvers: { dftsp: stats(cold.dftsp, coldOptimum), sweep: stats(cold.sweep, coldOptimum) },
    },
  ];
}

export const solverSuite: BenchSuite = {
  name: 'solver',
  description:
    'DFTSP and the sweep vs brute force (N = 8..24); DFTSP vs the sweep at N = 32..256 under a 10 ms budget, warm and cold',
  async run({ quick }) {
    const versus: Record<string, unknown>[] = [];
    const vsRows: string[][] = [];
    const sizes = quick ? [8, 12, 16] : [8, 12, 16, 20, 22, 24];
    for (const n of sizes) {
      const samples = n >= 22 ? 3 : 7;
      const d: { nodes: number; ms: number }[] = [];
      const b: { nodes: number; ms: number }[] = [];
      const w: { nodes: number; ms: number }[] = [];
      for (let k = 0; k < samples; k++) {
        const inst = solverBenchInstance(n, 1000 * n + k);
        const dr = measure(() => dftsp(inst));
        const sr = measure(() => sweep(inst));
        const br = measure(() => bruteForce(inst));
        if (dr.result.requests !== br.result.requests || sr.result.requests !== br.result.requests)
          throw new Error(`a solver disagrees with brute force at N=${String(n)}`);
        d.push({ nodes: dr.result.nodesEvaluated, ms: dr.wallMs });
        w.push({ nodes: sr.result.nodesEvaluated, ms: sr.wallMs });
        b.push({ nodes: br.result.nodesEvaluated, ms: br.wallMs });
      }
      const row = {
        n,
        samples,
        dftspNodesMedian: median(d.map((x) => x.nodes)),
        sweepNodesMedian: median(w.map((x) => x.nodes)),
        bruteForceNodes: 2 ** n,
        reduction: 1 - median(d.map((x) => x.nodes)) / 2 ** n,
        dftspMillisecondsMedian: median(d.map((x) => x.ms)),
        sweepMillisecondsMedian: median(w.map((x) => x.ms)),
        bruteForceMillisecondsMedian: median(b.map((x) => x.ms)),
      };
      versus.push(row);
      vsRows.push([
        String(n),
        String(samples),
        String(row.dftspNodesMedian),
        String(row.sweepNodesMedian),
        row.bruteForceNodes.toExponential(2),
        `${(row.reduction * 100).toFixed(3)}%`,
        row.dftspMillisecondsMedian.toFixed(3),
        row.sweepMillisecondsMedian.toFixed(3),
        row.bruteForceMillisecondsMedian.toFixed(1),
      ]);
      await Promise.resolve();
    }

    const large: LargeRow[] = [];
    for (const padding of ['static', 'ragged'] as const) {
      for (const n of LARGE_SIZES) {
        const instances = quick ? 10 : padding === 'static' ? 50 : 20;
        const coldRuns = quick ? 3 : padding === 'static' ? 10 : 5;
        large.push(...largeRows(padding, n, instances, coldRuns));
        await Promise.resolve();
      }
    }
    const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;
    const pair = (row: LargeRow, f: (s: SolverStats) => string): string[] =>
      SOLVERS.map((s) => f(row.solvers[s]));
    const largeTable = markdownTable(
      [
        'padding',
        'N',
        'run',
        'instances',
        'DFTSP proven',
        'sweep proven',
        'DFTSP p50 / p99 ms',
        'sweep p50 / p99 ms',
        'DFTSP size = optimum',
        'sweep size = optimum',
        'DFTSP shortfall mean (max)',
        'sweep shortfall mean (max)',
      ],
      large.map((row) => [
        row.padding,
        String(row.n),
        row.mode,
        String(row.instances),
        ...pair(row, (s) => pct(s.provenShare)),
        ...pair(row, (s) => `${s.p50Ms.toFixed(2)} / ${s.p99Ms.toFixed(2)}`),
        ...pair(row, (s) => `${String(s.atOptimum)}/${String(row.instances)}`),
        ...pair(
          row,
          (s) =>
            `${s.meanShortfall.toFixed(1)} (${String(s.maxShortfall)}), ${pct(s.meanShortfallShare)}`,
        ),
      ]),
    );
    const unproven = large.filter((r) => r.mode === 'warm' && r.referencesProven < r.instances);
    const load = loadavg()[0] ?? 0;
    const markdown = [
      'Instances: the default simulation scenario (7B FP16, 24 GB, deadlines 1-6 s), `flops` compute, objective `requests`.',
      '',
      'Without a budget, against brute force (static padding; all three agree on every instance):',
      '',
      markdownTable(
        [
          'N',
          'instances',
          'DFTSP nodes (median)',
          'sweep nodes (median)',
          'brute force nodes',
          'DFTSP: fewer evaluations',
          'DFTSP ms (median)',
          'sweep ms (median)',
          'brute force ms (median)',
        ],
        vsRows,
      ),
      '',
      `DFTSP (the paper's search) and the sweep (ours) with a ${String(BUDGET_MS)} ms budget for the whole decision ` +
        `(search stops at ${String(SEARCH_BUDGET_DEFAULTS.searchShare * 100)}% of it, clock read every ${String(SEARCH_BUDGET_DEFAULTS.clockCheckInterval)} nodes). ` +
        'Warm: one process, after a warm-up on 5 other instances. Cold: a fresh Node process per decision, timing its first call (bench/cold/solve.ts), as the CLI or an operator first round. ' +
        `The optimum is the sweep's answer with a ${String(REFERENCE_MS)} ms budget; ` +
        (unproven.length === 0
          ? 'it was proven optimal on every instance.'
          : `it was not proven on ${unproven.map((r) => `${String(r.instances - r.referencesProven)} of ${String(r.instances)} ${r.padding} N = ${String(r.n)}`).join(', ')} (there "optimum" is the best known).`) +
        ' Shortfall: optimum size minus found size (mean, max, and mean share of the optimum).',
      '',
      largeTable,
      '',
      `Wall-clock times on a shared machine: 1-minute load average ${load.toFixed(1)} on ${String(cpus().length)} cores at the end of the run; the p99 of a few dozen decisions is their maximum or near it, so quote the medians and repeat runs.`,
    ].join('\n');
    return {
      name: 'solver',
      title: 'Solver: DFTSP vs the sweep (and brute force)',
      markdown,
      data: { budgetMs: BUDGET_MS, referenceMs: REFERENCE_MS, loadAverage1m: load, versus, large },
    };
  },
};
