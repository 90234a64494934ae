// The simulator's scenarios through the real operator (`--only scenarios`): per scenario of
// bench/support/operator-scenarios.ts and per policy, the real `edgellm operator` process on the
// local kube-apiserver with simulated agents (bench/support/simulated-fleet.ts: the real agent
// gRPC server over SimulatedRuntime, each batch taking the time its latency model says), one
// fresh fleet per scenario and policy, the same seeded loads for every policy. Reports SLA
// attainment (succeeded within the budget, as the agent measured it, of all created) and
// completed requests per second, median and range over the seeds, in one table; the simulator's
// numbers for the same scenarios are in docs/scheduling-scenarios.md. To look at a few:
// EDGELLM_BENCH_SCENARIOS=chat-overload and EDGELLM_BENCH_SCENARIO_POLICIES=sweep,sweep-h2
// (comma-separated names and column labels; the table then has only those, and overwrites the
// committed one like any run).
import { cpus, loadavg } from 'node:os';
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import {
  Identity,
  installCrds,
  kubeConfigFor,
  startControlPlane,
  stopControlPlane,
} from '../../test/harness/controlplane.js';
import { waitUntil } from '../../test/support/wait.js';
import { markdownTable, median, type BenchSuite } from '../suite.js';
import { createWhenDue } from '../support/load.js';
import {
  OPERATOR_SCENARIOS,
  scenarioLoad,
  type OperatorScenario,
  type TimedLoad,
} from '../support/operator-scenarios.js';
import { RequestTracker } from '../support/request-tracker.js';
import { SIM_MAX_SEQUENCES, SimulatedFleet } from '../support/simulated-fleet.js';

/**
 * Each policy as an EdgeNode spec.scheduling; the label is the column's name. `sweep` and `dftsp`
 * are the paper's objective (urgencyHorizon 0); `sweep-h2` is the operator's default for an
 * exact policy (no urgencyHorizon set); the baselines take no horizon unless set.
 */
const POLICIES: readonly {
  readonly label: string;
  readonly policy: string;
  readonly urgencyHorizon?: number;
}[] = [
  { label: 'sweep', policy: 'sweep', urgencyHorizon: 0 },
  { label: 'dftsp', policy: 'dftsp', urgencyHorizon: 0 },
  { label: 'fcfs', policy: 'fcfs' },
  { label: 'greedy', policy: 'greedy' },
  { label: 'edf', policy: 'edf' },
  { label: 'random', policy: 'random' },
  { label: 'single', policy: 'single' },
  { label: 'sweep-h1', policy: 'sweep', urgencyHorizon: 1 },
  { label: 'sweep-h2', policy: 'sweep' },
];

/** The comma-separated names in environment variable `name`, or undefined when it is unset. */
function chosen(name: string): ReadonlySet<string> | undefined {
  const value = process.env[name];
  return value === undefined || value === ''
    ? undefined
    : new Set(value.split(',').map((v) => v.trim()));
}

const SIZES = {
  full: { seeds: [1, 2, 3], durationSeconds: 5 },
  quick: { seeds: [1], durationSeconds: 4 },
} as const;

/** Creates in flight at once: more than a burst, so a burst is created at once. */
const CREATE_CONCURRENCY = 32;
/** A run stops waiting this long after its last create (every budget is shorter). */
const DRAIN_TIMEOUT_SECONDS = 60;

interface SeedRun {
  readonly seed: number;
  readonly requests: number;
  readonly succeeded: number;
  readonly metBudget: number;
  readonly failed: Readonly<Record<string, number>>;
  readonly unfinished: number;
  readonly wallSeconds: number;
  readonly slaAttainment: number;
  readonly completedPerSecond: number;
}

interface PolicyRuns {
  readonly scenario: string;
  readonly policy: string;
  readonly runs: readonly SeedRun[];
}

/** Creates `load` at its times into `namespace` and follows it until every request finished. */
async function runSeed(
  kc: k8s.KubeConfig,
  namespace: string,
  seed: number,
  load: readonly TimedLoad[],
): Promise<SeedRun> {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const tracker = new RequestTracker(kc, namespace, pino({ level: 'warn' }));
  await tracker.start();
  try {
    const started = Date.now();
    // One stock client, as in the run of bench/results/scenarios.json (at most 40 creates/s).
    const createErrors = await createWhenDue(
      [custom],
      namespace,
      tracker,
      load,
      (item) => started + item.atSeconds * 1000,
      CREATE_CONCURRENCY,
    );
    await waitUntil('every request finished', () => tracker.allFinished(), {
      timeoutMs: DRAIN_TIMEOUT_SECONDS * 1000,
      intervalMs: 100,
    }).catch(() => undefined);
    await tracker.finalList();
    const { succeeded, failed, metBudget, unfinished, wallSeconds } = tracker.outcomes(
      load,
      started,
      createErrors,
    );
    return {
      seed,
      requests: load.length,
      succeeded: succeeded.length,
      metBudget,
      failed,
      unfinished,
      wallSeconds,
      slaAttainment: metBudget / load.length,
      completedPerSecond: succeeded.length / Math.max(1e-3, wallSeconds),
    };
  } finally {
    await tracker.stop();
  }
}

/** One fleet with `policy` on every node; the seeds one after another, each in its namespace. */
async function runPolicy(
  kc: k8s.KubeConfig,
  kubeconfigPath: string,
  scenario: OperatorScenario,
  policy: (typeof POLICIES)[number],
  size: (typeof SIZES)[keyof typeof SIZES],
): Promise<PolicyRuns> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const namespace = `sc-${policy.label}-${Date.now().toString(36)}`;
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  let fleet: SimulatedFleet | undefined;
  const runs: SeedRun[] = [];
  try {
    fleet = await SimulatedFleet.start({
      kc,
      kubeconfigPath,
      namespace,
      nodes: scenario.timeFactors.length,
      timeFactors: scenario.timeFactors,
      policy: policy.policy,
      ...(policy.urgencyHorizon === undefined
        ? {}
        : { scheduling: { urgencyHorizon: policy.urgencyHorizon } }),
    });
    for (const seed of size.seeds) {
      const seedNamespace = `${namespace}-s${seed}`;
      await core.createNamespace({ body: { metadata: { name: seedNamespace } } });
      try {
        const run = await runSeed(
          kc,
          seedNamespace,
          seed,
          scenarioLoad(scenario, size.durationSeconds, seed),
        );
        process.stdout.write(
          `scenarios bench: ${scenario.name} ${policy.label} seed ${seed}: ${run.metBudget}/${run.requests} within budget, ${run.succeeded} succeeded, ${run.unfinished} unfinished, ${run.completedPerSecond.toFixed(1)} completed/s\n`,
        );
        runs.push(run);
      } finally {
        await core.deleteNamespace({ name: seedNamespace }).catch(() => undefined);
      }
    }
  } finally {
    await fleet?.stop();
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  }
  return { scenario: scenario.name, policy: policy.label, runs };
}

/** "median (min–max)" of a per-seed value. */
function spread(values: readonly number[], digits: number): string {
  const f = (x: number): string => x.toFixed(digits);
  if (values.length === 1) return f(values[0] ?? NaN);
  return `${f(median(values))} (${f(Math.min(...values))}–${f(Math.max(...values))})`;
}

export const operatorScenariosSuite: BenchSuite = {
  name: 'scenarios',
  description:
    "the simulator's scenarios through the real operator with simulated agents: SLA attainment and completed/s of every policy and the urgency horizon, over seeds",
  onlyWhenNamed: true,
  async run({ quick }) {
    const size = quick ? SIZES.quick : SIZES.full;
    const onlyScenarios = chosen('EDGELLM_BENCH_SCENARIOS');
    const onlyPolicies = chosen('EDGELLM_BENCH_SCENARIO_POLICIES');
    const scenarios = OPERATOR_SCENARIOS.filter((s) => onlyScenarios?.has(s.name) ?? true);
    const policies = POLICIES.filter((p) => onlyPolicies?.has(p.label) ?? true);
    const loadAtStart = loadavg()[0] ?? 0;
    const started = Date.now();
    const cp = await startControlPlane();
    const results: PolicyRuns[] = [];
    try {
      const kc = kubeConfigFor(cp.state, Identity.admin);
      await installCrds(kc);
      const kubeconfigPath = cp.state.kubeconfigs[Identity.admin];
      for (const scenario of scenarios)
        for (const policy of policies)
          results.push(await runPolicy(kc, kubeconfigPath, scenario, policy, size));
    } finally {
      await stopControlPlane(cp);
    }
    const loadAtEnd = loadavg()[0] ?? 0;
    const minutes = (Date.now() - started) / 60_000;
    const cell = (scenario: string, policy: string, pick: (r: SeedRun) => number): string => {
      const runs = results.find((r) => r.scenario === scenario && r.policy === policy)?.runs ?? [];
      return runs.length === 0 ? '—' : spread(runs.map(pick), 1);
    };
    const labels = policies.map((p) => p.label);
    const table = (pick: (r: SeedRun) => number): string =>
      markdownTable(
        ['scenario', ...labels],
        scenarios.map((s) => [s.name, ...labels.map((l) => cell(s.name, l, pick))]),
      );
    const markdown = [
      `The real \`edgellm operator\` on the local kube-apiserver; the agents are simulated (the real agent gRPC server over SimulatedRuntime in the bench process, ${SIM_MAX_SEQUENCES} sequences of 512 tokens, a batch takes the time SimulatedRuntime's latency model says: prefill 0.5 ms per token, a decode step 20 ms + 2 ms per sequence, times the node's factor). One fresh operator and fleet per scenario and policy; seeds ${size.seeds.join(', ')}, ${size.durationSeconds} s of arrivals each, the same loads for every policy. Scenarios (bench/support/operator-scenarios.ts, redrawn from the simulator's at the simulated agent's scale):`,
      '',
      ...scenarios.map((s) => `- **${s.name}**: ${s.stresses}.`),
      '',
      `SLA attainment, % of created requests that succeeded within their budget (status.measured.latencySeconds), median (min–max) over the seeds:`,
      '',
      table((r) => r.slaAttainment * 100),
      '',
      'Completed requests per second (succeeded / first create to last finish), median (min–max):',
      '',
      table((r) => r.completedPerSecond),
      '',
      `Load average (1 min) ${loadAtStart.toFixed(1)} at the start and ${loadAtEnd.toFixed(1)} at the end, on ${String(cpus().length)} cores shared with other work; ${minutes.toFixed(1)} minutes in all.`,
    ].join('\n');
    return {
      name: 'scenarios',
      title: "The simulator's scenarios through the operator (simulated agents)",
      markdown,
      data: {
        seeds: size.seeds,
        durationSeconds: size.durationSeconds,
        scenarios,
        policies,
        results,
        loadAverage: { start: loadAtStart, end: loadAtEnd },
        minutes,
      },
    };
  },
};
