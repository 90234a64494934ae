// Tiny llama-architecture models with seeded random weights and a small SentencePiece-style
// vocabulary (byte fallback, so any text tokenizes), for fast tests of the real runtime.

import { encodeTensor, type GgmlType } from './quantize.js';
import { type GgufTensor, type GgufValue, writeGguf } from './writer.js';

export interface TinyModelShape {
  readonly embeddingLength: number;
  readonly blockCount: number;
  readonly feedForwardLength: number;
  readonly headCount: number;
  readonly headCountKv: number;
  readonly contextLength: number;
}

/** Defaults: every matrix dimension is a multiple of 32 so Q8_0/Q4_0 blocks tile the rows. */
export const TINY_MODEL_DEFAULTS = {
  shape: {
    embeddingLength: 128,
    blockCount: 4,
    feedForwardLength: 256,
    headCount: 4,
    headCountKv: 2,
    contextLength: 4096,
  },
  rmsEpsilon: 1e-5,
  ropeFreqBase: 10_000,
  seed: 42,
} as const satisfies {
  shape: TinyModelShape;
  rmsEpsilon: number;
  ropeFreqBase: number;
  seed: number;
};

/** The quantization types the generator writes, with GGUF's general.file_type ids. */
export const TINY_MODEL_TYPES = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 7 } as const satisfies Record<
  GgmlType,
  number
>;

/** SentencePiece token types (llama_token_type). */
const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, byte: 6 } as const;
const SPACE = '\u2581'; // SentencePiece's word-boundary marker

/** A few multi-character pieces; each is reachable by merging two shorter pieces. */
const PIECES = [
  `${SPACE}t`,
  `${SPACE}th`,
  `${SPACE}the`,
  `${SPACE}a`,
  `${SPACE}an`,
  `${SPACE}and`,
  `${SPACE}o`,
  `${SPACE}of`,
  `${SPACE}i`,
  `${SPACE}in`,
  'th',
  'he',
  'in',
  'er',
  'an',
  're',
  'on',
  'at',
  'en',
  'ed',
  'ing',
  'es',
  'or',
];

export interface TinyVocab {
  readonly tokens: readonly string[];
  readonly scores: readonly number[];
  readonly types: readonly number[];
}

/** `<unk>`, `<s>`, `</s>`, the 256 byte tokens, `▁`, printable ASCII, and a few merges. */
export function tinyVocab(): TinyVocab {
  const tokens: string[] = ['<unk>', '<s>', '</s>'];
  const types: number[] = [TOKEN_TYPE.unknown, TOKEN_TYPE.control, TOKEN_TYPE.control];
  const scores: number[] = [0, 0, 0];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(TOKEN_TYPE.byte);
    scores.push(0);
  }
  const singles = [SPACE];
  for (let c = 0x21; c < 0x7f; c++) singles.push(String.fromCharCode(c));
  for (const piece of [...singles, ...PIECES]) {
    tokens.push(piece);
    types.push(TOKEN_TYPE.normal);
    // Longer pieces score higher so the tokenizer prefers them when merging.
    scores.push(-100 + piece.length);
  }
  return { tokens, scores, types };
}

/**
 * mulberry32: a small seeded PRNG with uniform output in [0, 1). A deliberate copy of the core's
 * createRng (src/core/random.ts): the tiny models' weights come from it, and their cache key is a
 * hash of this folder's sources (tinyGeneratorHash), so the generated files must change exactly
 * when this folder does, never because the simulator's random source changed.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface TinyModelOptions {
  readonly type: GgmlType;
  readonly shape?: TinyModelShape;
  readonly seed?: number;
  readonly name?: string;
}

/** Builds the GGUF bytes of a tiny llama model whose matrices are stored as `type`. */
export function buildTinyModel(options: TinyModelOptions): Uint8Array {
  const shape = options.shape ?? TINY_MODEL_DEFAULTS.shape;
  const random = seededRandom(options.seed ?? TINY_MODEL_DEFAULTS.seed);
  const vocab = tinyVocab();
  const nVocab = vocab.tokens.length;
  const nEmbd = shape.embeddingLength;
  const headDim = nEmbd / shape.headCount;
  const nEmbdKv = headDim * shape.headCountKv;

  const tensors: GgufTensor[] = [];
  const matrix = (name: string, cols: number, rows: number): void => {
    // Uniform in [-a, a] with a = sqrt(3 / cols): unit-variance outputs for unit-variance inputs.
    const a = Math.sqrt(3 / cols);
    const values = new Float32Array(cols * rows);
    for (let i = 0; i < values.length; i++) values[i] = (random() * 2 - 1) * a;
    tensors.push({
      name,
      dims: [cols, rows],
      type: options.type,
      data: encodeTensor(options.type, values),
    });
  };
  const norm = (name: string): void => {
    // Norm weights stay F32, as llama.cpp's converters write them.
    tensors.push({
      name,
      dims: [nEmbd],
      type: 'F32',
      data: encodeTensor('F32', new Float32Array(nEmbd).fill(1)),
    });
  };

  matrix('token_embd.weight', nEmbd, nVocab);
  for (let i = 0; i < shape.blockCount; i++) {
    norm(`blk.${i}.attn_norm.weight`);
    matrix(`blk.${i}.attn_q.weight`, nEmbd, nEmbd);
    matrix(`blk.${i}.attn_k.weight`, nEmbd, nEmbdKv);
    matrix(`blk.${i}.attn_v.weight`, nEmbd, nEmbdKv);
    matrix(`blk.${i}.attn_output.weight`, nEmbd, nEmbd);
    norm(`blk.${i}.ffn_norm.weight`);
    matrix(`blk.${i}.ffn_gate.weight`, nEmbd, shape.feedForwardLength);
    matrix(`blk.${i}.ffn_up.weight`, nEmbd, shape.feedForwardLength);
    matrix(`blk.${i}.ffn_down.weight`, shape.feedForwardLength, nEmbd);
  }
  norm('output_norm.weight');
  matrix('output.weight', nEmbd, nVocab);

  const u32 = (value: number): GgufValue => ({ type: 'uint32', value });
  const metadata = new Map<string, GgufValue>([
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.name', { type: 'string', value: options.name ?? `edgellm-tiny-${options.type}` }],
    ['general.file_type', u32(TINY_MODEL_TYPES[options.type])],
    ['general.alignment', u32(32)],
    ['llama.context_length', u32(shape.contextLength)],
    ['llama.embedding_length', u32(nEmbd)],
    ['llama.block_count', u32(shape.blockCount)],
    ['llama.feed_forward_length', u32(shape.feedForwardLength)],
    ['llama.attention.head_count', u32(shape.headCount)],
    ['llama.attention.head_count_kv', u32(shape.headCountKv)],
    ['llama.rope.dimension_count', u32(headDim)],
    ['llama.rope.freq_base', { type: 'float32', value: TINY_MODEL_DEFAULTS.ropeFreqBase }],
    [
      'llama.attention.layer_norm_rms_epsilon',
      { type: 'float32', value: TINY_MODEL_DEFAULTS.rmsEpsilon },
    ],
    ['llama.vocab_size', u32(nVocab)],
    ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', value: vocab.tokens }],
    ['tokenizer.ggml.scores', { type: 'array', itemType: 'float32', value: vocab.scores }],
    ['tokenizer.ggml.token_type', { type: 'array', itemType: 'int32', value: vocab.types }],
    ['tokenizer.ggml.unknown_token_id', u32(0)],
    ['tokenizer.ggml.bos_token_id', u32(1)],
    ['tokenizer.ggml.eos_token_id', u32(2)],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: true }],
    ['tokenizer.ggml.add_eos_token', { type: 'bool', value: false }],
  ]);
  return writeGguf({ metadata, tensors });
}
