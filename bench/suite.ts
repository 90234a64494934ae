// The shape every benchmark suite returns; bench/run.ts prints the tables, writes
// bench/results/<name>.json, and refreshes the suite's section of bench/README.md.
export interface BenchResult {
  /** File-safe name: results go to bench/results/<name>.json. */
  readonly name: string;
  readonly title: string;
  /** Markdown table(s) and a line or two of context: printed and put in bench/README.md. */
  readonly markdown: string;
  /** Everything measured, machine-readable. */
  readonly data: unknown;
}

export interface BenchSuite {
  readonly name: string;
  /** One line for `make bench` listings. */
  readonly description: string;
  /** Runs only when named (`--only soak`): too long for a plain `make bench`. */
  readonly onlyWhenNamed?: boolean;
  run(options: { readonly quick: boolean }): Promise<BenchResult>;
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** Linear-interpolated quantile (q in [0, 1]) of a non-empty list. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new Error('quantile of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] ?? 0;
  const b = sorted[hi] ?? a;
  return a + (b - a) * (pos - lo);
}

export { markdownTable } from '../src/report/markdown.js';
