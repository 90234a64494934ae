// `edgellm solve --input instance.json`: one scheduling decision for one node, as JSON.
import { performance } from 'node:perf_hooks';
import type { Command } from 'commander';
import { z } from 'zod';
import { CostModelError } from '../../core/model/batch.js';
import { COST_DEFAULTS, DEFAULT_KV_BITS, DEFAULT_UTILIZATION } from '../../core/model/types.js';
import { createRng } from '../../core/random.js';
import { InstanceTooLargeError } from '../../core/scheduler/bruteforce.js';
import { schedule } from '../../core/scheduler/schedule.js';
import { POLICY, type Policy, type ScheduleInstance } from '../../core/scheduler/types.js';
import { WARM_UP_DEFAULTS, warmUpSolvers } from '../../core/scheduler/warm-up.js';
import {
  SPLIT_MODE,
  withSplitPlans,
  type SplitRequestContext,
} from '../../core/scheduler/split.js';
import { UserInputError } from '../../util/user-error.js';
import { readJsonInput } from '../input.js';
import { defined } from '../../util/objects.js';

const positive = z.number().positive();
const nonNegative = z.number().nonnegative();
const count = z.number().int().positive();

export const nodeSchema = z.object({
  /** Whether the node's runtime can execute a partial model (split plans count only then). */
  partialModelExecution: z.boolean().default(false),
  memoryBytes: positive,
  computeFlops: positive,
  utilization: z.number().positive().max(1).default(DEFAULT_UTILIZATION),
  memoryBandwidthBytesPerSecond: positive.optional(),
  uplinkBandwidthHz: positive,
  downlinkBandwidthHz: positive,
});

export const modelSchema = z.object({
  name: z.string().min(1).default('model'),
  quantization: z.string().min(1).default('unspecified'),
  layers: count,
  hiddenSize: count,
  ffnSize: count,
  kvWidth: count,
  parameters: positive,
  weightBits: positive.max(64),
  kvBits: positive.max(64).default(DEFAULT_KV_BITS),
  computeFactor: positive.default(1),
  perplexity: positive,
  bestPerplexity: positive.optional(),
});

export const requestSchema = z.object({
  id: z.string().min(1),
  promptTokens: count,
  maxTokens: count,
  latencyBudgetSeconds: positive,
  maxPerplexityIncrease: nonNegative.default(0),
  uplinkSpectralEfficiency: positive,
  downlinkSpectralEfficiency: positive,
  serverComputeFraction: z.number().min(0).max(1).optional(),
  /** `auto` with a `client` profile: plan the client/server split (src/core/planner). */
  split: z.enum(Object.values(SPLIT_MODE)).default(SPLIT_MODE.serverOnly),
  client: z
    .object({
      computeFlops: positive,
      uplinkBytesPerSecond: positive,
      downlinkBytesPerSecond: positive,
    })
    .optional(),
});

const calibrationSchema = z.object({
  prefill: z.object({
    fixedSeconds: nonNegative,
    perTokenSeconds: nonNegative,
    perTokenSquaredSeconds: nonNegative,
  }),
  decodeStep: z.object({
    fixedSeconds: nonNegative,
    perSequenceSeconds: nonNegative,
    perContextTokenSeconds: nonNegative,
  }),
});

const optionsSchema = z
  .object({
    policy: z.enum(Object.values(POLICY)).default(POLICY.sweep),
    padding: z.enum(['static', 'ragged']).default(COST_DEFAULTS.padding),
    compute: z.enum(['flops', 'roofline', 'calibrated']).default(COST_DEFAULTS.compute),
    communication: z.enum(['linear', 'noise-scaled']).default(COST_DEFAULTS.communication),
    bitsPerToken: positive.default(COST_DEFAULTS.bitsPerToken),
    objective: z.enum(['requests', 'tokens']).default(COST_DEFAULTS.objective),
    calibration: calibrationSchema.optional(),
    maxBatchSize: count.optional(),
    maxNodes: count.optional(),
    maxMilliseconds: positive.optional(),
    seed: z.number().int().default(1),
  })
  .prefault({});

export const instanceSchema = z
  .object({
    node: nodeSchema,
    model: modelSchema,
    requests: z.array(requestSchema),
    options: optionsSchema,
  })
  .superRefine((value, ctx) => {
    const seen = new Map<string, number>();
    value.requests.forEach((r, i) => {
      const first = seen.get(r.id);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['requests', i, 'id'],
          message: `duplicate id "${r.id}" (also requests[${first}].id); ids must be unique`,
        });
      } else seen.set(r.id, i);
    });
  });

export type InstanceInput = z.output<typeof instanceSchema>;

export function toInstance(input: InstanceInput): ScheduleInstance {
  const { bestPerplexity, ...model } = input.model;
  const o = input.options;
  return {
    // partialModelExecution steers split accounting (solve below), not the cost model
    node: defined({ ...input.node, partialModelExecution: undefined }),
    model,
    bestPerplexity: bestPerplexity ?? model.perplexity,
    requests: input.requests.map(({ split: _split, client: _client, ...r }) => defined(r)),
    options: defined({
      padding: o.padding,
      compute: o.compute,
      communication: o.communication,
      bitsPerToken: o.bitsPerToken,
      objective: o.objective,
      calibration: o.calibration,
    }),
    ...(o.maxBatchSize === undefined ? {} : { maxBatchSize: o.maxBatchSize }),
  };
}

/** Split contexts of the requests that ask for `split: auto`, by id. */
function splitContexts(input: InstanceInput): Map<string, SplitRequestContext> {
  return new Map(
    input.requests
      .filter((r) => r.split === SPLIT_MODE.auto)
      .map((r) => [r.id, { split: r.split, client: r.client }] as const),
  );
}

/** The searches whose answer a time budget bounds (the baselines ignore it). */
const BUDGETED: ReadonlySet<Policy> = new Set([POLICY.sweep, POLICY.dftsp]);

export function solve(input: InstanceInput): Record<string, unknown> {
  const clock = (): number => performance.now() / 1000;
  // Under a time budget, a fresh process's first decision would spend most of it on V8
  // interpreting the solver (docs/scheduling-solvers.md, "Cold"): warm the policy up first on
  // synthetic instances, as the operator does at start-up, so that the budget buys the decision
  // the operator would make. Reported as warmUpMilliseconds, outside solveMilliseconds.
  const budgetMs = input.options.maxMilliseconds;
  const warmUp =
    budgetMs !== undefined && BUDGETED.has(input.options.policy)
      ? warmUpSolvers(clock, {
          policies: [input.options.policy],
          maxSeconds: Math.min(WARM_UP_DEFAULTS.maxSeconds, budgetMs / 1000),
        })
      : undefined;
  const started = performance.now();
  const splits = splitContexts(input);
  let instance = toInstance(input);
  let splitPlans: Record<string, unknown> | undefined;
  if (splits.size > 0) {
    const planned = withSplitPlans(instance, splits, {
      partialModelExecution: input.node.partialModelExecution,
    });
    instance = planned.instance;
    splitPlans = Object.fromEntries(
      [...planned.assignments].map(([id, a]) => [
        id,
        {
          accounting: a.accounting,
          serverComputeFraction: a.demand.serverComputeFraction,
          reason: a.reason,
          plan: a.plan,
        },
      ]),
    );
  }
  const o = input.options;
  try {
    const result = schedule(instance, o.policy, {
      rng: createRng(o.seed),
      budget: defined({
        maxNodes: o.maxNodes,
        maxSeconds: o.maxMilliseconds === undefined ? undefined : o.maxMilliseconds / 1000,
        clock,
      }),
    });
    return {
      ...result,
      ...(splitPlans === undefined ? {} : { splitPlans }),
      solveMilliseconds: performance.now() - started,
      ...(warmUp === undefined ? {} : { warmUpMilliseconds: warmUp.seconds * 1000 }),
    };
  } catch (err) {
    if (err instanceof CostModelError || err instanceof InstanceTooLargeError)
      throw new UserInputError(err.message);
    throw err;
  }
}

export function register(program: Command): void {
  program
    .command('solve')
    .description(
      'Choose the next batch for one node (DFTSP or a baseline) and print the decision as JSON',
    )
    .requiredOption(
      '-i, --input <file>',
      'instance JSON (node, model, requests, options); - for stdin',
    )
    .action(async (opts: { input: string }) => {
      const input = await readJsonInput(opts.input, instanceSchema, 'instance');
      process.stdout.write(`${JSON.stringify(solve(input), null, 2)}\n`);
    });
}
