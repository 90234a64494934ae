// Fitting the node's measured latency profile (option `compute: calibrated`).
//
// The fitted model, per batch of sequences u with prompt s_u and context c:
//   prefill seconds     = p0 + p1 * sum_u s_u + p2 * sum_u s_u^2      (one pass over all prompts)
//   decode step seconds = d0 + d1 * b_active + d2 * sum_active c_u     (one token per sequence)
// p0/d0 capture per-pass overhead (weights read once per pass: what makes batching pay),
// p1/d1 the per-token dense work, p2/d2 attention over the context. Coefficients are fitted by
// non-negative least squares on relative error, so every prediction is monotone in batch size
// and lengths (the anti-monotonicity the scheduler's pruning relies on).
import { PROFILE_PHASE, type LatencyProfile, type ProfileSample } from './profile.js';

export interface LatencyCoefficients {
  readonly prefill: {
    readonly fixedSeconds: number;
    readonly perTokenSeconds: number;
    readonly perTokenSquaredSeconds: number;
  };
  readonly decodeStep: {
    readonly fixedSeconds: number;
    readonly perSequenceSeconds: number;
    readonly perContextTokenSeconds: number;
  };
}

export class CalibrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CalibrationError';
  }
}

/** Fewest samples per phase for a fit of three coefficients. */
const MIN_SAMPLES_PER_PHASE = 3;

/** Fits the profile's samples; throws CalibrationError when a phase has too few usable samples. */
export function fitLatencyProfile(profile: LatencyProfile): LatencyCoefficients {
  const usable = profile.samples.filter(
    (s) => Number.isFinite(s.seconds) && s.seconds > 0 && s.batchSize >= 1 && s.contextTokens >= 0,
  );
  const prefill = usable.filter((s) => s.phase === PROFILE_PHASE.prefill);
  const decode = usable.filter((s) => s.phase === PROFILE_PHASE.decode);
  for (const [phase, samples] of [
    ['prefill', prefill],
    ['decode', decode],
  ] as const) {
    if (samples.length < MIN_SAMPLES_PER_PHASE) {
      throw new CalibrationError(
        `profile of ${profile.model}/${profile.quantization} has ${samples.length} usable ${phase} samples; at least ${MIN_SAMPLES_PER_PHASE} are needed: re-run calibration`,
      );
    }
  }
  const [p0, p1, p2] = nnlsRelative(
    prefill.map((s) => [1, s.batchSize * s.contextTokens, s.batchSize * s.contextTokens ** 2]),
    prefill.map((s) => s.seconds),
  );
  const [d0, d1, d2] = nnlsRelative(
    decode.map((s) => [1, s.batchSize, s.batchSize * s.contextTokens]),
    decode.map((s) => s.seconds),
  );
  return {
    prefill: { fixedSeconds: p0, perTokenSeconds: p1, perTokenSquaredSeconds: p2 },
    decodeStep: { fixedSeconds: d0, perSequenceSeconds: d1, perContextTokenSeconds: d2 },
  };
}

/** Predicted seconds of one sample's measurement under the fitted coefficients. */
export function predictSample(c: LatencyCoefficients, sample: ProfileSample): number {
  const b = sample.batchSize;
  const t = sample.contextTokens;
  return sample.phase === PROFILE_PHASE.prefill
    ? c.prefill.fixedSeconds +
        c.prefill.perTokenSeconds * b * t +
        c.prefill.perTokenSquaredSeconds * b * t * t
    : c.decodeStep.fixedSeconds +
        c.decodeStep.perSequenceSeconds * b +
        c.decodeStep.perContextTokenSeconds * b * t;
}

/** The shape of a run batch the fitted model prices: its prompts, then its decode steps. */
export interface BatchShape {
  /** Prompt tokens of each sequence (evaluated together). */
  readonly promptTokens: readonly number[];
  /** Each decode step: sequences still generating, and their summed context after the step. */
  readonly decodeSteps: readonly { readonly sequences: number; readonly contextTokens: number }[];
}

/**
 * Predicted seconds of a batch's two phases: one prefill pass over all prompts, then every
 * decode step (the fitted model of a ragged batch, step by step, as the runtime runs it).
 */
export function predictBatchPhases(
  c: LatencyCoefficients,
  batch: BatchShape,
): { readonly prefillSeconds: number; readonly decodeSeconds: number } {
  let sum = 0;
  let squares = 0;
  for (const s of batch.promptTokens) {
    sum += s;
    squares += s * s;
  }
  const prefillSeconds =
    batch.promptTokens.length === 0
      ? 0
      : c.prefill.fixedSeconds +
        c.prefill.perTokenSeconds * sum +
        c.prefill.perTokenSquaredSeconds * squares;
  let decodeSeconds = 0;
  for (const step of batch.decodeSteps) {
    decodeSeconds +=
      c.decodeStep.fixedSeconds +
      c.decodeStep.perSequenceSeconds * step.sequences +
      c.decodeStep.perContextTokenSeconds * step.contextTokens;
  }
  return { prefillSeconds, decodeSeconds };
}

type Vec3 = readonly [number, number, number];

/**
 * Non-negative least squares for three coefficients, minimising relative error
 * sum ((x.a - y) / y)^2, by trying every active set (7 of them) and keeping the best feasible.
 */
function nnlsRelative(rows: readonly Vec3[], ys: readonly number[]): Vec3 {
  let best: Vec3 = [0, 0, 0];
  let bestErr = Infinity;
  for (let mask = 1; mask < 8; mask++) {
    const cols = [0, 1, 2].filter((j) => (mask >> j) & 1);
    const solution = solveRestricted(rows, ys, cols);
    if (!solution || solution.some((v) => v < 0)) continue;
    const x: [number, number, number] = [0, 0, 0];
    cols.forEach((j, k) => (x[j] = solution[k] ?? 0));
    let err = 0;
    rows.forEach((r, i) => {
      const y = ys[i] ?? 1;
      const e = (r[0] * x[0] + r[1] * x[1] + r[2] * x[2] - y) / y;
      err += e * e;
    });
    if (err < bestErr) {
      bestErr = err;
      best = x;
    }
  }
  return best;
}

/** Weighted normal equations (weights 1/y^2) restricted to `cols`, solved by Gaussian elimination. */
function solveRestricted(
  rows: readonly Vec3[],
  ys: readonly number[],
  cols: readonly number[],
): number[] | null {
  const k = cols.length;
  const a: number[][] = Array.from({ length: k }, () => new Array<number>(k + 1).fill(0));
  rows.forEach((r, i) => {
    const y = ys[i] ?? 1;
    const w = 1 / (y * y);
    for (let p = 0; p < k; p++) {
      const rp = r[cols[p] ?? 0] ?? 0;
      const row = a[p];
      if (!row) continue;
      for (let q = 0; q < k; q++) row[q] = (row[q] ?? 0) + w * rp * (r[cols[q] ?? 0] ?? 0);
      row[k] = (row[k] ?? 0) + w * rp * y;
    }
  });
  for (let p = 0; p < k; p++) {
    let pivot = p;
    for (let q = p + 1; q < k; q++)
      if (Math.abs(a[q]?.[p] ?? 0) > Math.abs(a[pivot]?.[p] ?? 0)) pivot = q;
    const tmp = a[p];
    a[p] = a[pivot] ?? [];
    a[pivot] = tmp ?? [];
    const row = a[p] ?? [];
    const diag = row[p] ?? 0;
    if (Math.abs(diag) < 1e-300) return null;
    for (let q = 0; q < k; q++) {
      if (q === p) continue;
      const other = a[q] ?? [];
      const f = (other[p] ?? 0) / diag;
      for (let c = p; c <= k; c++) other[c] = (other[c] ?? 0) - f * (row[c] ?? 0);
    }
  }
  return a.map((row, p) => (row[k] ?? 0) / (row[p] ?? 1));
}
