// `edgellm simulate --split`: the split-planning experiment. A stand-in `simulate` command until
// the scheduling simulator's own `simulate` command lands; that one takes the `--split` flag and
// calls runSplitSimulation, and this module goes away.
import type { Command } from 'commander';
import { CliError } from '../errors.js';
import { runSplitSimulation } from '../split-simulate.js';

export function register(program: Command): void {
  program
    .command('simulate')
    .description('Run a simulator; --split: the client/server split experiment (DP vs baselines)')
    .option('--split', 'run the split-planning experiment')
    .option('--out <dir>', 'folder for the JSON and SVG results', '.cache/simulate')
    .option('--seed <n>', 'seed of the random source', '1')
    .option('--arrivals <n>', 'arrivals per simulated arrival rate')
    .action(async (opts: { split?: boolean; out: string; seed: string; arrivals?: string }) => {
      if (opts.split !== true) {
        throw new CliError('only the split experiment is available on this build: use --split');
      }
      await runSplitSimulation({
        out: opts.out,
        seed: Number(opts.seed),
        ...(opts.arrivals === undefined ? {} : { arrivals: Number(opts.arrivals) }),
      });
    });
}
