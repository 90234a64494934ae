// Solver benchmark. (1) DFTSP and the sweep against brute force for N = 8..24 candidates (nodes
// and time; both must agree with it). (2) DFTSP (the paper's search, the reference) and the sweep
// (our exact solver) side by side for N = 32..256 under the 10 ms budget, static and ragged
// padding, warm (one process, after a warm-up), cold (a fresh process per decision, its first
// call) and warmed (a fresh process that first ran the operator's start-up warm-up on synthetic
// instances, src/core/scheduler/warm-up.ts, then its first real decision): how often each proves
// its answer optimal, the time, and the size each finds against the optimum. The optimum is the sweep's answer with a long budget (proven unless said otherwise).
// (3) Both next to OR-tools CP-SAT at N = 16..256 (bench/external/comparison.ts).
// Instances: bench/solver-instances.ts (the default simulation scenario, 7B FP16 on 24 GB).
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Objective, Padding } from '../../src/core/model/types.js';
import { bruteForce } from '../../src/core/scheduler/bruteforce.js';
import { SEARCH_BUDGET_DEFAULTS } from '../../src/core/scheduler/budget.js';
import { dftsp } from '../../src/core/scheduler/dftsp.js';
import { schedule } from '../../src/core/scheduler/schedule.js';
import { sweep } from '../../src/core/scheduler/sweep/index.js';
import { POLICY, type ScheduleResult } from '../../src/core/scheduler/types.js';
import { coldSample, measure } from '../cold.js';
import { compareWithCpSat } from '../external/comparison.js';
import { solverBenchInstance } from '../solver-instances.js';
import { markdownTable, median, quantile, type BenchSuite } from '../suite.js';

const BUDGET_MS = 10;
/** Budget of the reference run that gives the optimum. */
const REFERENCE_MS = 1000;
const SOLVERS = [POLICY.dftsp, POLICY.sweep] as const;
type Solver = (typeof SOLVERS)[number];
const LABEL: Record<Solver, string> = { dftsp: 'DFTSP', sweep: 'sweep' };
const LARGE_SIZES = [32, 64, 128, 256] as const;

/** The cases of the large table: the default objective in full, objective tokens fewer times. */
const CASES: readonly {
  readonly padding: Padding;
  readonly objective: Objective;
  /** Warm instances and cold processes per size (full run, then --quick). */
  readonly warm: readonly [number, number];
  readonly cold: readonly [number, number];
}[] = [
  { padding: 'static', objective: 'requests', warm: [50, 10], cold: [30, 4] },
  { padding: 'ragged', objective: 'requests', warm: [50, 10], cold: [20, 3] },
  { padding: 'static', objective: 'tokens', warm: [20, 5], cold: [10, 2] },
  { padding: 'ragged', objective: 'tokens', warm: [20, 5], cold: [10, 2] },
];

const clock = (): number => performance.now() / 1000;
const budget = (ms: number): { maxSeconds: number; clock: () => number } => ({
  maxSeconds: ms / 1000,
  clock,
});

/** One decision of one solver: its time, whether it proved optimality, what it found. */
interface Decision {
  readonly ms: number;
  readonly cpuMs: number;
  readonly optimal: boolean;
  /** The objective's primary key: requests, or tokens under objective tokens. */
  readonly primary: number;
}

interface SolverStats {
  readonly provenShare: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Thread CPU time: coarse (ticks), kept for the record, not quoted. */
  readonly cpuP50Ms: number;
  readonly cpuP99Ms: number;
  /** Decisions whose primary key equals the optimum's. */
  readonly atOptimum: number;
  /** Optimum's primary key minus the found one: mean and max over the decisions. */
  readonly meanShortfall: number;
  readonly maxShortfall: number;
  /** Mean shortfall relative to the optimum. */
  readonly meanShortfallShare: number;
}

/** Warm: one process after a warm-up; cold: a fresh process's first call; warmed: a fresh
 * process's first real call after the operator's start-up warm-up. */
type Mode = 'warm' | 'cold' | 'warmed';

interface LargeRow {
  readonly padding: Padding;
  readonly objective: Objective;
  readonly n: number;
  readonly mode: Mode;
  readonly instances: number;
  /** References (long-budget sweep runs) that proved their answer optimal. */
  readonly referencesProven: number;
  readonly solvers: Record<Solver, SolverStats>;
}

function stats(decisions: readonly Decision[], optimum: readonly number[]): SolverStats {
  const short = decisions.map((d, k) => (optimum[k] ?? 0) - d.primary);
  const share = decisions.map((d, k) => {
    const best = optimum[k] ?? 0;
    return best > 0 ? (best - d.primary) / best : 0;
  });
  const ms = decisions.map((d) => d.ms);
  const cpu = decisions.map((d) => d.cpuMs);
  const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    provenShare: decisions.filter((d) => d.optimal).length / decisions.length,
    p50Ms: median(ms),
    p99Ms: quantile(ms, 0.99),
    maxMs: Math.max(...ms),
    cpuP50Ms: median(cpu),
    cpuP99Ms: quantile(cpu, 0.99),
    atOptimum: short.filter((s) => s <= 0).length,
    meanShortfall: mean(short),
    maxShortfall: Math.max(...short),
    meanShortfallShare: mean(share),
  };
}

const primaryOf = (result: ScheduleResult, objective: Objective): number =>
  objective === 'tokens' ? result.tokens : result.requests;

/** The seed of instance k of size n (the same in warm and cold runs). */
const seedOf = (n: number, k: number): number => 77 * n + k;

function largeRows(
  padding: Padding,
  objective: Objective,
  n: number,
  instances: number,
  coldRuns: number,
): LargeRow[] {
  // Warm-up on other instances, so the measured calls run optimised code.
  for (let k = 0; k < 5; k++) {
    const w = solverBenchInstance(n, seedOf(n, 100_000 + k), padding, objective);
    for (const s of SOLVERS) schedule(w, s, { budget: budget(BUDGET_MS) });
  }
  const optimum: number[] = [];
  let referencesProven = 0;
  const warm: Record<Solver, Decision[]> = { dftsp: [], sweep: [] };
  for (let k = 0; k < instances; k++) {
    const inst = solverBenchInstance(n, seedOf(n, k), padding, objective);
    const reference = sweep(inst, budget(REFERENCE_MS));
    optimum.push(primaryOf(reference, objective));
    if (reference.optimal) referencesProven++;
    for (const s of SOLVERS) {
      const run = measure(() => schedule(inst, s, { budget: budget(BUDGET_MS) }));
      warm[s].push({
        ms: run.wallMs,
        cpuMs: run.cpuMs,
        optimal: run.result.optimal,
        primary: primaryOf(run.result, objective),
      });
    }
  }
  const fresh = (warmed: boolean): Record<Solver, Decision[]> => {
    const out: Record<Solver, Decision[]> = { dftsp: [], sweep: [] };
    for (let k = 0; k < coldRuns; k++) {
      for (const s of SOLVERS) {
        const sample = coldSample('solve', [
          s,
          String(n),
          String(seedOf(n, k)),
          padding,
          String(BUDGET_MS),
          objective,
          ...(warmed ? ['warmed'] : []),
        ]);
        out[s].push({
          ms: sample.wallMs,
          cpuMs: sample.cpuMs,
          optimal: sample['optimal'] === true,
          primary: Number(objective === 'tokens' ? sample['tokens'] : sample['requests']),
        });
      }
    }
    return out;
  };
  const cold = fresh(false);
  const warmed = fresh(true);
  // Cold runs reuse the first instances (coldRuns <= instances), so their optima are known.
  const coldOptimum = optimum.slice(0, coldRuns);
  const row = (mode: Mode, decisions: Record<Solver, Decision[]>): LargeRow => {
    const best = mode === 'warm' ? optimum : coldOptimum;
    const count = decisions.sweep.length;
    return {
      padding,
      objective,
      n,
      mode,
      instances: count,
      referencesProven: mode === 'warm' ? referencesProven : Math.min(referencesProven, count),
      solvers: { dftsp: stats(decisions.dftsp, best), sweep: stats(decisions.sweep, best) },
    };
  };
  return [row('warm', warm), row('cold', cold), row('warmed', warmed)];
}

export const solverSuite: BenchSuite = {
  name: 'solver',
  description:
    'DFTSP and the sweep vs brute force (N = 8..24); DFTSP vs the sweep at N = 32..256 under a 10 ms budget, warm, cold and warmed at start-up; both next to CP-SAT at N = 16..256',
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

    const loadAtStart = loadavg()[0] ?? 0;
    const large: LargeRow[] = [];
    for (const c of CASES) {
      for (const n of LARGE_SIZES) {
        const pick = ([full, short]: readonly [number, number]): number => (quick ? short : full);
        large.push(...largeRows(c.padding, c.objective, n, pick(c.warm), pick(c.cold)));
        await Promise.resolve();
      }
    }
    const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;
    const pair = (row: LargeRow, f: (s: SolverStats) => string): string[] =>
      SOLVERS.map((s) => f(row.solvers[s]));
    const ms = (a: number, b: number): string => `${a.toFixed(2)} / ${b.toFixed(2)}`;
    const largeTable = markdownTable(
      [
        'padding',
        'objective',
        'N',
        'run',
        'instances',
        'DFTSP proven',
        'sweep proven',
        'DFTSP p50 / p99 ms',
        'sweep p50 / p99 ms',
        'DFTSP = optimum',
        'sweep = optimum',
        'DFTSP shortfall mean (max), share',
      ],
      large.map((row) => [
        row.padding,
        row.objective,
        String(row.n),
        row.mode,
        String(row.instances),
        ...pair(row, (s) => pct(s.provenShare)),
        ...pair(row, (s) => ms(s.p50Ms, s.p99Ms)),
        ...pair(row, (s) => `${String(s.atOptimum)}/${String(row.instances)}`),
        `${row.solvers.dftsp.meanShortfall.toFixed(1)} (${String(row.solvers.dftsp.maxShortfall)}), ${pct(row.solvers.dftsp.meanShortfallShare)}`,
      ]),
    );
    const unproven = large.filter((r) => r.mode === 'warm' && r.referencesProven < r.instances);
    const load = loadavg()[0] ?? 0;
    const markdown = [
      'Instances: the default simulation scenario (7B FP16, 24 GB, deadlines 1-6 s), `flops` compute; objective `requests` unless said.',
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
        'Warm: one process, after a warm-up on 5 other instances. Cold: a fresh Node process per decision, timing its first call (bench/cold/solve.ts), as the CLI. ' +
        "Warmed: a fresh process that first ran the operator's start-up warm-up (src/core/scheduler/warm-up.ts: 80 decisions of the same policy on synthetic instances of 256 requests, or fewer where they pass 1 s, none of them the measured one), timing its first real call, as an operator's first round. " +
        'Times are wall clock (the JSON also has the thread CPU time, which Linux accounts too coarsely to quote at this scale). ' +
        `The optimum is the sweep's answer with a ${String(REFERENCE_MS)} ms budget; ` +
        (unproven.length === 0
          ? 'it was proven optimal on every instance.'
          : `it was not proven on ${unproven.map((r) => `${String(r.instances - r.referencesProven)} of ${String(r.instances)} ${r.padding}/${r.objective} N = ${String(r.n)}`).join(', ')} (there "optimum" is the best known).`) +
        ' "= optimum": decisions whose batch has the optimum\'s requests (or tokens, under objective tokens); shortfall: the optimum\'s minus the found one (mean, max, mean share of the optimum).',
      '',
      largeTable,
      '',
      `Wall-clock times on a shared machine: 1-minute load average ${loadAtStart.toFixed(1)} when the large table started and ${load.toFixed(1)} at its end, on ${String(cpus().length)} cores shared with other work (a busy machine adds its waits to the wall time); the p99 of a few dozen decisions is their maximum or near it, so quote the medians and repeat runs.`,
    ].join('\n');
    const reference = await compareWithCpSat({
      quick,
      instance: (n, seed) => solverBenchInstance(n, seed),
      ours: SOLVERS.map((policy) => ({
        label: LABEL[policy],
        solve: (inst, seconds) => schedule(inst, policy, { budget: budget(seconds * 1000) }),
      })),
    });
    return {
      name: 'solver',
      title: 'Solver: DFTSP vs the sweep (and brute force), next to CP-SAT',
      markdown: `${markdown}\n\n${reference.markdown}`,
      data: {
        budgetMs: BUDGET_MS,
        referenceMs: REFERENCE_MS,
        loadAverage1m: { start: loadAtStart, end: load },
        versus,
        large,
        reference: reference.data,
      },
    };
  },
};
