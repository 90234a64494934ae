// The I/O around the online scenario family (`edgellm simulate --online`, see
// commands/simulate.ts and docs/scheduling-scenarios.md): runs the named scenarios under every
// policy over several seeds, prints one table per scenario and writes online.json.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ONLINE_POLICIES } from '../sim/online-experiment.js';
import { ONLINE_SCENARIOS } from '../sim/online-scenarios.js';
import { onlineMarkdown, runOnlineFamily, type OnlineExperiment } from '../sim/online-summary.js';
import { UserInputError } from '../util/user-error.js';

export interface OnlineSimulateOptions {
  readonly out: string;
  /** First seed; seeds are first, first+1, ... */
  readonly seed: number;
  readonly seeds: number;
  /** Scenario names (default: all of ONLINE_SCENARIOS). */
  readonly scenarios?: readonly string[];
}

export const ONLINE_OUTPUT_FILE = 'online.json';

export async function runOnlineSimulation(
  options: OnlineSimulateOptions,
  stdout: (text: string) => void = (t) => process.stdout.write(t),
): Promise<OnlineExperiment> {
  if (!Number.isInteger(options.seed)) throw new UserInputError('--seed must be an integer');
  if (!(Number.isInteger(options.seeds) && options.seeds > 0))
    throw new UserInputError('--seeds must be a positive integer');
  const unknown = (options.scenarios ?? []).filter(
    (n) => !ONLINE_SCENARIOS.some((s) => s.name === n),
  );
  if (unknown.length > 0)
    throw new UserInputError(
      `unknown scenario ${unknown.join(', ')}; known: ${ONLINE_SCENARIOS.map((s) => s.name).join(', ')}`,
    );
  const scenarios = ONLINE_SCENARIOS.filter(
    (s) => options.scenarios === undefined || options.scenarios.includes(s.name),
  );
  const seeds = Array.from({ length: options.seeds }, (_, i) => options.seed + i);
  const experiment = runOnlineFamily(scenarios, ONLINE_POLICIES, seeds);
  await mkdir(options.out, { recursive: true });
  await writeFile(
    join(options.out, ONLINE_OUTPUT_FILE),
    `${JSON.stringify({ scenarios, ...experiment }, null, 2)}\n`,
  );
  stdout(
    `${onlineMarkdown(experiment, scenarios)}\n\nwrote ${join(options.out, ONLINE_OUTPUT_FILE)}\n`,
  );
  return experiment;
}
