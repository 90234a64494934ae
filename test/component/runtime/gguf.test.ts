// The GGUF writer and the ggml block quantizers: encoded values decode within the format's
// error bound, a written file parses back (with node-llama-cpp's own GGUF reader) to the same
// header, metadata and tensor layout, and llama.cpp loads and runs every quantization type.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGgufFileInfo } from 'node-llama-cpp';
import {
  BLOCK_BYTES,
  decodeTensor,
  encodeTensor,
  fromHalfBits,
  QK,
  toHalfBits,
} from '../../../src/runtime/gguf/quantize.js';
import {
  buildTinyModel,
  seededRandom,
  TINY_MODEL_DEFAULTS,
  tinyVocab,
} from '../../../src/runtime/gguf/tiny-model.js';
import { createLlamaRuntime, type LlamaRuntime } from '../../../src/runtime/llama.js';
import { TINY_MODEL_QUANTIZATIONS, tinyModelPath } from '../../../src/runtime/models/catalog.js';

function randomValues(n: number, seed: number, scale = 1): Float32Array {
  const random = seededRandom(seed);
  return Float32Array.from({ length: n }, () => (random() * 2 - 1) * scale);
}

describe('half-precision conversion', () => {
  it('encodes exact values, the largest finite half, subnormals and rounds to nearest even', () => {
    expect(toHalfBits(1)).toBe(0x3c00);
    expect(toHalfBits(-2)).toBe(0xc000);
    expect(toHalfBits(65504)).toBe(0x7bff);
    expect(toHalfBits(1e6)).toBe(0x7c00);
    expect(toHalfBits(2 ** -24)).toBe(0x0001);
    expect(toHalfBits(0)).toBe(0);
    // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: ties go to the even mantissa (1).
    expect(toHalfBits(1 + 2 ** -11)).toBe(0x3c00);
    expect(toHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    for (const v of randomValues(1000, 7, 100)) {
      const back = fromHalfBits(toHalfBits(v));
      expect(Math.abs(back - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 2 ** -25);
    }
  });
});

describe('block quantizers', () => {
  const values = randomValues(QK * 64, 11, 3);

  it('Q8_0 stores 34-byte blocks and decodes within half a quantization step', () => {
    // Half a step, plus the f16 rounding of the scale (2^-11 relative) times up to 127 steps.
    const data = encodeTensor('Q8_0', values);
    expect(data.length).toBe((values.length / QK) * BLOCK_BYTES.Q8_0);
    const back = decodeTensor('Q8_0', data, values.length);
    for (let b = 0; b < values.length / QK; b++) {
      const block = values.subarray(b * QK, (b + 1) * QK);
      const step = Math.max(...block.map(Math.abs)) / 127;
      for (let j = 0; j < QK; j++) {
        expect(Math.abs((back[b * QK + j] ?? 0) - (block[j] ?? 0))).toBeLessThanOrEqual(
          step * (0.5 + 127 * 2 ** -11),
        );
      }
    }
  });

  it('Q4_0 stores 18-byte blocks, maps the largest magnitude to -8 and decodes within half a step', () => {
    const data = encodeTensor('Q4_0', values);
    expect(data.length).toBe((values.length / QK) * BLOCK_BYTES.Q4_0);
    const back = decodeTensor('Q4_0', data, values.length);
    for (let b = 0; b < values.length / QK; b++) {
      const block = Array.from(values.subarray(b * QK, (b + 1) * QK));
      const extreme = block.reduce((m, v) => (Math.abs(v) > Math.abs(m) ? v : m), 0);
      const step = Math.abs(extreme) / 8;
      const slack = 8 * step * 2 ** -11; // the f16 scale's rounding
      block.forEach((v, j) => {
        const error = Math.abs((back[b * QK + j] ?? 0) - v);
        // Codes run from -8 to +7 steps: values on the extreme's side round to the nearest
        // step; on the other side, values beyond 7 steps clamp to 7 (at most one step off).
        const clamped = Math.sign(v) !== Math.sign(extreme) && Math.abs(v) > 7 * step;
        expect(error).toBeLessThanOrEqual((clamped ? step : step / 2) + slack);
      });
      // The extreme value is reproduced (up to the f16 scale's rounding).
      const at = block.indexOf(extreme);
      expect(back[b * QK + at]).toBeCloseTo(extreme, 2);
    }
  });

  it('rejects tensors that do not tile into 32-element blocks', () => {
    expect(() => encodeTensor('Q4_0', new Float32Array(33))).toThrow(/multiple of 32/);
  });
});

describe('GGUF writer', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgellm-gguf-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a file whose header, metadata and tensor infos parse back', async () => {
    const path = join(dir, 'q4.gguf');
    const bytes = buildTinyModel({ type: 'Q4_0', seed: 3 });
    await writeFile(path, bytes);
    const info = await readGgufFileInfo(path, { logWarnings: false });
    expect(info.version).toBe(3);
    const shape = TINY_MODEL_DEFAULTS.shape;
    const meta = info.metadata as unknown as Record<string, Record<string, unknown>>;
    expect(meta.general?.architecture).toBe('llama');
    expect(meta.general?.file_type).toBe(2);
    expect(info.architectureMetadata.block_count).toBe(shape.blockCount);
    expect(info.architectureMetadata.embedding_length).toBe(shape.embeddingLength);
    expect(info.architectureMetadata.attention?.head_count_kv).toBe(shape.headCountKv);
    const tokenizer = meta.tokenizer?.ggml as Record<string, unknown>;
    expect(tokenizer.model).toBe('llama');
    expect(tokenizer.tokens).toEqual(tinyVocab().tokens);
    const tensors = info.tensorInfo ?? [];
    expect(tensors).toHaveLength(2 + shape.blockCount * 9 + 1);
    const q = tensors.find((t) => t.name === 'blk.0.attn_k.weight');
    const headDim = shape.embeddingLength / shape.headCount;
    expect(q?.dimensions.map(Number)).toEqual([shape.embeddingLength, headDim * shape.headCountKv]);
    expect(q?.ggmlType).toBe(2);
    expect(tensors.find((t) => t.name === 'output_norm.weight')?.ggmlType).toBe(0);
    // Offsets are 32-byte aligned and the data section ends exactly at the end of the file.
    for (const t of tensors) expect(Number(t.offset) % 32).toBe(0);
    expect(info.tensorInfoSize).toBeGreaterThan(0);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const a = buildTinyModel({ type: 'Q8_0', seed: 5 });
    const b = buildTinyModel({ type: 'Q8_0', seed: 5 });
    const c = buildTinyModel({ type: 'Q8_0', seed: 6 });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(a).equals(Buffer.from(c))).toBe(false);
  });
});

describe('llama.cpp loads every generated quantization type', () => {
  let runtime: LlamaRuntime;
  beforeAll(async () => {
    runtime = await createLlamaRuntime({ threads: 2 });
  });
  afterAll(async () => {
    await runtime.dispose();
  });

  it.each(TINY_MODEL_QUANTIZATIONS)('%s loads and generates tokens', async (type) => {
    const loaded = await runtime.loadModel({
      name: `tiny-${type}`,
      quantization: type,
      path: tinyModelPath(type),
      maxSequences: 1,
      contextTokens: 128,
    });
    expect(loaded.layers).toBe(TINY_MODEL_DEFAULTS.shape.blockCount);
    expect(loaded.hiddenSize).toBe(TINY_MODEL_DEFAULTS.shape.embeddingLength);
    const out = await runtime.generateBatch(
      `tiny-${type}`,
      [{ id: 'a', prompt: 'the river and the town', maxTokens: 6, sampling: { temperature: 0 } }],
      {},
    );
    expect(out.results[0]?.completionTokens).toBeGreaterThan(0);
    await runtime.unloadModel(`tiny-${type}`);
  });
});
