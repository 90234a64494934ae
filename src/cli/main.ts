#!/usr/bin/env node
// The `edgellm` command. Each subcommand lives in its own module under ./commands and is
// registered from ./commands/index.ts.
import { Command, CommanderError } from 'commander';
import { COMMANDS } from './commands/index.js';
import { UserInputError } from '../util/user-error.js';

export async function main(argv: readonly string[]): Promise<number> {
  const program = new Command()
    .name('edgellm')
    .description(
      'Schedules LLM inference across edge nodes: DFTSP batching, split planning, llama.cpp agents.',
    )
    .exitOverride()
    .showHelpAfterError();
  for (const register of COMMANDS) register(program);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof UserInputError) {
      process.stderr.write(`edgellm: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}

process.exitCode = await main(process.argv.slice(2));
