// Accuracy eligibility (spec §2): a request accepts a variant whose perplexity exceeds the best
// variant's by at most the request's maxPerplexityIncrease.
import type { ModelVariant } from './types.js';

export function isEligible(
  variant: Pick<ModelVariant, 'perplexity'>,
  bestPerplexity: number,
  maxPerplexityIncrease: number,
): boolean {
  return variant.perplexity - bestPerplexity <= maxPerplexityIncrease;
}

/** The best (lowest) perplexity among variants of the same model. */
export function bestPerplexity(variants: readonly Pick<ModelVariant, 'perplexity'>[]): number {
  return variants.reduce((best, v) => Math.min(best, v.perplexity), Infinity);
}
