// The I/O around the split experiment (`edgellm simulate --split`, see commands/simulate.ts):
// runs it with a seeded RNG, prints the tables, writes JSON and two SVG charts.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRng } from '../core/random.js';
import {
  runSplitExperiment,
  SPLIT_EXPERIMENT_DEFAULTS,
  type SplitExperimentResult,
} from '../sim/split-experiment.js';
import {
  splitExperimentMarkdown,
  splitQueueingSvg,
  splitWorkloadSvg,
} from '../sim/split-report.js';
import { UserInputError } from '../util/user-error.js';

export interface SplitSimulateOptions {
  /** Folder for split-experiment.json, split-workload.svg and split-queueing.svg. */
  readonly out: string;
  readonly seed: number;
  /** Arrivals per simulated rate (default: the experiment's default). */
  readonly arrivals?: number;
}

export const SPLIT_OUTPUT_FILES = {
  json: 'split-experiment.json',
  workloadSvg: 'split-workload.svg',
  queueingSvg: 'split-queueing.svg',
} as const;

export async function runSplitSimulation(
  options: SplitSimulateOptions,
  stdout: (text: string) => void = (t) => process.stdout.write(t),
): Promise<SplitExperimentResult> {
  if (!Number.isInteger(options.seed)) throw new UserInputError('--seed must be an integer');
  if (
    options.arrivals !== undefined &&
    !(Number.isInteger(options.arrivals) && options.arrivals > 0)
  ) {
    throw new UserInputError('--arrivals must be a positive integer');
  }
  const config =
    options.arrivals === undefined
      ? SPLIT_EXPERIMENT_DEFAULTS
      : {
          ...SPLIT_EXPERIMENT_DEFAULTS,
          queueing: { ...SPLIT_EXPERIMENT_DEFAULTS.queueing, arrivals: options.arrivals },
        };
  const result = runSplitExperiment(config, createRng(options.seed), options.seed);
  try {
    await mkdir(options.out, { recursive: true });
    await writeFile(
      join(options.out, SPLIT_OUTPUT_FILES.json),
      `${JSON.stringify(result, null, 2)}\n`,
    );
    await writeFile(
      join(options.out, SPLIT_OUTPUT_FILES.workloadSvg),
      `${splitWorkloadSvg(result)}\n`,
    );
    await writeFile(
      join(options.out, SPLIT_OUTPUT_FILES.queueingSvg),
      `${splitQueueingSvg(result)}\n`,
    );
  } catch (err) {
    throw new UserInputError(
      `cannot write the results to ${options.out}: ${(err as Error).message}`,
    );
  }
  stdout(
    `${splitExperimentMarkdown(result)}\nwrote ${Object.values(SPLIT_OUTPUT_FILES)
      .map((f) => join(options.out, f))
      .join(', ')}\n`,
  );
  return result;
}
