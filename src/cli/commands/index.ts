// Every `edgellm` subcommand, registered in the order `edgellm --help` lists them.
import type { Command } from 'commander';
import { register as agent } from './agent.js';

export type RegisterCommand = (program: Command) => void;

export const COMMANDS: readonly RegisterCommand[] = [agent];
