// Model shapes the tests share. LLaMA-2-7B is the scheduling paper's model.
import type { ModelVariant } from '../../src/core/model/types.js';

/** LLaMA-2-7B's architecture numbers. */
export const LLAMA_7B_SHAPE = {
  layers: 32,
  hiddenSize: 4096,
  ffnSize: 11008,
  kvWidth: 4096,
  parameters: 6.74e9,
} as const;

/** A LLaMA-2-7B variant as the core's cost model sees it (F16 with its perplexity by default). */
export function llama7b(quantization = 'F16', weightBits = 16, perplexity = 5.68): ModelVariant {
  return {
    name: 'llama-7b',
    quantization,
    ...LLAMA_7B_SHAPE,
    weightBits,
    kvBits: 16,
    computeFactor: 1,
    perplexity,
  };
}
