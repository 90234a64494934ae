// Orders of the candidates by a numeric key, without a comparator callback: the keys are sorted
// by the typed array's native sort and every index finds its place by binary search. In a fresh
// process (the CLI, an operator's first rounds) a comparator runs interpreted, once per
// comparison; this does O(n log n) plain loop steps instead.

/** Candidate indices 0..n-1 ordered by `keys` ascending, ties by index. */
export function orderBy(keys: Float64Array): Int32Array {
  const n = keys.length;
  const sorted = Float64Array.from(keys).sort();
  const order = new Int32Array(n);
  // Equal keys take consecutive places in index order: `taken` counts the places already used
  // at each key's first place.
  const taken = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const key = keys[i] ?? 0;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((sorted[mid] ?? 0) < key) lo = mid + 1;
      else hi = mid;
    }
    const place = lo + (taken[lo] ?? 0);
    taken[lo] = (taken[lo] ?? 0) + 1;
    order[place] = i;
  }
  return order;
}

/** rank[i] = the position of candidate i in `order`. */
export function ranksOf(order: Int32Array): Int32Array {
  const rank = new Int32Array(order.length);
  for (let r = 0; r < order.length; r++) rank[order[r] ?? 0] = r;
  return rank;
}

/**
 * The largest x in [lo, hi] with ok(x), for a predicate that holds up to some point and not
 * after it (lo is returned when ok holds nowhere above it; callers check lo themselves).
 */
export function largestWhere(lo: number, hi: number, ok: (x: number) => boolean): number {
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (ok(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** An order of the candidates by a key and each one's place in it, built on first use. */
export class LazyOrder {
  private built: { order: Int32Array; rank: Int32Array } | null = null;

  constructor(
    private readonly keys: Float64Array,
    private readonly descending: boolean,
  ) {}

  private get orders(): { order: Int32Array; rank: Int32Array } {
    if (this.built === null) {
      const order = this.descending ? orderByDescending(this.keys) : orderBy(this.keys);
      this.built = { order, rank: ranksOf(order) };
    }
    return this.built;
  }

  /** Candidate indices in key order (ties by index). */
  get order(): Int32Array {
    return this.orders.order;
  }

  /** rank[i] = the place of candidate i in `order`. */
  get rank(): Int32Array {
    return this.orders.rank;
  }
}

/** Candidate indices ordered by `key(i)` descending, ties by index. */
export function orderByDescending(keys: Float64Array): Int32Array {
  const negated = new Float64Array(keys.length);
  for (let i = 0; i < keys.length; i++) negated[i] = -(keys[i] ?? 0);
  return orderBy(negated);
}

/**
 * The k-th largest of values[0..count) (1 <= k <= count), by quickselect on a copy in `work`
 * (at least count long).
 */
export function kthLargest(
  values: Float64Array,
  count: number,
  k: number,
  work: Float64Array,
): number {
  for (let i = 0; i < count; i++) work[i] = values[i] ?? 0;
  let lo = 0;
  let hi = count - 1;
  const target = k - 1; // position in descending order
  while (lo < hi) {
    const pivot = work[(lo + hi) >> 1] ?? 0;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((work[i] ?? 0) > pivot) i++;
      while ((work[j] ?? 0) < pivot) j--;
      if (i <= j) {
        const t = work[i] ?? 0;
        work[i] = work[j] ?? 0;
        work[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return work[target] ?? 0;
  }
  return work[target] ?? 0;
}
