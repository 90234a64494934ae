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
 * Most members of a static batch padded to (S, N) that fit in memory, computed with the same
 * expression as CostModel.memoryBytes so that the boundary agrees with CostModel.check.
 */
export function staticMemoryCapacity(cost: CostModel, S: number, N: number): number {
  const perMember = S + N;
  const free = cost.node.memoryBytes - cost.weightBytes;
  if (!(free >= 0)) return 0;
  const estimate = Math.floor(free / (cost.kvBytesPerToken * perMember));
  if (!Number.isFinite(estimate)) return Number.MAX_SAFE_INTEGER;
  const fits = (count: number): boolean =>
    cost.weightBytes + cost.kvBytesPerToken * (count * perMember) <= cost.node.memoryBytes;
  let b = estimate;
  while (b > 0 && !fits(b)) b--; // float rounding of the estimate: at most a step or two
  while (fits(b + 1)) b++;
  return b;
}

/**
 * The terms of static cells, one cell at a time without allocating (the sweep visits up to
 * n^2 cells): set(S, N), then read the fields.
 */
export class StaticCellCosts {
  promptTokens = 0;
  outputTokens = 0;
  memoryCapacity = 0;
  /** Compute seconds of any batch of >= 1 members in the cell (flops, calibrated). */
  private constant = 0;
  private perScale = 0;
  private computed = false;
  private readonly roofline: boolean;
  private readonly scratch = emptyState();

  constructor(private readonly cost: CostModel) {
    this.roofline = cost.options.compute === COMPUTE_MODEL.roofline;
  }

  private compute(count: number, sumScale: number): number {
    const s = this.scratch;
    s.count = count;
    s.sumScale = sumScale;
    s.maxPromptTokens = this.promptTokens;
    s.maxOutputTokens = this.outputTokens;
    return this.cost.computeSeconds(s);
  }

  /** Moves to cell (S, N); its capacity is read at once, its compute terms on first use. */
  set(S: number, N: number): this {
    this.promptTokens = S;
    this.outputTokens = N;
    this.memoryCapacity = staticMemoryCapacity(this.cost, S, N);
    this.computed = false;
    return this;
  }

  private terms(): void {
    if (this.computed) return;
    this.computed = true;
    if (this.roofline) return;
    // flops and calibrated: compute = constant + (sum of scales) * perScale for count >= 1.
    this.constant = this.compute(1, 0);
    this.perScale = Math.max(0, this.compute(1, 1) - this.constant);
  }

  /** Compute seconds per unit of a member's scale in the current cell. */
  get perScaleSeconds(): number {
    this.terms();
    return this.roofline ? 0 : this.perScale;
  }

  /** Compute seconds every batch of `count` members pays in the current cell. */
  fixedSeconds(count: number): number {
    if (count <= 0) return 0;
    if (this.roofline) return this.compute(count, count);
    this.terms();
    return this.constant;
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
