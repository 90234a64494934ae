// The data one static sweep decision shares between its phases (static.ts): the candidates'
// terms in typed arrays, their orders, the largest batch each may be in, the column scan
// (columns.ts), the cell costs (decomposition.ts), and the control (budget) wrapped so that a
// stop is remembered.
import type { CostModel, PreparedRequest } from '../../model/batch.js';
import { OBJECTIVE, type Objective } from '../../model/types.js';
import { ColumnScan } from './columns.js';
import { linkSeconds, StaticCellCosts, type StaticCell } from './decomposition.js';
import { Fenwick } from './fenwick.js';
import { SmallestK } from './heaps.js';
import { largestWhere, LazyOrder, orderBy, orderByDescending, ranksOf } from './order.js';
import {
  tolerantLimit,
  type Incumbent,
  type MemberTerms,
  type SearchControl,
} from './threshold-search.js';
import type { Cell, TermRanks } from './thresholds.js';

export interface StaticSweepInput {
  readonly cost: CostModel;
  readonly candidates: readonly PreparedRequest[];
  readonly maxBatchSize: number;
  readonly objective: Objective;
  readonly control: SearchControl;
}

/**
 * Cells that may hold a batch better than the incumbent, each with upper bounds on its tokens
 * and its size, in growable typed arrays (a scan may keep thousands: every cell that can hold a
 * batch of the size when a batch size cap binds; under objective tokens, every cell whose bound
 * beats the largest batch's tokens).
 */
export class CellList {
  S: Float64Array = new Float64Array(64);
  N: Float64Array = new Float64Array(64);
  tokens: Float64Array = new Float64Array(64);
  count: Float64Array = new Float64Array(64);
  length = 0;

  push(S: number, N: number, tokens: number, count = 0): void {
    if (this.length === this.S.length) {
      const grow = (a: Float64Array): Float64Array => {
        const b = new Float64Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.S = grow(this.S);
      this.N = grow(this.N);
      this.tokens = grow(this.tokens);
      this.count = grow(this.count);
    }
    this.S[this.length] = S;
    this.N[this.length] = N;
    this.tokens[this.length] = tokens;
    this.count[this.length] = count;
    this.length++;
  }

  clear(): void {
    this.length = 0;
  }
}

/** Everything one static sweep decision shares between its phases. */
export class StaticContext {
  readonly M: number;
  readonly maxBatch: number;
  readonly countFirst: boolean;
  readonly link: Float64Array;
  readonly prompt: Float64Array;
  readonly output: Float64Array;
  readonly scale: Float64Array;
  readonly deadline: Float64Array;
  /** The largest batch each candidate may be in (sizeLimitOf). */
  readonly sizeLimit: Int32Array;
  /** Each deadline plus the tolerance of `within`: within(x, deadline) is x <= this. */
  readonly deadlineLimit: Float64Array;
  readonly uniformScale: boolean;
  readonly byDeadline: Int32Array;
  readonly deadlineRank: Int32Array;
  /** Sums of the k smallest links and of the k smallest scales of all candidates. */
  readonly linkLow: Float64Array;
  readonly scaleLow: Float64Array;
  readonly cells: StaticCellCosts;
  /** The cell of one candidate's own prompt and output (sizeLimitOf). */
  readonly own: StaticCellCosts;
  readonly columns: ColumnScan;
  readonly heap: SmallestK;
  /** Orders that objective tokens and the exact fallbacks need (built on first use). */
  readonly byOutput: LazyOrder;
  readonly byLink: LazyOrder;
  private linkTreeCache: Fenwick | null = null;
  /** Set when the control stopped the search (budget spent). */
  stopped = false;
  /** Cells whose members were swept or searched. */
  cellsSearched = 0;

  constructor(readonly input: StaticSweepInput) {
    const { cost, candidates } = input;
    const M = candidates.length;
    this.M = M;
    this.maxBatch = Math.min(input.maxBatchSize, M);
    this.countFirst = input.objective === OBJECTIVE.requests;
    this.link = new Float64Array(M);
    this.prompt = new Float64Array(M);
    this.output = new Float64Array(M);
    this.scale = new Float64Array(M);
    this.deadline = new Float64Array(M);
    this.deadlineLimit = new Float64Array(M);
    let uniformScale = true;
    candidates.forEach((r, i) => {
      this.link[i] = linkSeconds(cost, r);
      this.prompt[i] = r.promptTokens;
      this.output[i] = r.outputTokens;
      this.scale[i] = r.scale;
      this.deadline[i] = r.deadlineSeconds;
      this.deadlineLimit[i] = tolerantLimit(r.deadlineSeconds);
      if (r.scale !== (candidates[0]?.scale ?? 1)) uniformScale = false;
    });
    this.uniformScale = uniformScale;
    this.byDeadline = orderByDescending(this.deadline);
    this.deadlineRank = ranksOf(this.byDeadline);
    const sortedLink = Float64Array.from(this.link).sort();
    const sortedScale = Float64Array.from(this.scale).sort();
    this.linkLow = new Float64Array(M + 1);
    this.scaleLow = new Float64Array(M + 1);
    for (let k = 0; k < M; k++) {
      this.linkLow[k + 1] = (this.linkLow[k] ?? 0) + (sortedLink[k] ?? 0);
      this.scaleLow[k + 1] = (this.scaleLow[k] ?? 0) + (sortedScale[k] ?? 0);
    }
    this.cells = new StaticCellCosts(cost);
    this.own = new StaticCellCosts(cost);
    const sizeLimit = new Int32Array(M);
    for (let i = 0; i < M; i++) sizeLimit[i] = this.sizeLimitOf(i);
    this.sizeLimit = sizeLimit;
    this.columns = new ColumnScan(
      cost,
      this.prompt,
      this.output,
      this.deadline,
      this.byDeadline,
      this.deadlineRank,
      sizeLimit,
    );
    this.heap = new SmallestK(Math.max(1, this.maxBatch));
    this.byOutput = new LazyOrder(this.output, true);
    this.byLink = new LazyOrder(this.link, false);
  }

  /** A Fenwick tree over link ranks; null unless every scale is equal (largestInCell). */
  get linkTree(): Fenwick | null {
    if (!this.uniformScale) return null;
    return (this.linkTreeCache ??= new Fenwick(this.M));
  }

  /** Lower bound on the latency of any k members of the current cell. */
  leastLatency(k: number): number {
    return this.leastLatencyIn(this.cells, k);
  }

  leastLatencyIn(cells: StaticCellCosts, k: number): number {
    const fixed = cells.constantFixed ? (k > 0 ? cells.constant : 0) : cells.fixedSeconds(k);
    return fixed + cells.perScaleSeconds * (this.scaleLow[k] ?? 0) + (this.linkLow[k] ?? 0);
  }

  /** Whether the control stopped the search (a call: the searches below may set it). */
  halted(): boolean {
    return this.stopped;
  }

  tick(): boolean {
    if (this.stopped) return false;
    if (!this.input.control.tick()) this.stopped = true;
    return !this.stopped;
  }

  /**
   * The largest size of a batch candidate i may be in: k padded sequences of its own lengths
   * fit in memory, and its deadline covers the least latency of k members in its own cell
   * (every cell holding it has at least its prompt and output; both conditions only get
   * harder with k, so a binary search).
   */
  private sizeLimitOf(i: number): number {
    const S = this.prompt[i] ?? 0;
    const N = this.output[i] ?? 0;
    const own = this.own.set(S, N);
    const limit = this.deadlineLimit[i] ?? 0;
    const hi = Math.min(this.maxBatch, own.memoryCapacity);
    return largestWhere(0, hi, (k) => this.leastLatencyIn(own, k) <= limit);
  }

  asIncumbent(members: readonly PreparedRequest[]): Incumbent {
    const tokens = members.reduce((a, r) => a + r.outputTokens, 0);
    return { primary: members.length, secondary: tokens, members };
  }

  /** A cell for the threshold search: its members by deadline and their terms. */
  cellOf(cell: StaticCell, maxCount: number): Cell {
    const { prompt, output, link, scale, byDeadline } = this;
    const members: number[] = [];
    for (let rank = 0; rank < this.M; rank++) {
      const i = byDeadline[rank] ?? 0;
      if ((prompt[i] ?? 0) <= cell.promptTokens && (output[i] ?? 0) <= cell.outputTokens)
        members.push(i);
    }
    const latency = new Float64Array(this.M);
    for (let i = 0; i < this.M; i++)
      latency[i] = (link[i] ?? 0) + (scale[i] ?? 0) * cell.perScaleSeconds;
    const terms: MemberTerms = {
      members: this.input.candidates,
      latency,
      kv: new Float64Array(this.M),
      tokens: output,
    };
    return {
      members,
      terms,
      maxCount,
      kvCapacity: Infinity,
      fixedSeconds: (count) => cell.fixedSeconds(count),
    };
  }

  /** Fenwick ranks of the threshold bounds: by latency term (the link order when every scale
   * is equal) and by output. */
  termRanks(terms: MemberTerms): TermRanks {
    return {
      latency: this.uniformScale ? this.byLink.rank : ranksOf(orderBy(terms.latency)),
      kv: this.byLink.rank,
      tokens: this.byOutput.rank,
    };
  }
}
