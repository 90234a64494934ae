// `runtime`: aggregate tokens/s of batched generation on the real small model (SmolLM2-135M
// Q4_1 from PyPI) through node-llama-cpp in process, for batch sizes 1..16; the batching gain
// (batch 8 vs batch 1); calibration time; and the calibrated cost model's prediction error:
// fit the measured profile (core fitLatencyProfile), predict each measured batch's latency.
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  calibrate,
  loadCalibrationText,
  type CalibrationPlan,
} from '../../src/agent/calibration.js';
import { fitLatencyProfile, type LatencyCoefficients } from '../../src/core/model/calibration.js';
import { createLlamaRuntime } from '../../src/runtime/llama.js';
import { REGISTRY_MODEL, registryModelPath } from '../../src/runtime/models/catalog.js';
import type { BatchOutput, GenerationRequest } from '../../src/runtime/types.js';
import { markdownTable, median, type BenchSuite } from '../suite.js';

const BATCH_SIZES = [1, 2, 4, 8, 16] as const;
const PROMPTS = [
  'The capital of France is',
  'Once upon a time, in a small village by the sea, there lived',
  'The best way to learn a new language is',
  'Water boils at a temperature of',
  'In the morning the baker lights the oven and',
  'A short history of the bicycle:',
  'The three primary colors are',
  'To make a cup of tea, first',
];
const PLAN: CalibrationPlan = {
  batchSizes: [1, 2, 4, 8, 16],
  promptTokens: [8, 16, 32],
  contextTokens: [16, 48],
  decodeSteps: 4,
  prefillRepeats: 2,
  perplexityTokens: 256,
};

/** Calibrated prediction of a measured batch: ragged prefill, then one step per decode round. */
function predictBatchSeconds(c: LatencyCoefficients, out: BatchOutput): number {
  const prompts = out.results.map((r) => r.promptTokens);
  let seconds =
    c.prefill.fixedSeconds +
    c.prefill.perTokenSeconds * prompts.reduce((a, s) => a + s, 0) +
    c.prefill.perTokenSquaredSeconds * prompts.reduce((a, s) => a + s * s, 0);
  for (let step = 1; step <= out.timings.decodeSteps; step++) {
    const active = out.results.filter((r) => r.completionTokens > step);
    if (active.length === 0) break;
    const context = active.reduce((a, r) => a + r.promptTokens + step, 0);
    seconds +=
      c.decodeStep.fixedSeconds +
      c.decodeStep.perSequenceSeconds * active.length +
      c.decodeStep.perContextTokenSeconds * context;
  }
  return seconds;
}

export const runtimeSuite: BenchSuite = {
  name: 'runtime',
  description:
    'batched generation tokens/s on SmolLM2-135M (node-llama-cpp), batching gain, calibration error',
  async run({ quick }) {
    const runs = quick ? 1 : 3;
    const maxTokens = quick ? 12 : 32;
    // BENCH_THREADS overrides the thread count (e.g. 1 on a machine shared with other work).
    const threads = Number(process.env.BENCH_THREADS ?? availableParallelism());
    const loadBefore = loadavg()[0] ?? 0;
    const runtime = await createLlamaRuntime({ threads });
    try {
      const loaded = await runtime.loadModel({
        name: REGISTRY_MODEL.name,
        quantization: REGISTRY_MODEL.quantization,
        path: registryModelPath(),
        maxSequences: 16,
        contextTokens: 16 * 256,
      });
      const text = await loadCalibrationText();
      const calibrationStart = performance.now();
      const profile = await calibrate(runtime, loaded.name, text, PLAN);
      const calibrationSeconds = (performance.now() - calibrationStart) / 1000;
      const coefficients = fitLatencyProfile(profile);

      // Warm-up batch (allocations, page cache).
      await runtime.generateBatch(
        loaded.name,
        [{ id: 'w', prompt: PROMPTS[0] ?? '', maxTokens: 4, sampling: { temperature: 0 } }],
        {},
      );
      const rows: {
        batchSize: number;
        tokensPerSecond: number;
        runsTokensPerSecond: number[];
        prefillSeconds: number;
        decodeStepSeconds: number;
        predictionErrors: number[];
      }[] = [];
      for (const batchSize of BATCH_SIZES) {
        const tps: number[] = [];
        const prefill: number[] = [];
        const step: number[] = [];
        const errors: number[] = [];
        for (let run = 0; run < runs; run++) {
          const requests: GenerationRequest[] = Array.from({ length: batchSize }, (_, i) => ({
            id: `r${i}`,
            prompt: PROMPTS[(i + run) % PROMPTS.length] ?? '',
            maxTokens,
            sampling: { temperature: 0 },
          }));
          const start = performance.now();
          const out = await runtime.generateBatch(loaded.name, requests, {});
          const seconds = (performance.now() - start) / 1000;
          const tokens = out.results.reduce((a, r) => a + r.completionTokens, 0);
          tps.push(tokens / seconds);
          prefill.push(out.timings.prefillSeconds);
          step.push(out.timings.decodeSeconds / Math.max(1, out.timings.decodeSteps));
          errors.push(Math.abs(predictBatchSeconds(coefficients, out) - seconds) / seconds);
        }
        rows.push({
          batchSize,
          tokensPerSecond: median(tps),
          runsTokensPerSecond: tps,
          prefillSeconds: median(prefill),
          decodeStepSeconds: median(step),
          predictionErrors: errors,
        });
      }
      const base = rows[0]?.tokensPerSecond ?? Number.NaN;
      const at8 = rows.find((r) => r.batchSize === 8)?.tokensPerSecond ?? Number.NaN;
      const gain = at8 / base;
      const allErrors = rows.flatMap((r) => r.predictionErrors);
      const medianError = median(allErrors);
      const table = markdownTable(
        [
          'batch',
          'tokens/s (median)',
          'vs batch 1',
          'prefill s',
          'decode step ms',
          'calibrated error (median)',
        ],
        rows.map((r) => [
          String(r.batchSize),
          r.tokensPerSecond.toFixed(1),
          `${(r.tokensPerSecond / base).toFixed(2)}x`,
          r.prefillSeconds.toFixed(3),
          (r.decodeStepSeconds * 1000).toFixed(1),
          `${(median(r.predictionErrors) * 100).toFixed(1)}%`,
        ]),
      );
      const loadAfter = loadavg()[0] ?? 0;
      // Prefill cost per token alone vs in the largest batch: equal means the CPU is
      // compute-bound (batching cannot amortize weight reads), lower means batching pays.
      const prefillPerToken = (b: number): number => {
        const s = profile.samples.filter((x) => x.phase === 'prefill' && x.batchSize === b);
        const longest = s.reduce(
          (m, x) => (x.contextTokens > (m?.contextTokens ?? 0) ? x : m),
          s[0],
        );
        return longest ? longest.seconds / (b * longest.contextTokens) : Number.NaN;
      };
      const largest = Math.max(...PLAN.batchSizes);
      const markdown = [
        `SmolLM2-135M-Instruct Q4_1 (PyPI \`${REGISTRY_MODEL.pypiPackage}\` ${REGISTRY_MODEL.version}), ` +
          `CPU, ${threads} threads, ${maxTokens} tokens per request, greedy, median of ${runs} run(s); ` +
          'node-llama-cpp in process (one context, one sequence per request).',
        '',
        table,
        '',
        `Batching gain (batch 8 vs batch 1): **${gain.toFixed(2)}x** (goal >= 2.5x). ` +
          `Calibrated prediction error, median over all batches: **${(medianError * 100).toFixed(1)}%** (goal < 15%). ` +
          `Calibration (${profile.samples.length} samples + perplexity over ${PLAN.perplexityTokens} tokens) took ` +
          `${calibrationSeconds.toFixed(1)} s; perplexity on data/calibration.txt: ${profile.perplexity?.toFixed(2) ?? 'n/a'}.`,
        '',
        `Machine load average (1 min) ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after. ` +
          `Calibrated prefill cost per token: ${(prefillPerToken(1) * 1000).toFixed(1)} ms alone, ` +
          `${(prefillPerToken(largest) * 1000).toFixed(1)} ms in a batch of ${largest} ` +
          '(similar values mean the CPU is compute-bound, where batching cannot amortize weight reads).',
      ].join('\n');
      return {
        name: 'runtime',
        title: 'Runtime: batched generation on SmolLM2-135M',
        markdown,
        data: {
          threads,
          maxTokens,
          runs,
          rows,
          gain,
          medianError,
          calibrationSeconds,
          profile,
          coefficients,
        },
      };
    } finally {
      await runtime.dispose();
    }
  },
};
