// The solver bench's side-by-side with an established optimiser: the same instances solved by
// our solvers and by OR-tools CP-SAT (bench/external/batch_model.py), each with the same time
// budget per instance, for 16 to 256 requests under static and ragged padding. Every answer is
// checked: CP-SAT's batch must pass CostModel's own feasibility check; where brute force runs,
// CP-SAT must prove the same optimum; no answer may beat a proven optimum; two proven optima
// must be equal. A failed check throws: one of the solvers has a bug.
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { isEligible } from '../../src/core/model/accuracy.js';
import { CostModel, stateOf } from '../../src/core/model/batch.js';
import { fitsSequence } from '../../src/core/model/context.js';
import { OBJECTIVE, PADDING, type Padding } from '../../src/core/model/types.js';
import { bruteForce } from '../../src/core/scheduler/bruteforce.js';
import type { ScheduleInstance, ScheduleResult } from '../../src/core/scheduler/types.js';
import { markdownTable, median, quantile } from '../suite.js';
import { EXTERNAL_STATUS, solveWithCpSat, type ExternalResult } from './cp-sat.js';
import { externalInstance } from './instance.js';

export const REFERENCE_BENCH = {
  paddings: [PADDING.static, PADDING.ragged],
  sizes: [16, 32, 64, 128, 256],
  instances: 10,
  quickInstances: 3,
  /** Per instance and per solver: time to a proven optimum counts only within it. */
  budgetSeconds: 10,
  /** One CP-SAT worker: our solvers run on one thread, and the machine is shared. */
  workers: 1,
  /** Brute force (2^N subsets) runs up to this many requests. */
  bruteForceMaxRequests: 20,
} as const;

export interface OurSolver {
  readonly label: string;
  solve(instance: ScheduleInstance, budgetSeconds: number): ScheduleResult;
}

export interface ReferenceComparisonOptions {
  readonly quick: boolean;
  /** The solver bench's instance generator; the comparison sets the padding. */
  readonly instance: (n: number, seed: number) => ScheduleInstance;
  readonly ours: readonly OurSolver[];
}

export interface Answer {
  readonly requests: number;
  readonly tokens: number;
}

/** The objective as a comparable pair (spec §3): size then tokens, or the reverse. */
export function objectiveKey(instance: ScheduleInstance, a: Answer): [number, number] {
  return instance.options.objective === OBJECTIVE.tokens
    ? [a.tokens, a.requests]
    : [a.requests, a.tokens];
}

/** -1, 0, 1 as a is worse than, equal to, better than b. */
function compare(instance: ScheduleInstance, a: Answer, b: Answer): number {
  const [a1, a2] = objectiveKey(instance, a);
  const [b1, b2] = objectiveKey(instance, b);
  return Math.sign(a1 - b1 || a2 - b2);
}

/** Re-checks an external batch with CostModel; its size and tokens, or why it is not feasible. */
export function checkBatch(instance: ScheduleInstance, ids: readonly string[]): Answer | string {
  const cost = new CostModel(instance.node, instance.model, instance.options);
  const byId = new Map(instance.requests.map((d, i) => [d.id, cost.prepare(d, i)]));
  const members = ids.map((id) => byId.get(id));
  if (members.some((m) => m === undefined) || new Set(ids).size !== ids.length)
    return `has unknown or repeated ids (${ids.join(', ')})`;
  const chosen = members.filter((m) => m !== undefined);
  for (const r of chosen) {
    const d = r.demand;
    if (
      !isEligible(instance.model, instance.bestPerplexity, d.maxPerplexityIncrease) ||
      !fitsSequence(instance.model, d)
    )
      return `holds ${d.id}, which is not eligible`;
  }
  if (chosen.length > (instance.maxBatchSize ?? Infinity)) return 'is over maxBatchSize';
  const state = stateOf(chosen);
  if (chosen.length > 0) {
    const verdict = cost.check(state, chosen);
    if (verdict !== 'ok') return `fails the ${verdict} check`;
  }
  return { requests: chosen.length, tokens: state.sumOutputTokens };
}

interface Decision extends Answer {
  readonly optimal: boolean;
  readonly seconds: number;
}

interface InstanceOutcome {
  readonly padding: Padding;
  readonly n: number;
  readonly seed: number;
  /** By our solver's label. */
  readonly ours: Readonly<Record<string, Decision>>;
  readonly cpSat: Decision & {
    readonly status: ExternalResult['status'];
    readonly solveSeconds: number;
    readonly buildSeconds: number;
  };
  readonly bruteForce: Answer | null;
}

/** The checks of the header comment; throws naming the instance and the disagreement. */
function verify(instance: ScheduleInstance, o: InstanceOutcome, cpSat: ExternalResult): void {
  const where = `${o.padding} N=${o.n} seed=${o.seed}`;
  const label = (a: Answer): string => `${a.requests} requests, ${a.tokens} tokens`;
  const checked = checkBatch(instance, cpSat.batch);
  if (typeof checked === 'string') throw new Error(`${where}: CP-SAT's batch ${checked}`);
  if (compare(instance, checked, cpSat) !== 0)
    throw new Error(`${where}: CP-SAT reports ${label(cpSat)}, its batch has ${label(checked)}`);
  if (o.bruteForce) {
    if (!o.cpSat.optimal) throw new Error(`${where}: CP-SAT proved nothing where brute force runs`);
    if (compare(instance, checked, o.bruteForce) !== 0)
      throw new Error(`${where}: CP-SAT ${label(checked)}, brute force ${label(o.bruteForce)}`);
  }
  for (const [solver, ours] of Object.entries(o.ours)) {
    const vs = compare(instance, ours, checked);
    if ((ours.optimal && vs < 0) || (o.cpSat.optimal && vs > 0))
      throw new Error(
        `${where}: ${solver} (${ours.optimal ? 'proven' : 'not proven'}) ${label(ours)}, CP-SAT (${cpSat.status}) ${label(checked)}`,
      );
  }
}

function timed<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const value = f();
  return [value, (performance.now() - t0) / 1000];
}

/** Runs the comparison; the table and notes for bench/README.md, and every instance's outcome. */
export async function compareWithCpSat(
  options: ReferenceComparisonOptions,
): Promise<{ markdown: string; data: unknown }> {
  const { paddings, sizes, budgetSeconds, workers, bruteForceMaxRequests } = REFERENCE_BENCH;
  const count = options.quick ? REFERENCE_BENCH.quickInstances : REFERENCE_BENCH.instances;
  const cases = paddings.flatMap((padding) =>
    sizes.flatMap((n) =>
      Array.from({ length: count }, (_, k) => {
        const seed = 77 * n + k;
        const drawn = options.instance(n, seed);
        const instance = { ...drawn, options: { ...drawn.options, padding } };
        return { padding, n, seed, instance };
      }),
    ),
  );
  const external = await solveWithCpSat(
    cases.map((c) => externalInstance(`${c.padding}-n${c.n}-seed${c.seed}`, c.instance)),
    { timeLimitSeconds: budgetSeconds, workers },
  );
  const outcomes = cases.map((c, i): InstanceOutcome => {
    const cpSat = external[i] as ExternalResult;
    const ours = Object.fromEntries(
      options.ours.map((solver) => {
        const [r, seconds] = timed(() => solver.solve(c.instance, budgetSeconds));
        const decision = { requests: r.requests, tokens: r.tokens, optimal: r.optimal, seconds };
        return [solver.label, decision];
      }),
    );
    const exact = c.n <= bruteForceMaxRequests ? bruteForce(c.instance) : null;
    const outcome: InstanceOutcome = {
      padding: c.padding,
      n: c.n,
      seed: c.seed,
      ours,
      cpSat: {
        status: cpSat.status,
        optimal: cpSat.status === EXTERNAL_STATUS.optimal,
        requests: cpSat.requests,
        tokens: cpSat.tokens,
        seconds: cpSat.buildSeconds + cpSat.solveSeconds,
        solveSeconds: cpSat.solveSeconds,
        buildSeconds: cpSat.buildSeconds,
      },
      bruteForce: exact && { requests: exact.requests, tokens: exact.tokens },
    };
    verify(c.instance, outcome, cpSat);
    return outcome;
  });

  const rows = paddings.flatMap((padding) =>
    sizes.flatMap((n) => {
      const at = outcomes.filter((o) => o.padding === padding && o.n === n);
      const solvers: [string, (o: InstanceOutcome) => Decision][] = [
        ...options.ours.map((s): [string, (o: InstanceOutcome) => Decision] => [
          s.label,
          (o) => o.ours[s.label] as Decision,
        ]),
        ['CP-SAT', (o) => o.cpSat],
      ];
      return solvers.map(([solver, of]) => {
        const seconds = at.map((o) => of(o).seconds);
        const same = at.filter(
          (o) => of(o).requests === o.cpSat.requests && of(o).tokens === o.cpSat.tokens,
        );
        return {
          padding,
          n,
          solver,
          instances: at.length,
          p50Milliseconds: quantile(seconds, 0.5) * 1000,
          p99Milliseconds: quantile(seconds, 0.99) * 1000,
          proven: at.filter((o) => of(o).optimal).length,
          sameAsCpSat: solver === 'CP-SAT' ? null : same.length,
          checkedByBruteForce: solver === 'CP-SAT' ? at.filter((o) => o.bruteForce).length : null,
        };
      });
    }),
  );
  const buildMedian = median(outcomes.map((o) => o.cpSat.buildSeconds)) * 1000;
  const markdown = [
    `Side by side with OR-tools CP-SAT (\`bench/external/\`, versions pinned in \`bench/external/requirements.txt\`, ${workers} worker): the same instances (seeds 77 N + k, ${count} per size, each under both paddings), every solver with a ${budgetSeconds} s budget per instance. Time is to the answer; proven = optimality proven within the budget. CP-SAT's time is building its model in Python (median ${buildMedian.toFixed(1)} ms) plus its own solve time, not Python's start. Every CP-SAT batch passed CostModel's feasibility check and equals brute force where brute force runs; no answer beat a proven optimum. 1-minute load average at the end: ${(loadavg()[0] ?? 0).toFixed(1)} on ${cpus().length} cores.`,
    '',
    markdownTable(
      [
        'padding',
        'N',
        'solver',
        'p50 ms',
        'p99 ms',
        'proven',
        'objective = CP-SAT',
        'checked by brute force',
      ],
      rows.map((r) => [
        r.padding,
        String(r.n),
        r.solver,
        r.p50Milliseconds.toFixed(1),
        r.p99Milliseconds.toFixed(1),
        `${r.proven}/${r.instances}`,
        r.sameAsCpSat === null ? '' : `${r.sameAsCpSat}/${r.instances}`,
        r.checkedByBruteForce ? `${r.checkedByBruteForce}/${r.instances}` : '',
      ]),
    ),
  ].join('\n');
  return {
    markdown,
    data: { budgetSeconds, workers, rows, instances: outcomes },
  };
}
