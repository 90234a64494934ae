// One single-node batch instance (spec/scheduling.md §3) as the integer data the external model
// (bench/external/batch_model.py) states it with: the constants of CostModel's feasibility check,
// computed here so both sides agree. Work is counted in FLOPs at the node's effective rate
// (eta * F * c_q): compute under `flops` is whole FLOPs (exact in doubles at these sizes), and
// link seconds and deadlines become work by multiplying by that rate and rounding (1/rate, about
// 1.6e-14 s on the default scenario's node, is the only difference from the TypeScript check).
// Covered: both paddings, both objectives, maxBatchSize, eligibility and sequence length, the
// `flops` compute and `linear` link options, unsplit requests. The other options are not linear
// in the members (roofline's per-step max, noise-scaled bisection) or have real-valued
// coefficients CP-SAT cannot take exactly (calibrated), and say so.
import { isEligible } from '../../src/core/model/accuracy.js';
import { CostModel } from '../../src/core/model/batch.js';
import { fitsSequence } from '../../src/core/model/context.js';
import { decodeFlops, prefillFlops } from '../../src/core/model/flops.js';
import {
  COMMUNICATION_MODEL,
  COMPUTE_MODEL,
  type Objective,
  type Padding,
} from '../../src/core/model/types.js';
import type { ScheduleInstance } from '../../src/core/scheduler/types.js';

export interface ExternalRequest {
  readonly id: string;
  /** Eligible for the variant's accuracy and within one sequence of its context. */
  readonly eligible: boolean;
  readonly promptTokens: number;
  readonly outputTokens: number;
  /** s + n: the request's KV-cache tokens under ragged padding. */
  readonly kvTokens: number;
  /** Prefill FLOPs of one sequence of this prompt length (static padding: per member at S). */
  readonly promptFlops: number;
  /** Decode FLOPs of one sequence of this output length without the prompt's context share. */
  readonly outputFlops: number;
  /** Prefill plus decode FLOPs of this request alone (ragged padding). */
  readonly raggedFlops: number;
  /** Its uplink plus downlink seconds under linear shares, as work. */
  readonly linkWork: number;
  /** Its latency budget as work. */
  readonly deadlineWork: number;
}

export interface ExternalInstance {
  readonly name: string;
  readonly padding: Padding;
  readonly objective: Objective;
  readonly maxBatchSize: number | null;
  /** The most KV tokens for which weights + KV bytes <= node memory holds in CostModel's arithmetic. */
  readonly kvTokenCapacity: number;
  /** Static padding: FLOPs per member per prompt token of context per decode step (4 h L). */
  readonly crossFlops: number;
  /** FLOPs per second (eta * F * c_q): the unit conversion, for the record. */
  readonly workPerSecond: number;
  readonly requests: readonly ExternalRequest[];
}

export class ExternalModelError extends Error {
  override name = 'ExternalModelError';
}

/**
 * The largest whole token count, up to `most` (what the largest static batch could hold, so at
 * least any ragged one), whose KV cache fits next to the weights as CostModel decides; 0 when
 * not even the weights fit.
 */
function kvTokenCapacity(cost: CostModel, most: number): number {
  const fits = (tokens: number): boolean =>
    cost.weightBytes + cost.kvBytesPerToken * tokens <= cost.node.memoryBytes;
  if (fits(most)) return most;
  let tokens = Math.floor((cost.node.memoryBytes - cost.weightBytes) / cost.kvBytesPerToken);
  while (tokens >= 0 && !fits(tokens)) tokens--;
  while (tokens + 1 < most && fits(tokens + 1)) tokens++;
  return Math.max(0, tokens);
}

function wholeFlops(value: number, what: string): number {
  if (!Number.isSafeInteger(value))
    throw new ExternalModelError(
      `${what} is ${value} FLOPs, not a whole number below 2^53: the external model needs integer layer counts and widths`,
    );
  return value;
}

export function externalInstance(name: string, instance: ScheduleInstance): ExternalInstance {
  const { options, model } = instance;
  if (
    options.compute !== COMPUTE_MODEL.flops ||
    options.communication !== COMMUNICATION_MODEL.linear
  )
    throw new ExternalModelError(
      `the external model states compute "flops" with "linear" links only (got "${options.compute}", "${options.communication}")`,
    );
  const cost = new CostModel(instance.node, model, options);
  const rate = cost.effectiveFlops;
  const requests = instance.requests.map((demand, index): ExternalRequest => {
    if ((demand.serverComputeFraction ?? 1) !== 1)
      throw new ExternalModelError(
        `request ${demand.id} is split (serverComputeFraction ${demand.serverComputeFraction}); the external model states unsplit requests only`,
      );
    if (!(demand.maxTokens >= 1))
      throw new ExternalModelError(
        `request ${demand.id} asks for ${demand.maxTokens} output tokens; the external model needs at least 1`,
      );
    const r = cost.prepare(demand, index);
    const linkSeconds =
      r.uplinkLoad / instance.node.uplinkBandwidthHz +
      r.downlinkLoad / instance.node.downlinkBandwidthHz;
    return {
      id: demand.id,
      eligible:
        isEligible(model, instance.bestPerplexity, demand.maxPerplexityIncrease) &&
        fitsSequence(model, demand),
      promptTokens: r.promptTokens,
      outputTokens: r.outputTokens,
      kvTokens: r.kvTokens,
      promptFlops: wholeFlops(prefillFlops(model, r.promptTokens), `prefill of ${demand.id}`),
      outputFlops: wholeFlops(decodeFlops(model, 0, r.outputTokens), `decode of ${demand.id}`),
      raggedFlops: wholeFlops(r.prefillFlops + r.decodeFlops, `FLOPs of ${demand.id}`),
      linkWork: Math.round(linkSeconds * rate),
      deadlineWork: Math.round(r.deadlineSeconds * rate),
    };
  });
  const most = (key: 'promptTokens' | 'outputTokens' | 'promptFlops' | 'outputFlops'): number =>
    requests.reduce((m, r) => Math.max(m, r[key]), 0);
  const crossFlops = wholeFlops(4 * model.hiddenSize * model.layers, 'the context term');
  const b = requests.length;
  // The largest static batch's compute must stay an exact double, as CostModel computes it.
  wholeFlops(
    b *
      (most('promptFlops') +
        most('outputFlops') +
        crossFlops * most('promptTokens') * most('outputTokens')),
    'the largest batch',
  );
  return {
    name,
    padding: options.padding,
    objective: options.objective,
    maxBatchSize: instance.maxBatchSize ?? null,
    kvTokenCapacity: kvTokenCapacity(cost, b * (most('promptTokens') + most('outputTokens'))),
    crossFlops,
    workPerSecond: rate,
    requests,
  };
}
