// Bounded heaps of the sweep: the k smallest values offered (with their owners and sum), and
// the k largest (their minimum and sum). O(log k) per offer, no allocation.

/** A max-heap keeping the k smallest values offered, with their owners and their sum. */
export class SmallestK {
  private readonly values: Float64Array;
  private readonly owners: Int32Array;
  size = 0;
  sum = 0;
  private k: number;

  constructor(k: number) {
    this.k = k;
    this.values = new Float64Array(k);
    this.owners = new Int32Array(k);
  }

  /** How many values it keeps. */
  get capacity(): number {
    return this.k;
  }

  /** The largest value kept (the k-th smallest once k values were offered). */
  get largest(): number {
    return this.values[0] ?? 0;
  }

  /** Empties the heap; from now on it keeps `k` values (at most the initial capacity). */
  reset(k: number = this.k): void {
    this.k = Math.min(k, this.values.length);
    this.size = 0;
    this.sum = 0;
  }

  offer(value: number, owner: number): void {
    if (this.k === 0) return;
    const values = this.values;
    const owners = this.owners;
    if (this.size < this.k) {
      let i = this.size++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if ((values[parent] ?? 0) >= value) break;
        values[i] = values[parent] ?? 0;
        owners[i] = owners[parent] ?? 0;
        i = parent;
      }
      values[i] = value;
      owners[i] = owner;
      this.sum += value;
      return;
    }
    const top = values[0] ?? 0;
    if (value >= top) return;
    this.sum += value - top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= this.size) break;
      const r = l + 1;
      const c = r < this.size && (values[r] ?? 0) > (values[l] ?? 0) ? r : l;
      if ((values[c] ?? 0) <= value) break;
      values[i] = values[c] ?? 0;
      owners[i] = owners[c] ?? 0;
      i = c;
    }
    values[i] = value;
    owners[i] = owner;
  }

  members(): number[] {
    return Array.from(this.owners.subarray(0, this.size));
  }
}

/**
 * The k largest values offered: their minimum (the k-th largest), the one before it, and their
 * sum. A min-heap of values only (the sweep offers thousands of deadlines per decision, mostly
 * in a fresh process, so one call per offer).
 */
export class LargestK {
  private readonly values: Float64Array;
  private k: number;
  size = 0;
  sum = 0;

  constructor(k: number) {
    this.k = Math.max(1, k);
    this.values = new Float64Array(this.k);
  }

  /** Empties the heap and keeps the k largest from now on (k at most the initial capacity). */
  reset(k: number): void {
    this.k = Math.min(Math.max(0, k), this.values.length);
    this.size = 0;
    this.sum = 0;
  }

  /** The k-th largest value offered, or -Infinity while fewer than k were. */
  get kth(): number {
    return this.size < this.k || this.k === 0 ? -Infinity : (this.values[0] ?? 0);
  }

  /** The (k-1)-th largest value offered (k >= 2), or -Infinity while fewer than k - 1 were. */
  get previous(): number {
    const v = this.values;
    const size = this.size;
    if (size < this.k - 1 || size === 0) return -Infinity;
    if (size < this.k) return v[0] ?? 0; // k - 1 values: the smallest is the (k-1)-th largest
    if (size === 2) return v[1] ?? 0;
    return Math.min(v[1] ?? 0, v[2] ?? 0);
  }

  offer(value: number): void {
    const values = this.values;
    const k = this.k;
    if (k === 0) return;
    if (this.size < k) {
      let i = this.size++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if ((values[parent] ?? 0) <= value) break;
        values[i] = values[parent] ?? 0;
        i = parent;
      }
      values[i] = value;
      this.sum += value;
      return;
    }
    const top = values[0] ?? 0;
    if (value <= top) return;
    this.sum += value - top;
    let i = 0;
    const size = this.size;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= size) break;
      const r = l + 1;
      const c = r < size && (values[r] ?? 0) < (values[l] ?? 0) ? r : l;
      if ((values[c] ?? 0) >= value) break;
      values[i] = values[c] ?? 0;
      i = c;
    }
    values[i] = value;
  }
}
