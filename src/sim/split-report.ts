// Rendering the split experiment: markdown tables for stdout, SVG charts for the files.
import { markdownTable } from '../report/markdown.js';
import { renderBarChart } from './bar-chart.js';
import { renderLineChart } from './svg.js';
import { EXPERIMENT_ALGORITHMS, type SplitExperimentResult } from './split-experiment.js';

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

export function splitExperimentMarkdown(result: SplitExperimentResult): string {
  const c = result.config;
  const workload = markdownTable(
    [
      'algorithm',
      'server TFLOPs (mix total)',
      'reduction vs server-only',
      'mean per-type reduction',
      'types meeting SLA',
    ],
    result.summary.map((s) => [
      s.algorithm,
      (s.totalServerFlops / 1e12).toFixed(2),
      pct(s.reductionVsServerOnly),
      pct(s.meanPerTypeReduction),
      `${s.feasibleTypes}/${result.types.length}`,
    ]),
  );
  const byModel = markdownTable(
    ['model', ...EXPERIMENT_ALGORITHMS.filter((a) => a !== 'server-only')],
    result.byModel.map((m) => [
      m.model,
      ...EXPERIMENT_ALGORITHMS.filter((a) => a !== 'server-only').map((a) =>
        pct(m.reductionVsServerOnly[a]),
      ),
    ]),
  );
  const queue = markdownTable(
    [
      'algorithm',
      'mean service s',
      'capacity req/s (1/E[S])',
      `sustained req/s (p99 wait <= ${c.queueing.waitTargetSeconds} s)`,
    ],
    result.queueing.summary.map((q) => [
      q.algorithm,
      q.meanServiceSeconds.toFixed(4),
      q.capacityPerSecond.toFixed(2),
      q.sustainedPerSecond.toFixed(2),
    ]),
  );
  const soCapacity =
    result.queueing.summary.find((q) => q.algorithm === 'server-only')?.capacityPerSecond ?? 1;
  const atRates = [0.5, 0.9].map((f) => f * soCapacity);
  const waits = markdownTable(
    [
      'algorithm',
      ...atRates.flatMap((r) => [`mean wait @${r.toFixed(1)}/s`, `p99 wait @${r.toFixed(1)}/s`]),
    ],
    EXPERIMENT_ALGORITHMS.map((a) => [
      a,
      ...atRates.flatMap((r) => {
        const points = result.queueing.points.filter((p) => p.algorithm === a);
        const nearest = points.reduce((best, p) =>
          Math.abs(p.arrivalRatePerSecond - r) < Math.abs(best.arrivalRatePerSecond - r) ? p : best,
        );
        return [nearest.meanWaitSeconds.toFixed(4), nearest.p99WaitSeconds.toFixed(4)];
      }),
    ]),
  );
  return [
    `Split experiment: ${result.types.length} request types (${c.models.length} models x ${c.prompts.reduce((n, p) => n + p.slaSeconds.length, 0)} prompt/SLA kinds x ${c.clients.length} clients x ${c.links.length} links), server ${(c.serverComputeFlops / 1e12).toFixed(0)} TFLOP/s, exact DP (dp, dp-sublayer) and the spec's discretised DP with K = ${c.steps} (dp-steps), seed ${result.seed}.`,
    '',
    '### Server workload',
    '',
    workload,
    '',
    `Exact DP vs prefix greedy (ours): ${pct(result.dpOverPrefixGreedy)} less server workload; vs ratio greedy (ours): ${pct(result.dpOverRatioGreedy)}; vs dp-steps (K = ${c.steps}): ${pct(result.dpOverDpSteps)}. ` +
      result.perTypeVsOthers
        .map(
          (g) =>
            `Per type, dp beats ${g.baseline} in ${g.better} of ${result.types.length} types (by up to ${pct(g.maxImprovement)}) and loses in ${g.worse}.`,
        )
        .join(' '),
    '',
    '### Reduction vs server-only, by model',
    '',
    byModel,
    '',
    `### Queueing (Poisson arrivals, one FCFS server, ${c.queueing.arrivals} arrivals per rate)`,
    '',
    queue,
    '',
    waits,
    '',
  ].join('\n');
}

export function splitWorkloadSvg(result: SplitExperimentResult): string {
  return renderBarChart({
    title: 'Server workload over the request mix',
    xLabel: 'placement algorithm',
    yLabel: 'server TFLOPs (mix total)',
    bars: result.summary.map((s) => ({ label: s.algorithm, value: s.totalServerFlops / 1e12 })),
    format: (v) => v.toFixed(1),
  });
}

/** p99 waits below this are drawn at it (a log axis has no 0). */
const WAIT_FLOOR_SECONDS = 1e-4;

export function splitQueueingSvg(result: SplitExperimentResult): string {
  return renderLineChart({
    title: 'Waiting time at one server (p99, log scale)',
    xLabel: 'arrival rate (requests/s)',
    yLabel: `p99 waiting time (s, floored at ${WAIT_FLOOR_SECONDS})`,
    logY: true,
    series: EXPERIMENT_ALGORITHMS.map((a) => ({
      name: a,
      points: result.queueing.points
        .filter((p) => p.algorithm === a)
        .map(
          (p) => [p.arrivalRatePerSecond, Math.max(WAIT_FLOOR_SECONDS, p.p99WaitSeconds)] as const,
        ),
    })),
  });
}
