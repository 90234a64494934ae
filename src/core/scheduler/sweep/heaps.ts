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

/** The k largest values offered: their minimum (the k-th largest) and sum. */
export class LargestK {
  /** The k smallest negated values are the k largest values. */
  private readonly negated: SmallestK;

  constructor(k: number) {
    this.negated = new SmallestK(Math.max(1, k));
  }

  /** Empties the heap and keeps the k largest from now on (k at most the initial capacity). */
  reset(k: number): void {
    this.negated.reset(k);
  }

  get size(): number {
    return this.negated.size;
  }

  get sum(): number {
    return -this.negated.sum;
  }

  /** The k-th largest value offered, or -Infinity while fewer than k were. */
  get kth(): number {
    return this.negated.size < this.negated.capacity ? -Infinity : -this.negated.largest;
  }

  offer(value: number): void {
    this.negated.offer(-value, 0);
  }
}
