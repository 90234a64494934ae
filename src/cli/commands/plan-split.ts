// `edgellm plan-split --input split.json`: plans one request's client/server layer split and
// prints the plan as JSON. The input format is documented in docs/split-planner.md.
import type { Command } from 'commander';
import { z } from 'zod';
import {
  BOUNDARY_TRANSFER,
  buildSplitProfile,
  GRANULARITY,
  ON_INFEASIBLE,
  OUTPUT_AT,
  planSplit,
  SPLIT_ALGORITHM,
  SplitPlanError,
  type SplitOptions,
  type SplitPlan,
} from '../../core/planner/index.js';
import { UserInputError } from '../../util/user-error.js';
import { readJsonInput } from '../input.js';

const positive = z.number().positive();
const nonNegative = z.number().nonnegative();

/** The input file. Unknown fields are allowed (and ignored). */
export const splitInputSchema = z.object({
  model: z.object({
    layers: z.number().int().positive(),
    hiddenSize: z.number().int().positive(),
    ffnSize: z.number().int().positive(),
    bytesPerElement: positive,
  }),
  /** Prompt tokens. */
  sequenceLength: z.number().int().positive(),
  /** Generated tokens (default 1: the prefill alone). */
  outputTokens: z.number().int().positive().optional(),
  client: z.object({
    computeFlops: positive,
    uplinkBytesPerSecond: positive,
    downlinkBytesPerSecond: positive,
    linkLatencySeconds: nonNegative.optional(),
  }),
  server: z.object({ computeFlops: positive }),
  slaSeconds: nonNegative,
  options: z
    .object({
      policy: z.enum(Object.values(SPLIT_ALGORITHM)).optional(),
      timeStepSeconds: positive.optional(),
      granularity: z.enum(Object.values(GRANULARITY)).optional(),
      boundaryTransfer: z.enum(Object.values(BOUNDARY_TRANSFER)).optional(),
      inputAtClient: z.boolean().optional(),
      outputAt: z.enum(Object.values(OUTPUT_AT)).optional(),
      onInfeasible: z.enum(Object.values(ON_INFEASIBLE)).optional(),
      maxSteps: z.number().int().positive().optional(),
    })
    .optional(),
  /** Measured per-unit compute times replacing the analytic ones. */
  measured: z
    .object({
      clientSeconds: z.array(nonNegative).optional(),
      serverSeconds: z.array(nonNegative).optional(),
    })
    .optional(),
});
export type SplitInput = z.output<typeof splitInputSchema>;

/** The printed plan: the fields first, then the details. */
export interface SplitOutput {
  readonly placement: SplitPlan['placement'];
  readonly serverFlops: number;
  readonly clientFlops: number;
  readonly latencySeconds: number;
  readonly switches: number;
  readonly feasible: boolean;
  readonly decision: SplitPlan['decision'];
  readonly policy: SplitPlan['algorithm'];
  readonly serverWorkload: number;
  readonly latency: SplitPlan['latency'];
  readonly units: readonly string[];
  readonly timeStepSeconds?: number;
  readonly steps?: number;
  readonly note?: string;
}

/** Plans the split described by a validated input file (pure). */
export function planFromInput(input: SplitInput): SplitOutput {
  const o = input.options ?? {};
  const profile = buildSplitProfile({
    model: input.model,
    request: { promptTokens: input.sequenceLength, outputTokens: input.outputTokens ?? 1 },
    client: input.client,
    server: input.server,
    ...(o.granularity === undefined ? {} : { granularity: o.granularity }),
    ...(o.boundaryTransfer === undefined ? {} : { boundaryTransfer: o.boundaryTransfer }),
    ...(input.measured === undefined ? {} : { measured: input.measured }),
  });
  const options: Partial<SplitOptions> = {
    ...(o.policy === undefined ? {} : { algorithm: o.policy }),
    ...(o.timeStepSeconds === undefined ? {} : { timeStepSeconds: o.timeStepSeconds }),
    ...(o.inputAtClient === undefined ? {} : { inputAtClient: o.inputAtClient }),
    ...(o.outputAt === undefined ? {} : { outputAt: o.outputAt }),
    ...(o.onInfeasible === undefined ? {} : { onInfeasible: o.onInfeasible }),
    ...(o.maxSteps === undefined ? {} : { maxSteps: o.maxSteps }),
  };
  const plan = planSplit(profile, input.slaSeconds, options);
  return {
    placement: plan.placement,
    serverFlops: plan.serverFlops,
    clientFlops: plan.clientFlops,
    latencySeconds: plan.latency.totalSeconds,
    switches: plan.switches,
    feasible: plan.feasible,
    decision: plan.decision,
    policy: plan.algorithm,
    serverWorkload: plan.serverWorkload,
    latency: plan.latency,
    units: profile.labels,
    ...(plan.timeStepSeconds === undefined ? {} : { timeStepSeconds: plan.timeStepSeconds }),
    ...(plan.steps === undefined ? {} : { steps: plan.steps }),
    ...(plan.note === undefined ? {} : { note: plan.note }),
  };
}

export function register(program: Command): void {
  program
    .command('plan-split')
    .description(
      "Plan a request's client/server layer split (SplitLLM DP) and print the plan as JSON",
    )
    .requiredOption('--input <file>', "split problem as JSON ('-' for stdin)")
    .action(async (opts: { input: string }) => {
      const input = await readJsonInput(opts.input, splitInputSchema, 'split input');
      let output: SplitOutput;
      try {
        output = planFromInput(input);
      } catch (err) {
        if (err instanceof SplitPlanError) throw new UserInputError(`cannot plan: ${err.message}`);
        throw err;
      }
      process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
    });
}
