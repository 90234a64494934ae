// Every `edgellm` subcommand, registered in the order `edgellm --help` lists them.
import type { Command } from 'commander';
import { register as agent } from './agent.js';
import { register as fetchModel } from './fetch-model.js';
import { register as operator } from './operator.js';
import { register as planSplit } from './plan-split.js';
import { register as simulate } from './simulate.js';
import { register as solve } from './solve.js';

export type RegisterCommand = (program: Command) => void;

export const COMMANDS: readonly RegisterCommand[] = [
  solve,
  simulate,
  planSplit,
  agent,
  fetchModel,
  operator,
];
