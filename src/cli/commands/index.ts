// Every `edgellm` subcommand, registered in the order `edgellm --help` lists them.
import type { Command } from 'commander';

export type RegisterCommand = (program: Command) => void;

export const COMMANDS: readonly RegisterCommand[] = [];
