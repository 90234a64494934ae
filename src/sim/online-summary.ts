// Runs every scenario of the online family under every policy over several seeds (common random
// numbers: each policy sees the same arrivals) and summarises SLA attainment and throughput per
// scenario and policy as the median with the min-max spread over the seeds.
import { median } from '../core/stats.js';
import { markdownTable } from '../report/markdown.js';
import { runOnline, type OnlinePolicy, type OnlineRun } from './online-experiment.js';
import type { OnlineScenario } from './online-scenarios.js';

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export interface OnlineSummaryRow {
  readonly scenario: string;
  /** OnlinePolicy.label. */
  readonly policy: string;
  readonly seeds: number;
  readonly slaAttainment: Spread;
  readonly throughputPerSecond: Spread;
  readonly meanBatchSize: Spread;
  /** Seeds where this policy's attainment is below another policy's on the same seed. */
  readonly behindBestOther: number;
}

export interface OnlineExperiment {
  readonly seeds: readonly number[];
  readonly runs: readonly OnlineRun[];
  readonly summary: readonly OnlineSummaryRow[];
}

function spread(values: readonly number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

export function runOnlineFamily(
  scenarios: readonly OnlineScenario[],
  policies: readonly OnlinePolicy[],
  seeds: readonly number[],
  progress: (run: OnlineRun) => void = () => undefined,
): OnlineExperiment {
  const runs: OnlineRun[] = [];
  for (const scenario of scenarios)
    for (const seed of seeds)
      for (const policy of policies) {
        const run = runOnline(scenario, policy, seed);
        runs.push(run);
        progress(run);
      }
  const summary: OnlineSummaryRow[] = [];
  for (const scenario of scenarios)
    for (const { label: policy } of policies) {
      const mine = runs.filter((r) => r.scenario === scenario.name && r.policy === policy);
      const behind = mine.filter((r) =>
        runs.some(
          (o) =>
            o.scenario === r.scenario &&
            o.seed === r.seed &&
            o.policy !== policy &&
            o.slaAttainment > r.slaAttainment,
        ),
      ).length;
      summary.push({
        scenario: scenario.name,
        policy,
        seeds: mine.length,
        slaAttainment: spread(mine.map((r) => r.slaAttainment)),
        throughputPerSecond: spread(mine.map((r) => r.throughputPerSecond)),
        meanBatchSize: spread(mine.map((r) => r.meanBatchSize)),
        behindBestOther: behind,
      });
    }
  return { seeds, runs, summary };
}

const pct = (s: Spread): string =>
  `${(s.median * 100).toFixed(1)}% (${(s.min * 100).toFixed(1)}–${(s.max * 100).toFixed(1)})`;
const num = (s: Spread): string =>
  `${s.median.toFixed(2)} (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;

/** One table per scenario: policy, SLA attainment, met/s, batch size, seeds behind another. */
export function onlineMarkdown(
  experiment: OnlineExperiment,
  scenarios: readonly OnlineScenario[],
): string {
  return scenarios
    .map((s) => {
      const rows = experiment.summary
        .filter((r) => r.scenario === s.name)
        .map((r) => [
          r.policy,
          pct(r.slaAttainment),
          num(r.throughputPerSecond),
          num(r.meanBatchSize),
          `${r.behindBestOther}/${r.seeds}`,
        ]);
      return `**${s.name}**: ${s.stresses}. Median (min–max) over ${experiment.seeds.length} seeds.\n\n${markdownTable(
        ['policy', 'SLA attainment', 'met/s', 'batch size', 'seeds behind another policy'],
        rows,
      )}`;
    })
    .join('\n\n');
}
