// Radio links (spec §2): every user of a batch uploads (downloads) in parallel; shares are chosen
// so that all finish together.
//
// `linear` (default): Shannon rate at fixed noise, r_u = x_u * e_u with x_u the user's share of
// the band; proportional shares x_u = B * (D_u/e_u) / sum_v (D_v/e_v) give T = sum_v (D_v/e_v) / B.
//
// `noise-scaled`: noise grows with the share, r_u = x log2(1 + rho_u / x) with rho_u = p g / N0
// (Hz). We derive rho_u from the user's spectral efficiency over the whole band,
// e_u = log2(1 + rho_u / B), so rho_u = (2^e_u - 1) * B. Then T is found by bisection: for a
// candidate T each user needs the x_u with x_u log2(1 + rho_u/x_u) = D_u / T (bisection again),
// and T is the smallest with sum x_u <= B. A narrower share concentrates power, so this T never
// exceeds the linear one, which bounds the search.

/** One user's payload on one link. */
export interface LinkDemand {
  /** Bits to move (tokens * bits per token). */
  readonly bits: number;
  /** Spectral efficiency over the whole band, bit/s/Hz. */
  readonly spectralEfficiency: number;
}

export interface LinkAllocation {
  readonly seconds: number;
  /** Bandwidth share of each user, Hz, in input order; they sum to the band. */
  readonly sharesHz: readonly number[];
}

/** Bisection steps on the phase time: 2^-50 relative precision, far below any time that matters. */
const BISECTION_STEPS = 50;

/** Linear model: the phase time from the summed load sum_v D_v / e_v (Hz*s). */
export function linearLinkSeconds(loadHzSeconds: number, bandwidthHz: number): number {
  return loadHzSeconds / bandwidthHz;
}

export function linearAllocation(
  demands: readonly LinkDemand[],
  bandwidthHz: number,
): LinkAllocation {
  const loads = demands.map((d) => d.bits / d.spectralEfficiency);
  const total = loads.reduce((a, b) => a + b, 0);
  return {
    seconds: linearLinkSeconds(total, bandwidthHz),
    sharesHz: loads.map((l) =>
      total > 0 ? (bandwidthHz * l) / total : bandwidthHz / loads.length,
    ),
  };
}

/** Rate (bit/s) of a share of `x` Hz for a user with rho = p g / N0 (Hz). */
function noiseScaledRate(x: number, rhoHz: number): number {
  return x * Math.log2(1 + rhoHz / x);
}

/** Safeguarded Newton iterations for one user's share (quadratic near the root). */
const NEWTON_STEPS = 60;
const SHARE_RELATIVE_TOLERANCE = 1e-12;

/**
 * Smallest share x in (0, B] with rate(x) >= needed; Infinity when even B is not enough.
 * Newton's method inside a shrinking bracket [lo, hi] (rate(lo) < needed <= rate(hi)),
 * falling back to bisection when a step leaves the bracket. The linear share needed/e is an
 * upper bound (a narrower share only concentrates power), which starts the bracket tight.
 */
function shareForRate(
  neededBitsPerSecond: number,
  rhoHz: number,
  bandwidthHz: number,
  linearShareHz: number,
): number {
  if (noiseScaledRate(bandwidthHz, rhoHz) < neededBitsPerSecond) return Infinity;
  let lo = 0;
  let hi = Math.min(bandwidthHz, linearShareHz);
  if (noiseScaledRate(hi, rhoHz) < neededBitsPerSecond) hi = bandwidthHz;
  let x = hi;
  for (let i = 0; i < NEWTON_STEPS && hi - lo > SHARE_RELATIVE_TOLERANCE * hi; i++) {
    const ratio = rhoHz / x;
    const f = x * Math.log2(1 + ratio) - neededBitsPerSecond;
    if (f >= 0) hi = x;
    else lo = x;
    const slope = Math.log2(1 + ratio) - ratio / ((1 + ratio) * Math.LN2);
    const newton = x - f / slope;
    x = newton > lo && newton < hi ? newton : (lo + hi) / 2;
  }
  return hi;
}

export function noiseScaledAllocation(
  demands: readonly LinkDemand[],
  bandwidthHz: number,
): LinkAllocation {
  const active = demands.filter((d) => d.bits > 0);
  if (active.length === 0)
    return { seconds: 0, sharesHz: demands.map(() => bandwidthHz / demands.length) };
  const rho = demands.map((d) => (2 ** d.spectralEfficiency - 1) * bandwidthHz);
  const sharesAt = (t: number): number[] =>
    demands.map((d, i) =>
      d.bits > 0
        ? shareForRate(d.bits / t, rho[i] ?? 0, bandwidthHz, d.bits / t / d.spectralEfficiency)
        : 0,
    );
  const fits = (t: number): boolean => sharesAt(t).reduce((a, b) => a + b, 0) <= bandwidthHz;
  let hi = linearAllocation(demands, bandwidthHz).seconds;
  if (!fits(hi)) hi *= 1 + 1e-9; // rounding at the linear bound
  let lo = 0;
  for (let i = 0; i < BISECTION_STEPS; i++) {
    const mid = (lo + hi) / 2;
    if (fits(mid)) hi = mid;
    else lo = mid;
  }
  const shares = sharesAt(hi);
  const used = shares.reduce((a, b) => a + b, 0);
  // Hand the rounding slack out proportionally so the shares use exactly the band.
  const scale = used > 0 ? bandwidthHz / used : 1;
  return { seconds: hi, sharesHz: shares.map((x) => x * scale) };
}
