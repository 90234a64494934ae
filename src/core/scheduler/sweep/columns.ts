// The cells of static padding, visited column by column. A column is an output length N (the
// distinct outputs, growing); its members are the candidates with n <= N, kept in prompt order
// as the columns grow (a candidate joins only if it may be in a batch of the size the caller
// looks for then: its largest admissible size, `sizeLimit`, is at least that). Its cells (S, N)
// are visited by growing S, each after the members with s <= S, starting at the first cell that
// can hold k members and holds a member of output N (below, a cell has the members of the
// previous column at a higher cost: dominated), and ending where k padded sequences no longer
// fit in memory. Callers either drive the columns themselves (next, firstPrompt) or hand a
// visitor to scan(), or visit columns in an order of their own (seek, visitColumn).
import type { CostModel } from '../../model/batch.js';
import { staticFits } from './decomposition.js';
import { Fenwick } from './fenwick.js';
import { orderBy } from './order.js';

export type CellVerdict = 'next' | 'end' | 'stop';

export interface ColumnVisitor {
  /** The batch size the scan looks for now (it may change during a column). */
  size(): number;
  /**
   * Column N can hold size() members from cell (firstPrompt, N) on; false skips it. Its members
   * are then handed to add() in prompt order.
   */
  enter(N: number, firstPrompt: number): boolean;
  /** Member i joins the cells from the next one on. */
  add(i: number): void;
  /** Cell (S, N) with its members added: go to the 'next' cell, 'end' the column or 'stop'. */
  cell(S: number): CellVerdict;
}

export class ColumnScan {
  /** Distinct output lengths, ascending. */
  readonly outputs: Float64Array;
  private readonly byOutput: Int32Array;
  /** The current column's members by prompt (ties in the order they joined). */
  readonly members: Int32Array;
  length = 0;
  /** The smallest prompt of all candidates: no cell has a smaller one. */
  readonly minPrompt: number;
  /** The current column's members by deadline rank. */
  private readonly deadlines: Fenwick;
  private column = 0;
  private next_ = 0;
  /** The smallest prompt among the members that joined with the current column's output. */
  private ownPrompt = Infinity;
  /** Candidates by prompt, for seek (built on first use). */
  private byPrompt: Int32Array | null = null;

  constructor(
    private readonly cost: CostModel,
    private readonly prompt: Float64Array,
    private readonly output: Float64Array,
    private readonly deadline: Float64Array,
    /** Candidates by deadline, latest first, and each candidate's place in that order. */
    private readonly byDeadline: Int32Array,
    private readonly deadlineRank: Int32Array,
    /** The largest batch each candidate may be in (a necessary condition; see static.ts). */
    private readonly sizeLimit: Int32Array,
  ) {
    const M = prompt.length;
    this.byOutput = orderBy(output);
    const distinct: number[] = [];
    for (let q = 0; q < M; q++) {
      const N = output[this.byOutput[q] ?? 0] ?? 0;
      if (distinct.length === 0 || distinct[distinct.length - 1] !== N) distinct.push(N);
    }
    this.outputs = Float64Array.from(distinct);
    this.members = new Int32Array(M);
    this.deadlines = new Fenwick(M);
    let minPrompt = Infinity;
    for (let i = 0; i < M; i++) minPrompt = Math.min(minPrompt, prompt[i] ?? 0);
    this.minPrompt = minPrompt;
  }

  /** The k-th latest deadline among the current column's members (-Infinity when fewer). */
  kthLatest(k: number): number {
    const rank = this.deadlines.kth(k);
    return rank < 0 ? -Infinity : (this.deadline[this.byDeadline[rank] ?? 0] ?? 0);
  }

  /** Inserts candidate i into the column, after the members of equal prompt. */
  private insert(i: number): void {
    const members = this.members;
    const s = this.prompt[i] ?? 0;
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.prompt[members[mid] ?? 0] ?? 0) <= s) lo = mid + 1;
      else hi = mid;
    }
    members.copyWithin(lo + 1, lo, this.length);
    members[lo] = i;
    this.length++;
    this.deadlines.add(this.deadlineRank[i] ?? 0, 0);
  }

  /** Starts over from the first column, with no member. */
  begin(): void {
    this.length = 0;
    this.deadlines.clear();
    this.column = 0;
    this.next_ = 0;
  }

  /**
   * Moves to the next column, admitting its new candidates that may be in a batch of `size`
   * members: its output N, or -1 after the last column.
   */
  next(size: number): number {
    const { output, byOutput, prompt, sizeLimit } = this;
    if (this.column >= this.outputs.length) return -1;
    const N = this.outputs[this.column++] ?? 0;
    const M = prompt.length;
    this.ownPrompt = Infinity;
    for (; this.next_ < M && (output[byOutput[this.next_] ?? 0] ?? 0) <= N; this.next_++) {
      const i = byOutput[this.next_] ?? 0;
      if ((sizeLimit[i] ?? 0) < size) continue;
      this.insert(i);
      this.ownPrompt = Math.min(this.ownPrompt, prompt[i] ?? 0);
    }
    return N;
  }

  /**
   * The prompt of the current column's first cell that may hold k members (k of them, one of
   * output N), or Infinity when there is none.
   */
  firstPrompt(k: number): number {
    if (this.length < k) return Infinity;
    return Math.max(this.ownPrompt, this.prompt[this.members[k - 1] ?? 0] ?? 0);
  }

  /** Visits the columns and cells for visitor.size() members (see the header). */
  scan(visitor: ColumnVisitor): void {
    this.begin();
    for (let N = this.next(visitor.size()); N >= 0; N = this.next(visitor.size())) {
      const verdict = this.visitColumn(N, visitor);
      // 'unfit': memory only gets tighter with N, for every prompt.
      if (verdict === 'stop' || verdict === 'unfit') return;
    }
  }

  /**
   * Makes column `index` of `outputs` the current one, built from scratch in O(M log M) (for
   * callers that visit the columns out of order): its members are the candidates with an output
   * of at most its N that may be in a batch of `size`. next() goes on from the column after it.
   * Returns its N.
   */
  seek(index: number, size: number): number {
    const { prompt, output, sizeLimit, members } = this;
    const M = prompt.length;
    const N = this.outputs[index] ?? 0;
    this.byPrompt ??= orderBy(prompt);
    this.length = 0;
    this.deadlines.clear();
    this.ownPrompt = Infinity;
    for (let r = 0; r < M; r++) {
      const i = this.byPrompt[r] ?? 0;
      const n = output[i] ?? 0;
      if (n > N || (sizeLimit[i] ?? 0) < size) continue;
      members[this.length++] = i;
      this.deadlines.add(this.deadlineRank[i] ?? 0, 0);
      if (n === N) this.ownPrompt = Math.min(this.ownPrompt, prompt[i] ?? 0);
    }
    this.column = index + 1;
    let next = 0;
    while (next < M && (output[this.byOutput[next] ?? 0] ?? 0) <= N) next++;
    this.next_ = next;
    return N;
  }

  /**
   * Visits the current column's cells (output N) for visitor.size() members: 'unfit' when not
   * even the smallest prompt fits that many padded sequences in memory, 'stop' when the visitor
   * stopped, 'done' otherwise.
   */
  visitColumn(N: number, visitor: ColumnVisitor): 'done' | 'stop' | 'unfit' {
    const { cost, prompt, members } = this;
    const k = Math.max(1, visitor.size());
    if (!staticFits(cost, k, this.minPrompt, N)) return 'unfit';
    const first = this.firstPrompt(k);
    if (!staticFits(cost, k, first, N)) return 'done';
    if (!visitor.enter(N, first)) return 'done';
    let p = 0;
    while (p < this.length) {
      const S = prompt[members[p] ?? 0] ?? 0;
      for (; p < this.length && (prompt[members[p] ?? 0] ?? 0) === S; p++) {
        visitor.add(members[p] ?? 0);
      }
      if (S < first) continue;
      // Memory only gets tighter with S.
      if (!staticFits(cost, Math.max(1, visitor.size()), S, N)) break;
      const verdict = visitor.cell(S);
      if (verdict === 'end') break;
      if (verdict === 'stop') return 'stop';
    }
    return 'done';
  }
}
