// `edgellm simulate`: the scheduling experiment (spec §6): table, JSON and SVG figures.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Command } from 'commander';
import { readJsonInput } from '../input.js';
import {
  DEFAULT_SCHEDULING_SCENARIO,
  schedulingScenarioSchema,
  type SchedulingScenario,
} from '../../sim/scheduling-scenario.js';
import {
  runSchedulingExperiment,
  type SchedulingExperiment,
} from '../../sim/scheduling-experiment.js';
import { renderLineChart } from '../../sim/svg.js';
import { markdownTable } from '../../report/markdown.js';
import { runOnlineSimulation } from '../online-simulate.js';
import { runSplitSimulation } from '../split-simulate.js';

export interface SimulateOptions {
  readonly out: string;
  readonly scenario?: string;
  readonly trials?: string;
  /** Run the split-planning experiment instead (src/sim/split-experiment.ts). */
  readonly split?: boolean;
  readonly seed?: string;
  readonly arrivals?: string;
  /** Run the online scenario family instead (src/sim/online-scenarios.ts). */
  readonly online?: boolean;
  readonly seeds?: string;
  readonly only?: string;
}

function throughputTables(result: SchedulingExperiment, scenario: SchedulingScenario): string {
  const policies = [...new Set(result.throughput.map((r) => r.policy))];
  return scenario.variants
    .map((v) => {
      const rows = scenario.users.map((users) => [
        String(users),
        ...policies.map((p) => {
          const row = result.throughput.find(
            (r) => r.variant === v.quantization && r.users === users && r.policy === p,
          );
          return row ? row.requestsPerEpoch.toFixed(2) : '-';
        }),
      ]);
      return `Requests served per epoch, ${v.quantization} (mean of ${scenario.trials} trials)\n\n${markdownTable(['users', ...policies], rows)}`;
    })
    .join('\n\n');
}

function complexityTable(result: SchedulingExperiment): string {
  return markdownTable(
    [
      'variant',
      'users N',
      'DFTSP nodes (median)',
      'DFTSP nodes (max)',
      'brute force 2^N',
      'reduction',
    ],
    result.complexity.map((c) => [
      c.variant,
      String(c.users),
      String(c.dftspNodesMedian),
      String(c.dftspNodesMax),
      c.bruteForceNodes.toExponential(2),
      `${(c.reduction * 100).toFixed(4)}%`,
    ]),
  );
}

export async function simulate(options: SimulateOptions): Promise<SchedulingExperiment> {
  let scenario = options.scenario
    ? await readJsonInput(options.scenario, schedulingScenarioSchema, 'scenario')
    : DEFAULT_SCHEDULING_SCENARIO;
  if (options.trials !== undefined) scenario = { ...scenario, trials: Number(options.trials) };
  const result = runSchedulingExperiment(scenario, () => performance.now() / 1000);
  await mkdir(options.out, { recursive: true });
  await writeFile(
    join(options.out, 'scheduling.json'),
    `${JSON.stringify({ scenario, result }, null, 2)}\n`,
  );
  const policies = [...new Set(result.throughput.map((r) => r.policy))];
  const figures: string[] = [];
  for (const v of scenario.variants) {
    const file = `throughput-${v.quantization}.svg`;
    await writeFile(
      join(options.out, file),
      renderLineChart({
        title: `Throughput vs users, ${scenario.model.name} ${v.quantization}`,
        xLabel: 'users per epoch',
        yLabel: 'requests served per epoch',
        series: policies.map((p) => ({
          name: p,
          points: result.throughput
            .filter((r) => r.variant === v.quantization && r.policy === p)
            .map((r) => [r.users, r.requestsPerEpoch] as const),
        })),
      }),
    );
    figures.push(file);
  }
  await writeFile(
    join(options.out, 'complexity.svg'),
    renderLineChart({
      title: 'Tree nodes evaluated: DFTSP (median) vs brute force',
      xLabel: 'users N',
      yLabel: 'nodes evaluated (log scale)',
      logY: true,
      series: [
        ...scenario.variants.map((v) => ({
          name: `DFTSP ${v.quantization}`,
          points: result.complexity
            .filter((c) => c.variant === v.quantization)
            .map((c) => [c.users, Math.max(1, c.dftspNodesMedian)] as const),
        })),
        { name: 'brute force 2^N', points: scenario.users.map((u) => [u, 2 ** u] as const) },
      ],
    }),
  );
  figures.push('complexity.svg');
  process.stdout.write(
    `Scenario "${scenario.name}": ${scenario.description}\n\n${throughputTables(result, scenario)}\n\nComplexity\n\n${complexityTable(result)}\n\nwrote ${join(options.out, 'scheduling.json')} and ${figures.map((f) => join(options.out, f)).join(', ')}\n`,
  );
  return result;
}

export function register(program: Command): void {
  program
    .command('simulate')
    .description(
      'Reproduce the scheduling experiment: throughput of DFTSP vs baselines, complexity vs brute force',
    )
    .option('-o, --out <dir>', 'where to write the JSON and SVG figures', 'simulation')
    .option('-s, --scenario <file>', 'scenario JSON (default: the built-in paper-shape scenario)')
    .option('-t, --trials <n>', 'override the number of trials per point')
    .option(
      '--split',
      'run the split-planning experiment instead: DP vs server-only and greedy, server queueing',
    )
    .option('--seed <n>', 'with --split or --online: seed of the random source', '1')
    .option('--arrivals <n>', 'with --split: arrivals per simulated arrival rate')
    .option(
      '--online',
      'run the online scenario family instead: arrivals over time on several nodes, SLA attainment and throughput per policy (docs/scheduling-scenarios.md)',
    )
    .option('--seeds <n>', 'with --online: seeds per scenario (from --seed)', '5')
    .option('--only <names>', 'with --online: comma-separated scenario names')
    .action(async (opts: SimulateOptions) => {
      if (opts.online === true) {
        await runOnlineSimulation({
          out: opts.out,
          seed: Number(opts.seed ?? '1'),
          seeds: Number(opts.seeds ?? '5'),
          ...(opts.only === undefined ? {} : { scenarios: opts.only.split(',') }),
        });
        return;
      }
      if (opts.split === true) {
        await runSplitSimulation({
          out: opts.out,
          seed: Number(opts.seed ?? '1'),
          ...(opts.arrivals === undefined ? {} : { arrivals: Number(opts.arrivals) }),
        });
        return;
      }
      await simulate(opts);
    });
}
