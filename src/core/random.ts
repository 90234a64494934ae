// A seeded pseudo-random source for the pure core and the simulators: mulberry32 (a 32-bit
// state, full period 2^32, passes SmallCrush). Deterministic for a seed; never Math.random.

/** Returns a function giving uniform numbers in [0, 1), determined by `seed`. */
export function createRng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
