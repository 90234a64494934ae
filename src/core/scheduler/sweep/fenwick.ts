// A Fenwick (binary indexed) tree over ranks 0..size-1, each rank present at most once with a
// value: insert in O(log n); "the k-th present rank" and "the sum of the values of the first k
// present ranks" in O(log n) each.
export class Fenwick {
  private readonly counts: Int32Array;
  private readonly sums: Float64Array;
  private readonly top: number;

  constructor(readonly size: number) {
    this.counts = new Int32Array(size + 1);
    this.sums = new Float64Array(size + 1);
    let top = 1;
    while (top * 2 <= size) top *= 2;
    this.top = size > 0 ? top : 0;
  }

  clear(): void {
    this.counts.fill(0);
    this.sums.fill(0);
  }

  /**
   * Resets the tree to hold exactly `count` ranks from `ranks` (each with `values[i]` for the
   * rank at position i), in O(size) instead of O(count log size).
   */
  build(ranks: ArrayLike<number>, values: ArrayLike<number> | null, count: number): void {
    const counts = this.counts;
    const sums = this.sums;
    counts.fill(0);
    sums.fill(0);
    for (let i = 0; i < count; i++) {
      const at = (ranks[i] ?? 0) + 1;
      counts[at] = 1;
      sums[at] = values === null ? 0 : (values[i] ?? 0);
    }
    for (let i = 1; i <= this.size; i++) {
      const j = i + (i & -i);
      if (j <= this.size) {
        counts[j] = (counts[j] ?? 0) + (counts[i] ?? 0);
        sums[j] = (sums[j] ?? 0) + (sums[i] ?? 0);
      }
    }
  }

  /** Marks `rank` present with `value` (each rank at most once). */
  add(rank: number, value: number): void {
    for (let i = rank + 1; i <= this.size; i += i & -i) {
      this.counts[i] = (this.counts[i] ?? 0) + 1;
      this.sums[i] = (this.sums[i] ?? 0) + value;
    }
  }

  /** How many ranks 0..rank are present. */
  countUpTo(rank: number): number {
    let c = 0;
    for (let i = Math.min(rank + 1, this.size); i > 0; i -= i & -i) c += this.counts[i] ?? 0;
    return c;
  }

  /** The k-th present rank in rank order (k >= 1), or -1 when fewer than k are present. */
  kth(k: number): number {
    let pos = 0;
    let left = k;
    for (let step = this.top; step > 0; step >>= 1) {
      const next = pos + step;
      if (next <= this.size) {
        const c = this.counts[next] ?? 0;
        if (c < left) {
          pos = next;
          left -= c;
        }
      }
    }
    return pos < this.size ? pos : -1;
  }

  /** Sum of the values of the first k present ranks (of all of them when fewer are present). */
  sumOfFirst(k: number): number {
    let pos = 0;
    let left = k;
    let sum = 0;
    for (let step = this.top; step > 0; step >>= 1) {
      const next = pos + step;
      if (next <= this.size) {
        const c = this.counts[next] ?? 0;
        if (c <= left) {
          pos = next;
          left -= c;
          sum += this.sums[next] ?? 0;
        }
      }
    }
    return sum;
  }
}
