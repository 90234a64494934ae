// The shape of a model as the cost model needs it (src/core/model/types.ts ModelVariant), derived
// from a parsed GGUF header, plus what Model status shows: architecture, file type, context
// length and whether a chat template is present.
import type { ModelVariant } from '../core/model/types.js';
import { GGUF_FILE_TYPE_NAMES } from './ggml-type-sizes.js';
import { GgufShapeError } from './header-errors.js';
import type { GgufHeader, GgufMetadataValue } from './header-reader.js';

export interface GgufModelShape extends Pick<
  ModelVariant,
  'layers' | 'hiddenSize' | 'ffnSize' | 'kvWidth' | 'parameters' | 'weightBits'
> {
  /** general.architecture (llama, qwen2, gemma2, ...): the prefix of the shape keys. */
  readonly architecture: string;
  /** The quantization general.file_type names, when the file has one edgellm knows. */
  readonly fileType?: string;
  /** <arch>.context_length: the context the model was trained for. */
  readonly contextLength: number;
  /** Whether tokenizer.chat_template is present. */
  readonly chatTemplate: boolean;
}

/** A non-negative safe integer from a scalar, or the largest of a per-layer array. */
function integerOf(value: GgufMetadataValue, key: string): number {
  if (typeof value === 'object') {
    if (value.items === undefined || value.items.length === 0) {
      throw new GgufShapeError(`${key} is an array of ${value.length} items; expected a number`);
    }
    return Math.max(...value.items.map((item, i) => integerOf(item, `${key}[${i}]`)));
  }
  const n = typeof value === 'bigint' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new GgufShapeError(`${key} is ${String(value)}; expected a non-negative integer`);
  }
  return n;
}

/**
 * Derives the shape. Per-layer values (some architectures vary the FFN size or KV heads by
 * layer) count at their largest, so memory and FLOPs are never underestimated. kvWidth is
 * n_kv_heads * (key_length + value_length) / 2, so 2 * kvWidth is the K plus V width per layer
 * (head_dim = hiddenSize / n_heads when the file gives no key/value length). weightBits is
 * 8 * (bytes of all tensors) / parameters: embeddings and norms kept at higher precision make it
 * larger than the quantization's nominal bits, and weights times it is the memory they take.
 */
export function modelShapeOf(header: GgufHeader): GgufModelShape {
  const arch = header.metadata.get('general.architecture');
  if (typeof arch !== 'string' || arch === '') {
    throw new GgufShapeError('general.architecture is missing: not a model file llama.cpp can run');
  }
  const required = (suffix: string): number => {
    const key = `${arch}.${suffix}`;
    const value = header.metadata.get(key);
    if (value === undefined) {
      throw new GgufShapeError(
        `${key} is missing: the ${arch} file does not say its ${suffix.replaceAll('_', ' ')}`,
      );
    }
    const n = integerOf(value, key);
    if (n < 1) throw new GgufShapeError(`${key} is ${n}; expected at least 1`);
    return n;
  };
  const optional = (suffix: string): number | undefined => {
    const value = header.metadata.get(`${arch}.${suffix}`);
    return value === undefined ? undefined : integerOf(value, `${arch}.${suffix}`);
  };

  const layers = required('block_count');
  const hiddenSize = required('embedding_length');
  const ffnSize = required('feed_forward_length');
  const heads = required('attention.head_count');
  const kvHeads = optional('attention.head_count_kv') ?? heads;
  const keyLength = optional('attention.key_length') ?? hiddenSize / heads;
  const valueLength = optional('attention.value_length') ?? keyLength;
  const kvWidth = Math.ceil((kvHeads * (keyLength + valueLength)) / 2);
  if (!Number.isSafeInteger(kvWidth) || kvWidth < 1) {
    throw new GgufShapeError(
      `${arch}: KV width ${kvWidth} from ${kvHeads} KV heads of key/value length ${keyLength}/${valueLength} is not a positive integer`,
    );
  }
  const contextLength = required('context_length');

  let parameters = 0;
  let bytes = 0;
  for (const t of header.tensors) {
    parameters += t.elements;
    bytes += t.bytes;
  }
  if (parameters === 0) throw new GgufShapeError('the file has no tensors');

  const fileTypeValue = header.metadata.get('general.file_type');
  const fileTypeId =
    fileTypeValue === undefined ? undefined : integerOf(fileTypeValue, 'general.file_type');
  const fileType =
    fileTypeId === undefined
      ? undefined
      : (GGUF_FILE_TYPE_NAMES.get(fileTypeId) ?? `file type ${fileTypeId}`);

  return {
    architecture: arch,
    ...(fileType === undefined ? {} : { fileType }),
    layers,
    hiddenSize,
    ffnSize,
    kvWidth,
    parameters,
    weightBits: (8 * bytes) / parameters,
    contextLength,
    chatTemplate: typeof header.metadata.get('tokenizer.chat_template') === 'string',
  };
}
