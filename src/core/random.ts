// A seeded pseudo-random source for the pure core (mulberry32: 32-bit state, fast, good enough
// for simulation and tie-breaking; not for anything secret). Randomness is always a parameter.

export type Random = () => number;

/** Returns a function giving uniform numbers in [0, 1), fully determined by `seed`. */
export function createRng(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform number in [lo, hi). */
export function uniform(rng: Random, lo: number, hi: number): number {
  return lo + (hi - lo) * rng();
}

/** Uniform integer in [lo, hi] (inclusive). */
export function uniformInt(rng: Random, lo: number, hi: number): number {
  return lo + Math.floor((hi - lo + 1) * rng());
}

/** Fisher-Yates shuffle into a new array. */
export function shuffled<T>(rng: Random, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = out[i] as T;
    out[i] = out[j] as T;
    out[j] = tmp;
  }
  return out;
}
