// The calibrated latency model's error on the real runtime: the agent's start-up calibration
// (CALIBRATION_PLANS.quick, what `edgellm agent` measures when it starts), fitted as the
// operator fits it (fitLatencyProfile), predicts each batch's prefill and decode phases
// (predictBatchPhases); the same batches then feed the agent's ProfileStore, which refines the
// profile online exactly as GetProfile serves it. Errors are |predicted - measured| / measured
// per batch, for the whole batch and for each phase, before and after refinement.
//
// The prediction gets the batch's real shape (prompt lengths, sequences per decode step, as the
// runtime observed them): this measures the latency model, not the guess of how many tokens a
// request will generate.
import { performance } from 'node:perf_hooks';
import { calibrate, CALIBRATION_PLANS, loadCalibrationText } from '../../src/agent/calibration.js';
import { ProfileStore } from '../../src/agent/profile-store.js';
import {
  fitLatencyProfile,
  predictBatchPhases,
  type LatencyCoefficients,
} from '../../src/core/model/calibration.js';
import type { ObservedDecodeStep } from '../../src/core/model/observed-profile.js';
import type { LatencyProfile } from '../../src/core/model/profile.js';
import type { LlamaRuntime } from '../../src/runtime/llama.js';
import type { GenerationRequest } from '../../src/runtime/types.js';
import { markdownTable, median, quantile } from '../suite.js';

export interface CalibrationWorkload {
  readonly batchSizes: readonly number[];
  /** Prompt lengths in characters of the calibration text (about 4 characters a token). */
  readonly promptChars: readonly number[];
  readonly maxTokens: readonly number[];
  /** Passes over every (batch size, prompt, maxTokens) shape; refined errors are of the last. */
  readonly passes: number;
}

export interface BatchError {
  readonly pass: number;
  readonly batchSize: number;
  /** The workload's shape: prompt length in characters and maxTokens (repeated every pass). */
  readonly promptChars: number;
  readonly maxTokens: number;
  readonly promptTokens: readonly number[];
  readonly decodeSteps: number;
  /** Each decode step as the runtime timed it: sequences and seconds. */
  readonly steps: readonly ObservedDecodeStep[];
  readonly measured: { readonly prefillSeconds: number; readonly decodeSeconds: number };
  /** Fitted start-up calibration. */
  readonly startup: { readonly prefillSeconds: number; readonly decodeSeconds: number };
  /** Fitted start-up calibration refined by every batch run before this one. */
  readonly refined: { readonly prefillSeconds: number; readonly decodeSeconds: number };
}

export interface CalibrationResult {
  readonly calibrationSeconds: number;
  readonly startupProfile: LatencyProfile;
  readonly startupCoefficients: LatencyCoefficients;
  readonly finalProfile: LatencyProfile;
  readonly batches: readonly BatchError[];
}

function relative(predicted: number, measured: number): number {
  return Math.abs(predicted - measured) / measured;
}

/** Calibrates `model` as the agent does at start-up, then runs the workload, predicting every batch. */
export async function measureCalibrationError(
  runtime: LlamaRuntime,
  model: string,
  workload: CalibrationWorkload,
): Promise<CalibrationResult> {
  const text = await loadCalibrationText();
  const start = performance.now();
  const startupProfile = await calibrate(runtime, model, text, CALIBRATION_PLANS.quick);
  const calibrationSeconds = (performance.now() - start) / 1000;
  const startupCoefficients = fitLatencyProfile(startupProfile);
  const store = new ProfileStore(runtime);
  store.set(model, startupProfile);

  const batches: BatchError[] = [];
  let offset = 0;
  for (let pass = 1; pass <= workload.passes; pass++) {
    for (const batchSize of workload.batchSizes) {
      for (const chars of workload.promptChars) {
        for (const maxTokens of workload.maxTokens) {
          const requests: GenerationRequest[] = Array.from({ length: batchSize }, (_, i) => {
            // Different text for every sequence and batch; lengths vary +-25% within the batch.
            const length = Math.round(chars * (0.75 + (0.5 * i) / Math.max(1, batchSize - 1)));
            offset = (offset + 997) % Math.max(1, text.length - length);
            return {
              id: `c${i}`,
              prompt: text.slice(offset, offset + length),
              maxTokens,
              sampling: { temperature: 0 },
            };
          });
          const refinedProfile = store.get(model) ?? startupProfile;
          const refinedCoefficients = fitLatencyProfile(refinedProfile);
          const out = await runtime.generateBatch(model, requests, {});
          const o = out.observation;
          const shape = { promptTokens: o.promptTokens, decodeSteps: o.decodeSteps };
          batches.push({
            pass,
            batchSize,
            promptChars: chars,
            maxTokens,
            promptTokens: o.promptTokens,
            decodeSteps: o.decodeSteps.length,
            steps: o.decodeSteps,
            measured: {
              prefillSeconds: o.prefillSeconds,
              decodeSeconds: o.decodeSteps.reduce((a, s) => a + s.seconds, 0),
            },
            startup: predictBatchPhases(startupCoefficients, shape),
            refined: predictBatchPhases(refinedCoefficients, shape),
          });
          store.observe(model, o);
        }
      }
    }
  }
  return {
    calibrationSeconds,
    startupProfile,
    startupCoefficients,
    finalProfile: store.get(model) ?? startupProfile,
    batches,
  };
}

export interface ErrorSummary {
  readonly median: number;
  readonly p90: number;
}

export interface CalibrationErrors {
  readonly total: ErrorSummary;
  readonly prefill: ErrorSummary;
  readonly decode: ErrorSummary;
  readonly batches: number;
}

function summary(values: readonly number[]): ErrorSummary {
  return values.length === 0
    ? { median: Number.NaN, p90: Number.NaN }
    : { median: median(values), p90: quantile(values, 0.9) };
}

type Phases = { readonly prefillSeconds: number; readonly decodeSeconds: number };

/** Errors of `predict` over `batches`: whole batch, prefill, decode (batches with steps). */
function errorsOf(
  batches: readonly BatchError[],
  predict: (b: BatchError) => Phases,
): CalibrationErrors {
  const total = batches.map((b) => {
    const p = predict(b);
    return relative(
      p.prefillSeconds + p.decodeSeconds,
      b.measured.prefillSeconds + b.measured.decodeSeconds,
    );
  });
  const prefill = batches.map((b) =>
    relative(predict(b).prefillSeconds, b.measured.prefillSeconds),
  );
  const decode = batches
    .filter((b) => b.decodeSteps > 0 && b.measured.decodeSeconds > 0)
    .map((b) => relative(predict(b).decodeSeconds, b.measured.decodeSeconds));
  return {
    total: summary(total),
    prefill: summary(prefill),
    decode: summary(decode),
    batches: batches.length,
  };
}

/** Error of `which` prediction over `batches`: whole batch, prefill, decode (batches with steps). */
export function calibrationErrors(
  batches: readonly BatchError[],
  which: 'startup' | 'refined',
): CalibrationErrors {
  return errorsOf(batches, (b) => b[which]);
}

const shapeKey = (b: BatchError): string => `${b.batchSize}/${b.promptChars}/${b.maxTokens}`;

/**
 * The run's repeat noise: each batch of the last pass "predicted" by the median measured phases
 * of the same shape (batch size, prompt length, maxTokens) in the passes before. No latency
 * model can be expected to beat it by much: it is how far the same batch's time moves between
 * passes on this machine. Undefined with a single pass.
 */
export function repeatNoise(batches: readonly BatchError[]): CalibrationErrors | undefined {
  const last = Math.max(...batches.map((b) => b.pass));
  const earlier = new Map<string, BatchError[]>();
  for (const b of batches) {
    if (b.pass === last) continue;
    const list = earlier.get(shapeKey(b)) ?? [];
    list.push(b);
    earlier.set(shapeKey(b), list);
  }
  const scored = batches.filter((b) => b.pass === last && earlier.has(shapeKey(b)));
  if (scored.length === 0) return undefined;
  return errorsOf(scored, (b) => {
    const same = earlier.get(shapeKey(b)) ?? [];
    return {
      prefillSeconds: median(same.map((x) => x.measured.prefillSeconds)),
      decodeSeconds: median(same.map((x) => x.measured.decodeSeconds)),
    };
  });
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

/** Markdown: median and p90 error of the start-up and the refined profile, by phase. */
export function calibrationTable(result: CalibrationResult): string {
  const last = Math.max(...result.batches.map((b) => b.pass));
  const rows: [string, CalibrationErrors][] = [
    ['start-up calibration, all passes', calibrationErrors(result.batches, 'startup')],
    [
      `start-up calibration, pass ${last}`,
      calibrationErrors(
        result.batches.filter((b) => b.pass === last),
        'startup',
      ),
    ],
    [
      'refined online, pass 1 (refinement starting from nothing)',
      calibrationErrors(
        result.batches.filter((b) => b.pass === 1),
        'refined',
      ),
    ],
    [
      `refined online, pass ${last}`,
      calibrationErrors(
        result.batches.filter((b) => b.pass === last),
        'refined',
      ),
    ],
  ];
  const noise = repeatNoise(result.batches);
  if (noise) {
    rows.push([
      `repeat noise, pass ${last}: the same shape's median time in the passes before (no model)`,
      noise,
    ]);
  }
  return markdownTable(
    [
      'profile',
      'batches',
      'batch error median',
      'p90',
      'prefill median',
      'p90',
      'decode median',
      'p90',
    ],
    rows.map(([label, e]) => [
      label,
      String(e.batches),
      pct(e.total.median),
      pct(e.total.p90),
      pct(e.prefill.median),
      pct(e.prefill.p90),
      pct(e.decode.median),
      pct(e.decode.p90),
    ]),
  );
}

/**
 * Markdown: measured decode step time by the sequences in the step (median over every step of
 * the run, with its p10-p90) against the final refined fit's prediction of the same steps: where
 * the fitted form (fixed + per sequence + per context token) bends away from the hardware.
 */
export function stepTable(result: CalibrationResult): string {
  const fit = fitLatencyProfile(result.finalProfile);
  const bySequences = new Map<number, { measured: number[]; predicted: number[] }>();
  for (const b of result.batches) {
    for (const step of b.steps) {
      const entry = bySequences.get(step.sequences) ?? { measured: [], predicted: [] };
      entry.measured.push(step.seconds);
      entry.predicted.push(
        predictBatchPhases(fit, { promptTokens: [], decodeSteps: [step] }).decodeSeconds,
      );
      bySequences.set(step.sequences, entry);
    }
  }
  const ms = (x: number): string => (x * 1000).toFixed(1);
  return markdownTable(
    ['sequences', 'steps', 'measured ms median (p10–p90)', 'refined fit ms', 'fit / measured'],
    [...bySequences.entries()]
      .filter(([, e]) => e.measured.length >= 10)
      .sort(([a], [b]) => a - b)
      .map(([sequences, e]) => [
        String(sequences),
        String(e.measured.length),
        `${ms(median(e.measured))} (${ms(quantile(e.measured, 0.1))}–${ms(quantile(e.measured, 0.9))})`,
        ms(median(e.predicted)),
        (median(e.predicted) / median(e.measured)).toFixed(2),
      ]),
  );
}
