// Memory of a batch: weights plus KV cache (spec §2).
import type { ModelVariant } from './types.js';

const BITS_PER_BYTE = 8;
/** Keys and values: two cached vectors per token per layer. */
const KV_TENSORS = 2;

/** M_w(q) = P * w_q / 8. */
export function weightBytes(model: ModelVariant): number {
  return (model.parameters * model.weightBits) / BITS_PER_BYTE;
}

/** KV-cache bytes per cached token: 2 * L * h_kv * k_q / 8. */
export function kvBytesPerToken(model: ModelVariant): number {
  return (KV_TENSORS * model.layers * model.kvWidth * model.kvBits) / BITS_PER_BYTE;
}
