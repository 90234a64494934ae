// Calibration: measures the latency profile the `calibrated` cost model consumes (prefill time
// by batch size and prompt length; decode step time by batch size and context length) and the
// perplexity of a model variant on the calibration text shipped in data/calibration.txt.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LatencyProfile, ProfileSample } from '../core/model/profile.js';
import { PROFILE_PHASE } from '../core/model/profile.js';
import type { LlamaRuntime } from '../runtime/llama.js';
import {
  measureDecodeSteps,
  measurePrefillSeconds,
  textLogProbabilities,
} from '../runtime/measure.js';
import { repoRoot } from '../runtime/models/catalog.js';

export interface CalibrationPlan {
  /** Batch sizes to measure (capped at the model's maxSequences). */
  readonly batchSizes: readonly number[];
  /** Prompt lengths (tokens per sequence) for prefill samples. */
  readonly promptTokens: readonly number[];
  /** Context lengths (tokens each sequence attends to in the first timed step) for decode samples. */
  readonly contextTokens: readonly number[];
  /** Decode steps timed per (batch, context) point; the sample is their median. */
  readonly decodeSteps: number;
  /** Prefill repetitions per (batch, prompt) point; the sample is their median. */
  readonly prefillRepeats: number;
  /** Most tokens of the calibration text scored for perplexity (0 skips perplexity). */
  readonly perplexityTokens: number;
}

/** Plans: `quick` for agent start-up (a few seconds on a small model), `full` for `GetProfile` refreshes and benchmarks. */
export const CALIBRATION_PLANS = {
  quick: {
    batchSizes: [1, 4],
    promptTokens: [16, 64],
    contextTokens: [16, 64],
    decodeSteps: 3,
    prefillRepeats: 1,
    perplexityTokens: 128,
  },
  full: {
    batchSizes: [1, 2, 4, 8, 16],
    promptTokens: [16, 64, 128],
    contextTokens: [16, 128, 256],
    decodeSteps: 5,
    prefillRepeats: 3,
    perplexityTokens: 512,
  },
} as const satisfies Record<string, CalibrationPlan>;

/** Path of the shipped calibration text. */
export function calibrationTextPath(root = repoRoot()): string {
  return join(root, 'data', 'calibration.txt');
}

export function loadCalibrationText(path = calibrationTextPath()): Promise<string> {
  return readFile(path, 'utf8');
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? 0)
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** exp(-mean log p): the perplexity of the model on the first window of `text`. */
export async function measurePerplexity(
  runtime: LlamaRuntime,
  model: string,
  text: string,
  maxTokens: number = CALIBRATION_PLANS.full.perplexityTokens,
): Promise<number> {
  const { logProbabilities } = await textLogProbabilities(runtime, model, text, maxTokens);
  const mean = logProbabilities.reduce((a, b) => a + b, 0) / logProbabilities.length;
  return Math.exp(-mean);
}

/**
 * Measures the latency profile (and perplexity, unless the plan skips it) of a loaded model.
 * Points that do not fit one sequence's context are skipped.
 */
export async function calibrate(
  runtime: LlamaRuntime,
  model: string,
  text: string,
  plan: CalibrationPlan = CALIBRATION_PLANS.quick,
): Promise<LatencyProfile> {
  const info = runtime.loadedModels().find((m) => m.name === model);
  if (!info) await runtime.countTokens(model, ''); // throws the typed ModelNotFoundError
  const maxSequences = info?.maxSequences ?? 1;
  const perSequence = runtime.sequenceContextTokens(model);
  const source = runtime.promptTokens(model, text);
  const batchSizes = [...new Set(plan.batchSizes.map((b) => Math.min(b, maxSequences)))];
  const samples: ProfileSample[] = [];

  // Warm-up: the first evaluations after load pay one-off costs (the first 16-token prefill
  // after an 8-token one measured 137 ms, the next three 104-116 ms), so the plan's first
  // point runs once untimed.
  const firstPrompt = plan.promptTokens.find((p) => p <= perSequence) ?? 8;
  await measurePrefillSeconds(
    runtime,
    model,
    source,
    batchSizes[0] ?? 1,
    Math.min(firstPrompt, perSequence),
  );

  for (const batchSize of batchSizes) {
    for (const promptTokens of plan.promptTokens.filter((p) => p <= perSequence)) {
      const runs: number[] = [];
      for (let r = 0; r < plan.prefillRepeats; r++) {
        runs.push(await measurePrefillSeconds(runtime, model, source, batchSize, promptTokens));
      }
      samples.push({
        phase: PROFILE_PHASE.prefill,
        batchSize,
        contextTokens: promptTokens,
        seconds: median(runs),
      });
    }
    for (const contextTokens of plan.contextTokens.filter(
      (c) => c >= 2 && c + plan.decodeSteps <= perSequence,
    )) {
      const steps = await measureDecodeSteps(
        runtime,
        model,
        source,
        batchSize,
        contextTokens,
        plan.decodeSteps,
      );
      // The steps attend to contextTokens, contextTokens + 1, ... tokens per sequence.
      const attended = steps.reduce((a, step) => a + step.contextTokens / step.sequences, 0);
      samples.push({
        phase: PROFILE_PHASE.decode,
        batchSize,
        contextTokens: Math.round(attended / Math.max(1, steps.length)),
        seconds: median(steps.map((step) => step.seconds)),
      });
    }
  }
  const profile: LatencyProfile = {
    model,
    quantization: info?.quantization ?? '',
    threads: runtime.capabilities().threads,
    samples,
  };
  if (plan.perplexityTokens <= 0) return profile;
  return {
    ...profile,
    perplexity: await measurePerplexity(runtime, model, text, plan.perplexityTokens),
  };
}
