// The cost of a batch on one node and model variant (spec §2), built incrementally: a
// BatchState holds the sums and maxima of its members, so adding a request and checking the
// result is O(1) for the default options (`flops`, `calibrated`, `roofline` with static padding,
// `linear` links). Two non-default combinations need the members themselves: `roofline` with
// `ragged` padding (O(b log b): the active set shrinks as sequences finish) and `noise-scaled`
// links (O(b) per bisection step).
import { decodeFlops, denseFlopsPerTokenLayer, prefillFlops } from './flops.js';
import { fixedShapeModel, fixedShapeNode, fixedShapeOptions } from './fixed-shape.js';
import { kvBytesPerToken, weightBytes } from './memory.js';
import {
  COMMUNICATION_MODEL,
  COMPUTE_MODEL,
  PADDING,
  type CostOptions,
  type ModelVariant,
  type NodeResources,
  type RequestDemand,
} from './types.js';
import { linearAllocation, noiseScaledAllocation, type LinkDemand } from './communication.js';
import type { LatencyCoefficients } from './calibration.js';

export class CostModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CostModelError';
  }
}

/** A request with everything the cost model needs precomputed for one (node, variant, options). */
export interface PreparedRequest {
  readonly demand: RequestDemand;
  /** Position in the caller's list (arrival order). */
  readonly index: number;
  readonly promptTokens: number;
  readonly outputTokens: number;
  readonly deadlineSeconds: number;
  /** Server compute fraction (1 unless split). */
  readonly scale: number;
  /** s + n: tokens the request holds in the KV cache. */
  readonly kvTokens: number;
  /** s * beta / e_up, Hz*s. */
  readonly uplinkLoad: number;
  /** n * beta / e_dn, Hz*s. */
  readonly downlinkLoad: number;
  /** Scaled prefill and decode FLOPs of this request alone (ragged accounting). */
  readonly prefillFlops: number;
  readonly decodeFlops: number;
  /** Scaled sum over decode steps of the context length: (n-1) s + n (n-1) / 2. */
  readonly decodeContextTokens: number;
}

/** Sums and maxima of a batch; one per DFS stack level. */
export interface BatchState {
  count: number;
  sumScale: number;
  maxPromptTokens: number;
  maxOutputTokens: number;
  sumKvTokens: number;
  sumUplinkLoad: number;
  sumDownlinkLoad: number;
  minDeadlineSeconds: number;
  sumDeadlineSeconds: number;
  sumOutputTokens: number;
  sumPrefillFlops: number;
  sumDecodeFlops: number;
  /** Scaled sums for the calibrated model: s, s^2, (n-1), and decode context. */
  sumScaledPrompt: number;
  sumScaledPromptSquared: number;
  sumScaledDecodeSteps: number;
  sumScaledDecodeContext: number;
}

export interface BatchCost {
  readonly memoryBytes: number;
  readonly uplinkSeconds: number;
  readonly computeSeconds: number;
  readonly downlinkSeconds: number;
  readonly totalSeconds: number;
  /** min over the batch of the latency budgets. */
  readonly deadlineSeconds: number;
  readonly fitsMemory: boolean;
  readonly meetsDeadline: boolean;
}

export function emptyState(): BatchState {
  return {
    count: 0,
    sumScale: 0,
    maxPromptTokens: 0,
    maxOutputTokens: 0,
    sumKvTokens: 0,
    sumUplinkLoad: 0,
    sumDownlinkLoad: 0,
    minDeadlineSeconds: Infinity,
    sumDeadlineSeconds: 0,
    sumOutputTokens: 0,
    sumPrefillFlops: 0,
    sumDecodeFlops: 0,
    sumScaledPrompt: 0,
    sumScaledPromptSquared: 0,
    sumScaledDecodeSteps: 0,
    sumScaledDecodeContext: 0,
  };
}

/** Writes `parent + r` into `out` (no allocation: DFS reuses one state per level). */
export function addInto(out: BatchState, parent: BatchState, r: PreparedRequest): BatchState {
  out.count = parent.count + 1;
  out.sumScale = parent.sumScale + r.scale;
  out.maxPromptTokens = Math.max(parent.maxPromptTokens, r.promptTokens);
  out.maxOutputTokens = Math.max(parent.maxOutputTokens, r.outputTokens);
  out.sumKvTokens = parent.sumKvTokens + r.kvTokens;
  out.sumUplinkLoad = parent.sumUplinkLoad + r.uplinkLoad;
  out.sumDownlinkLoad = parent.sumDownlinkLoad + r.downlinkLoad;
  out.minDeadlineSeconds = Math.min(parent.minDeadlineSeconds, r.deadlineSeconds);
  out.sumDeadlineSeconds = parent.sumDeadlineSeconds + r.deadlineSeconds;
  out.sumOutputTokens = parent.sumOutputTokens + r.outputTokens;
  out.sumPrefillFlops = parent.sumPrefillFlops + r.prefillFlops;
  out.sumDecodeFlops = parent.sumDecodeFlops + r.decodeFlops;
  out.sumScaledPrompt = parent.sumScaledPrompt + r.scale * r.promptTokens;
  out.sumScaledPromptSquared = parent.sumScaledPromptSquared + r.scale * r.promptTokens ** 2;
  out.sumScaledDecodeSteps = parent.sumScaledDecodeSteps + r.scale * (r.outputTokens - 1);
  out.sumScaledDecodeContext = parent.sumScaledDecodeContext + r.decodeContextTokens;
  return out;
}

export function stateOf(members: readonly PreparedRequest[]): BatchState {
  const s = emptyState();
  for (const r of members) addInto(s, s, r);
  return s;
}

/** Everything about (node, variant, options) that does not depend on the batch. */
export class CostModel {
  readonly weightBytes: number;
  readonly kvBytesPerToken: number;
  /** eta * F * c_q: the FLOP/s the node achieves on this variant. */
  readonly effectiveFlops: number;
  private readonly denseFlops: number;
  private readonly needsMembers: boolean;
  /** The caller's node, variant and options, copied in one shape each (fixed-shape.ts). */
  readonly node: NodeResources;
  readonly model: ModelVariant;
  readonly options: CostOptions;

  constructor(node: NodeResources, model: ModelVariant, options: CostOptions) {
    this.node = fixedShapeNode(node);
    this.model = fixedShapeModel(model);
    this.options = fixedShapeOptions(options);
    this.weightBytes = weightBytes(this.model);
    this.kvBytesPerToken = kvBytesPerToken(this.model);
    this.effectiveFlops = this.node.utilization * this.node.computeFlops * this.model.computeFactor;
    this.denseFlops = denseFlopsPerTokenLayer(this.model);
    if (
      options.compute === COMPUTE_MODEL.roofline &&
      !((node.memoryBandwidthBytesPerSecond ?? 0) > 0)
    ) {
      throw new CostModelError(
        'compute option "roofline" needs the node\'s memoryBandwidthBytesPerSecond; set it or use "flops"',
      );
    }
    if (options.compute === COMPUTE_MODEL.calibrated && !options.calibration) {
      throw new CostModelError(
        'compute option "calibrated" needs a fitted latency profile (options.calibration); calibrate the node or use "flops"',
      );
    }
    this.needsMembers =
      options.communication === COMMUNICATION_MODEL.noiseScaled ||
      (options.compute === COMPUTE_MODEL.roofline && options.padding === PADDING.ragged);
  }

  /** Whether evaluate() needs the batch's members (otherwise the state alone suffices). */
  get evaluationNeedsMembers(): boolean {
    return this.needsMembers;
  }

  prepare(demand: RequestDemand, index: number): PreparedRequest {
    const s = demand.promptTokens;
    const n = demand.maxTokens;
    const scale = demand.serverComputeFraction ?? 1;
    const beta = this.options.bitsPerToken;
    return {
      demand,
      index,
      promptTokens: s,
      outputTokens: n,
      deadlineSeconds: demand.latencyBudgetSeconds,
      scale,
      kvTokens: s + n,
      uplinkLoad: (s * beta) / demand.uplinkSpectralEfficiency,
      downlinkLoad: (n * beta) / demand.downlinkSpectralEfficiency,
      prefillFlops: scale * prefillFlops(this.model, s),
      decodeFlops: scale * decodeFlops(this.model, s, n),
      decodeContextTokens: scale * ((n - 1) * s + (n * (n - 1)) / 2),
    };
  }

  memoryBytes(state: BatchState): number {
    const tokens =
      this.options.padding === PADDING.static
        ? state.count * (state.maxPromptTokens + state.maxOutputTokens)
        : state.sumKvTokens;
    return this.weightBytes + this.kvBytesPerToken * tokens;
  }

  fitsMemory(state: BatchState): boolean {
    return this.memoryBytes(state) <= this.node.memoryBytes;
  }

  /** Total FLOPs of the batch under the padding option. */
  flops(state: BatchState): { prefill: number; decode: number } {
    if (this.options.padding === PADDING.ragged) {
      return { prefill: state.sumPrefillFlops, decode: state.sumDecodeFlops };
    }
    return {
      prefill: state.sumScale * prefillFlops(this.model, state.maxPromptTokens),
      decode:
        state.sumScale * decodeFlops(this.model, state.maxPromptTokens, state.maxOutputTokens),
    };
  }

  computeSeconds(state: BatchState, members?: readonly PreparedRequest[]): number {
    if (state.count === 0) return 0;
    switch (this.options.compute) {
      case COMPUTE_MODEL.flops: {
        const f = this.flops(state);
        return (f.prefill + f.decode) / this.effectiveFlops;
      }
      case COMPUTE_MODEL.calibrated:
        return this.calibratedSeconds(state, this.options.calibration as LatencyCoefficients);
      case COMPUTE_MODEL.roofline:
        return this.rooflineSeconds(state, members);
    }
  }

  private calibratedSeconds(state: BatchState, c: LatencyCoefficients): number {
    const p = c.prefill;
    const d = c.decodeStep;
    if (this.options.padding === PADDING.static) {
      const s = state.maxPromptTokens;
      const steps = state.maxOutputTokens - 1;
      const w = state.sumScale;
      const prefill =
        p.fixedSeconds + w * (p.perTokenSeconds * s + p.perTokenSquaredSeconds * s * s);
      const decode =
        steps * (d.fixedSeconds + d.perSequenceSeconds * w + d.perContextTokenSeconds * w * s) +
        (d.perContextTokenSeconds * w * ((steps + 1) * steps)) / 2;
      return prefill + decode;
    }
    const prefill =
      p.fixedSeconds +
      p.perTokenSeconds * state.sumScaledPrompt +
      p.perTokenSquaredSeconds * state.sumScaledPromptSquared;
    const decode =
      d.fixedSeconds * (state.maxOutputTokens - 1) +
      d.perSequenceSeconds * state.sumScaledDecodeSteps +
      d.perContextTokenSeconds * state.sumScaledDecodeContext;
    return prefill + decode;
  }

  /**
   * Roofline: prefill and every decode step cost max(FLOPs / effective FLOP/s, bytes read /
   * memory bandwidth), where a pass reads the weights once for the whole batch plus the KV
   * cache of every active sequence. This is where batching pays on real hardware.
   */
  private rooflineSeconds(state: BatchState, members?: readonly PreparedRequest[]): number {
    const bw = this.node.memoryBandwidthBytesPerSecond ?? 0;
    const eff = this.effectiveFlops;
    const L = this.model.layers;
    const h = this.model.hiddenSize;
    const kv = this.kvBytesPerToken;
    const f = this.flops(state);
    if (this.options.padding === PADDING.static) {
      const b = state.count;
      const w = state.sumScale;
      const s = state.maxPromptTokens;
      const prefill = Math.max(f.prefill / eff, (this.weightBytes + kv * b * s) / bw);
      // step i: FLOPs L w (dense + 4h(s+i)), bytes M_w + kv b (s+i)
      const decode = sumMaxLinear(
        (L * w * (this.denseFlops + 4 * h * s)) / eff,
        (L * w * 4 * h) / eff,
        (this.weightBytes + kv * b * s) / bw,
        (kv * b) / bw,
        state.maxOutputTokens - 1,
      );
      return prefill + decode;
    }
    if (!members) throw new CostModelError('roofline with ragged padding needs the batch members');
    let sumPrompt = 0;
    for (const r of members) sumPrompt += r.promptTokens;
    const prefill = Math.max(f.prefill / eff, (this.weightBytes + kv * sumPrompt) / bw);
    // Decode: sequence u is active for steps 1..n_u-1. Between consecutive distinct step counts
    // the active set is fixed and both FLOPs and bytes are linear in the step index.
    const byLength = [...members].sort((a, b) => a.outputTokens - b.outputTokens);
    let activeScale = 0;
    let activeScaledDense = 0; // sum scale * (dense + 4h s)
    let activeCount = 0;
    let activePrompt = 0;
    for (const r of byLength) {
      activeScale += r.scale;
      activeScaledDense += r.scale * (this.denseFlops + 4 * h * r.promptTokens);
      activeCount += 1;
      activePrompt += r.promptTokens;
    }
    let decode = 0;
    let done = 0; // steps already accounted
    for (const r of byLength) {
      const last = r.outputTokens - 1;
      if (last > done) {
        decode += sumMaxLinearRange(
          (L * activeScaledDense) / eff,
          (L * activeScale * 4 * h) / eff,
          (this.weightBytes + kv * activePrompt) / bw,
          (kv * activeCount) / bw,
          done + 1,
          last,
        );
        done = last;
      }
      activeScale -= r.scale;
      activeScaledDense -= r.scale * (this.denseFlops + 4 * h * r.promptTokens);
      activeCount -= 1;
      activePrompt -= r.promptTokens;
    }
    return prefill + decode;
  }

  linkDemands(members: readonly PreparedRequest[], link: 'up' | 'down'): LinkDemand[] {
    const beta = this.options.bitsPerToken;
    return members.map((r) =>
      link === 'up'
        ? { bits: r.promptTokens * beta, spectralEfficiency: r.demand.uplinkSpectralEfficiency }
        : { bits: r.outputTokens * beta, spectralEfficiency: r.demand.downlinkSpectralEfficiency },
    );
  }

  uplinkSeconds(state: BatchState, members?: readonly PreparedRequest[]): number {
    if (this.options.communication === COMMUNICATION_MODEL.linear) {
      return state.sumUplinkLoad / this.node.uplinkBandwidthHz;
    }
    return noiseScaledAllocation(this.linkDemands(members ?? [], 'up'), this.node.uplinkBandwidthHz)
      .seconds;
  }

  downlinkSeconds(state: BatchState, members?: readonly PreparedRequest[]): number {
    if (this.options.communication === COMMUNICATION_MODEL.linear) {
      return state.sumDownlinkLoad / this.node.downlinkBandwidthHz;
    }
    return noiseScaledAllocation(
      this.linkDemands(members ?? [], 'down'),
      this.node.downlinkBandwidthHz,
    ).seconds;
  }

  /** Full cost of a batch; `members` is needed when evaluationNeedsMembers. */
  evaluate(state: BatchState, members?: readonly PreparedRequest[]): BatchCost {
    if (this.needsMembers && !members)
      throw new CostModelError('this cost option needs the batch members');
    const memoryBytes = this.memoryBytes(state);
    const uplinkSeconds = this.uplinkSeconds(state, members);
    const computeSeconds = this.computeSeconds(state, members);
    const downlinkSeconds = this.downlinkSeconds(state, members);
    const totalSeconds = uplinkSeconds + computeSeconds + downlinkSeconds;
    return {
      memoryBytes,
      uplinkSeconds,
      computeSeconds,
      downlinkSeconds,
      totalSeconds,
      deadlineSeconds: state.minDeadlineSeconds,
      fitsMemory: memoryBytes <= this.node.memoryBytes,
      meetsDeadline: totalSeconds <= state.minDeadlineSeconds,
    };
  }

  /** Predicted uplink + compute + downlink seconds of the batch. */
  latencySeconds(state: BatchState, members?: readonly PreparedRequest[]): number {
    return (
      this.uplinkSeconds(state, members) +
      this.computeSeconds(state, members) +
      this.downlinkSeconds(state, members)
    );
  }

  /** Memory and latency feasibility, memory first (cheap) so latency is skipped when it fails. */
  check(state: BatchState, members?: readonly PreparedRequest[]): 'ok' | 'memory' | 'latency' {
    if (!this.fitsMemory(state)) return 'memory';
    return this.latencySeconds(state, members) <= state.minDeadlineSeconds ? 'ok' : 'latency';
  }

  /**
   * A lower bound on how much adding `r` to ANY batch raises its latency (used by DFTSP's
   * bound). Linear links add exactly the request's load over the band. Compute: under `flops`
   * and `calibrated`, a static batch's cost is (sum of scales) * g(max s, max n) with g
   * monotone, so adding r adds at least r's own per-sequence cost g(s_r, n_r), which is also
   * exactly what a ragged batch adds (the per-pass constants only grow). Under `roofline` a
   * memory-bound pass may absorb the FLOPs, and `noise-scaled` shares are not additive: 0.
   */
  minLatencyIncrementSeconds(r: PreparedRequest): number {
    let seconds = this.linkIncrementSeconds(r);
    if (this.options.compute === COMPUTE_MODEL.flops) {
      seconds += (r.prefillFlops + r.decodeFlops) / this.effectiveFlops;
    } else if (this.options.compute === COMPUTE_MODEL.calibrated && this.options.calibration) {
      const p = this.options.calibration.prefill;
      const d = this.options.calibration.decodeStep;
      seconds +=
        r.scale *
          (p.perTokenSeconds * r.promptTokens + p.perTokenSquaredSeconds * r.promptTokens ** 2) +
        d.perSequenceSeconds * r.scale * (r.outputTokens - 1) +
        d.perContextTokenSeconds * r.decodeContextTokens;
    }
    return seconds;
  }

  /**
   * Link seconds adding `r` costs: under `linear` links exactly its uplink and downlink loads
   * over the bands, in any batch; 0 (a lower bound) for `noise-scaled` links.
   */
  linkIncrementSeconds(r: PreparedRequest): number {
    return this.options.communication === COMMUNICATION_MODEL.linear
      ? r.uplinkLoad / this.node.uplinkBandwidthHz + r.downlinkLoad / this.node.downlinkBandwidthHz
      : 0;
  }

  /**
   * With static padding, every member is padded to the batch's longest prompt and output, so
   * adding a request of scale w to a batch whose maxima are (s, n) costs at least w times this
   * (per unit of scale) in compute. 0 under `roofline` (a memory-bound pass may absorb it).
   */
  paddedSequenceSeconds(maxPromptTokens: number, maxOutputTokens: number): number {
    if (this.options.padding !== PADDING.static) return 0;
    if (this.options.compute === COMPUTE_MODEL.flops) {
      return (
        (prefillFlops(this.model, maxPromptTokens) +
          decodeFlops(this.model, maxPromptTokens, maxOutputTokens)) /
        this.effectiveFlops
      );
    }
    if (this.options.compute === COMPUTE_MODEL.calibrated && this.options.calibration) {
      const p = this.options.calibration.prefill;
      const d = this.options.calibration.decodeStep;
      const s = maxPromptTokens;
      const n = maxOutputTokens;
      return (
        p.perTokenSeconds * s +
        p.perTokenSquaredSeconds * s * s +
        d.perSequenceSeconds * (n - 1) +
        d.perContextTokenSeconds * ((n - 1) * s + (n * (n - 1)) / 2)
      );
    }
    return 0;
  }

  /** Bandwidth shares of each member (input order), Hz. */
  shares(members: readonly PreparedRequest[]): {
    uplinkHz: readonly number[];
    downlinkHz: readonly number[];
  } {
    const alloc =
      this.options.communication === COMMUNICATION_MODEL.linear
        ? linearAllocation
        : noiseScaledAllocation;
    return {
      uplinkHz: alloc(this.linkDemands(members, 'up'), this.node.uplinkBandwidthHz).sharesHz,
      downlinkHz: alloc(this.linkDemands(members, 'down'), this.node.downlinkBandwidthHz).sharesHz,
    };
  }
}

/** sum_{i=1}^{n} max(f0 + f1 i, m0 + m1 i), in O(1). */
export function sumMaxLinear(f0: number, f1: number, m0: number, m1: number, n: number): number {
  return sumMaxLinearRange(f0, f1, m0, m1, 1, n);
}

/** sum_{i=a}^{b} max(f0 + f1 i, m0 + m1 i), in O(1) (0 when b < a). */
export function sumMaxLinearRange(
  f0: number,
  f1: number,
  m0: number,
  m1: number,
  a: number,
  b: number,
): number {
  if (b < a) return 0;
  const lin = (v0: number, v1: number, lo: number, hi: number): number =>
    hi < lo ? 0 : (hi - lo + 1) * v0 + (v1 * (lo + hi) * (hi - lo + 1)) / 2;
  const df0 = f0 - m0;
  const df1 = f1 - m1;
  if (df1 === 0) return df0 >= 0 ? lin(f0, f1, a, b) : lin(m0, m1, a, b);
  // f >= m  <=>  df0 + df1 i >= 0
  const cross = -df0 / df1;
  if (df1 > 0) {
    const first = Math.min(b + 1, Math.max(a, Math.ceil(cross)));
    return lin(m0, m1, a, first - 1) + lin(f0, f1, first, b);
  }
  const last = Math.max(a - 1, Math.min(b, Math.floor(cross)));
  return lin(f0, f1, a, last) + lin(m0, m1, last + 1, b);
}
