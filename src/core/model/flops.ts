// FLOPs of prefill and decode (spec §2, FlexGen's per-layer cost model with general h_ff).
import type { ModelVariant } from './types.js';

/** FLOPs per token per layer of the dense parts: 8h^2 (QKVO projections) + 4h*h_ff (FFN). */
export function denseFlopsPerTokenLayer(model: ModelVariant): number {
  const h = model.hiddenSize;
  return 8 * h * h + 4 * h * model.ffnSize;
}

/** Prefill FLOPs of one sequence of `promptTokens` tokens: L * (s*(8h^2+4h h_ff) + 4 s^2 h). */
export function prefillFlops(model: ModelVariant, promptTokens: number): number {
  const s = promptTokens;
  return model.layers * (s * denseFlopsPerTokenLayer(model) + 4 * s * s * model.hiddenSize);
}

/**
 * Decode FLOPs of one sequence: L * sum_{i=1}^{n-1} (8h^2 + 4h h_ff + 4h (s+i)), in closed form
 * L * ((n-1)(8h^2+4h h_ff) + 4h s (n-1) + 2h n (n-1)).
 */
export function decodeFlops(
  model: ModelVariant,
  promptTokens: number,
  outputTokens: number,
): number {
  const steps = Math.max(0, outputTokens - 1);
  const h = model.hiddenSize;
  return (
    model.layers *
    (steps * denseFlopsPerTokenLayer(model) +
      4 * h * promptTokens * steps +
      2 * h * outputTokens * steps)
  );
}

/** FLOPs of one decode step for one sequence whose context holds `contextTokens` tokens. */
export function decodeStepFlops(model: ModelVariant, contextTokens: number): number {
  return model.layers * (denseFlopsPerTokenLayer(model) + 4 * model.hiddenSize * contextTokens);
}
