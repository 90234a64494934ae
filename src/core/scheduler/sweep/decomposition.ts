// The batch latency of spec §2 written as a constant plus a sum over the members, which is what
// lets the sweep solver choose members by sorting instead of by search.
//
// Static padding, inside a cell (the batch's longest prompt S and longest output N fixed):
//   latency(T) = fixed(|T|) + sum over u in T of (link_u + scale_u * perScale)
// with linear links (link_u = s_u beta / (e_up B_up) + n_u beta / (e_dn B_dn), exactly additive)
// and compute `flops` (fixed = 0, perScale = the padded sequence's FLOPs / effective FLOP/s) or
// `calibrated` (fixed = the per-pass constants, perScale = the per-sequence terms at (S, N)), or
// `roofline` when every scale is 1 (then perScale = 0 and fixed(b) is the roofline time of b
// padded sequences: weights are read once per pass, so it is not linear in b).
// Ragged padding:
//   latency(T) = fixed(max n over T) + sum over u in T of increment_u
// with increment_u = CostModel.minLatencyIncrementSeconds (exactly the request's additive part
// under `flops` and `calibrated`) and fixed = the calibrated per-pass constants (0 under flops).
// Every term comes from the CostModel itself (evaluated on synthetic batch states), so there is
// one formula for the cost; the solver still confirms every batch it returns with CostModel.check.
import { emptyState, type CostModel, type PreparedRequest } from '../../model/batch.js';
import { COMMUNICATION_MODEL, COMPUTE_MODEL, PADDING } from '../../model/types.js';

/** Why the decomposition does not hold for a cost model (the sweep then runs DFTSP). */
export function decompositionUnsupported(
  cost: CostModel,
  requests: readonly PreparedRequest[],
): string | null {
  const o = cost.options;
  if (o.communication !== COMMUNICATION_MODEL.linear)
    return 'noise-scaled links: bandwidth shares are not additive';
  if (o.compute === COMPUTE_MODEL.roofline) {
    if (o.padding === PADDING.ragged)
      return 'roofline with ragged padding: the active set changes every decode step';
    if (requests.some((r) => r.scale !== 1))
      return 'roofline with split requests: compute depends on the batch size and the sum of scales';
  }
  return null;
}

/** The latency terms of one static cell (S, N). */
export interface StaticCell {
  readonly promptTokens: number;
  readonly outputTokens: number;
  /** Compute seconds every batch of `count` members pays in this cell, whatever its members. */
  readonly fixedSeconds: (count: number) => number;
  /** Compute seconds per unit of a member's scale. */
  readonly perScaleSeconds: number;
  /** Most members whose padded KV cache fits in memory. */
  readonly memoryCapacity: number;
}

/** Link seconds of one request (exactly additive under linear links). */
export function linkSeconds(cost: CostModel, r: PreparedRequest): number {
  return cost.linkIncrementSeconds(r);
}

/**
 * Whether `count` members padded to (S, N) fit in memory: the expression of
 * CostModel.memoryBytes under static padding, term for term, so that the boundary agrees.
 */
export function staticFits(cost: CostModel, count: number, S: number, N: number): boolean {
  return cost.weightBytes + cost.kvBytesPerToken * (count * (S + N)) <= cost.node.memoryBytes;
}

/** Most members of a static batch padded to (S, N) that fit in memory (staticFits). */
export function staticMemoryCapacity(cost: CostModel, S: number, N: number): number {
  const free = cost.node.memoryBytes - cost.weightBytes;
  if (!(free >= 0)) return 0;
  const estimate = Math.floor(free / (cost.kvBytesPerToken * (S + N)));
  if (!Number.isFinite(estimate)) return Number.MAX_SAFE_INTEGER;
  let b = estimate;
  while (b > 0 && !staticFits(cost, b, S, N)) b--; // float rounding of the estimate: a step or two
  while (staticFits(cost, b + 1, S, N)) b++;
  return b;
}

/**
 * The terms of static cells, one cell at a time without allocating (the sweep visits many
 * cells): set(S, N), then read the fields; each is computed on first use.
 */
export class StaticCellCosts {
  promptTokens = 0;
  outputTokens = 0;
  /**
   * Compute seconds of any batch of >= 1 members in the cell apart from its members' scales:
   * 0 under flops (every FLOP is per sequence), the per-pass constants of prefill and decode
   * under calibrated; unused under roofline (fixedSeconds depends on the size there).
   */
  constant = 0;
  /** Compute seconds per unit of a member's scale: one padded sequence's (0 under roofline). */
  perScaleSeconds = 0;
  private readonly roofline: boolean;
  private readonly calibrated: boolean;
  private readonly scratch = emptyState();

  constructor(private readonly cost: CostModel) {
    this.roofline = cost.options.compute === COMPUTE_MODEL.roofline;
    this.calibrated = cost.options.compute === COMPUTE_MODEL.calibrated;
  }

  private compute(count: number, sumScale: number): number {
    const s = this.scratch;
    s.count = count;
    s.sumScale = sumScale;
    s.maxPromptTokens = this.promptTokens;
    s.maxOutputTokens = this.outputTokens;
    return this.cost.computeSeconds(s);
  }

  /** Moves to cell (S, N) and computes its terms. */
  set(S: number, N: number): this {
    this.promptTokens = S;
    this.outputTokens = N;
    if (!this.roofline) {
      this.constant = this.calibrated ? this.compute(1, 0) : 0;
      this.perScaleSeconds = this.cost.paddedSequenceSeconds(S, N);
    }
    return this;
  }

  /** Whether fixedSeconds(count) is `constant` for every count >= 1. */
  get constantFixed(): boolean {
    return !this.roofline;
  }

  /** Most members whose padded KV cache fits in memory in the current cell. */
  get memoryCapacity(): number {
    return staticMemoryCapacity(this.cost, this.promptTokens, this.outputTokens);
  }

  /** Compute seconds every batch of `count` members pays in the current cell. */
  fixedSeconds(count: number): number {
    if (count <= 0) return 0;
    return this.roofline ? this.compute(count, count) : this.constant;
  }

  /** An immutable copy of the current cell. */
  snapshot(): StaticCell {
    const copy = new StaticCellCosts(this.cost).set(this.promptTokens, this.outputTokens);
    return {
      promptTokens: copy.promptTokens,
      outputTokens: copy.outputTokens,
      fixedSeconds: (count) => copy.fixedSeconds(count),
      perScaleSeconds: copy.perScaleSeconds,
      memoryCapacity: copy.memoryCapacity,
    };
  }
}

/** Ragged padding: the compute every batch whose longest output is N pays, whatever its members. */
export function raggedFixedSeconds(cost: CostModel, N: number): number {
  const s = emptyState();
  s.count = 1;
  s.maxOutputTokens = N;
  return cost.computeSeconds(s);
}

/** Ragged padding: KV tokens that fit in memory beside the weights. */
export function raggedKvCapacity(cost: CostModel): number {
  return (cost.node.memoryBytes - cost.weightBytes) / cost.kvBytesPerToken;
}
