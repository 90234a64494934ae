// The GGUF header reader on the generated tiny models, on the real SmolLM2 file, and on
// truncated and hostile headers: it derives the cost model's shape, and refuses bad bytes with
// its own error types (never a RangeError, never an allocation the prefix did not pay for).
import { createReadStream, statSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { GgufHeaderError, GgufTruncatedError } from '../../../src/gguf/header-errors.js';
import { readGgufHeader, type GgufHeader } from '../../../src/gguf/header-reader.js';
import { modelShapeOf } from '../../../src/gguf/model-shape.js';
import {
  TINY_MODEL_DEFAULTS,
  TINY_MODEL_TYPES,
  buildTinyModel,
} from '../../../src/runtime/gguf/tiny-model.js';
import { GGUF_VALUE_TYPE, writeGguf, type GgufValue } from '../../../src/runtime/gguf/writer.js';
import { REGISTRY_MODEL, registryModelPath } from '../../../src/runtime/models/catalog.js';
import { readGgufHeaderFromStream } from '../../../src/gguf/header-from-stream.js';

const TYPES = Object.keys(TINY_MODEL_TYPES) as (keyof typeof TINY_MODEL_TYPES)[];
const tiny = new Map(TYPES.map((type) => [type, buildTinyModel({ type })]));
const q8 = tiny.get('Q8_0') ?? new Uint8Array();

/** Tensor data after the header, each tensor padded to the alignment: the rest of the file. */
function paddedDataBytes(header: GgufHeader): number {
  return header.tensors.reduce(
    (sum, t) => sum + Math.ceil(t.bytes / header.alignment) * header.alignment,
    0,
  );
}

describe('tiny models', () => {
  const shape = TINY_MODEL_DEFAULTS.shape;
  it.each(TYPES)(
    'reads the %s header: shape, file type, and a data section that ends the file',
    (type) => {
      const bytes = tiny.get(type) ?? new Uint8Array();
      const header = readGgufHeader(bytes, { fileBytes: bytes.length });
      expect(header.version).toBe(3);
      expect(header.dataOffset + paddedDataBytes(header)).toBe(bytes.length);
      const derived = modelShapeOf(header);
      expect(derived).toMatchObject({
        architecture: 'llama',
        fileType: type,
        layers: shape.blockCount,
        hiddenSize: shape.embeddingLength,
        ffnSize: shape.feedForwardLength,
        kvWidth: (shape.embeddingLength / shape.headCount) * shape.headCountKv,
        contextLength: shape.contextLength,
        chatTemplate: false,
      });
    },
  );

  it('counts the same parameters in every quantization, and bits per weight from tensor bytes', () => {
    const shapes = TYPES.map((type) =>
      modelShapeOf(readGgufHeader(tiny.get(type) ?? new Uint8Array())),
    );
    const params = shapes.map((s) => s.parameters);
    expect(new Set(params).size).toBe(1);
    const bits = Object.fromEntries(TYPES.map((t, i) => [t, shapes[i]?.weightBits]));
    expect(bits['F32']).toBe(32);
    // Norms stay F32 (4 of 128-wide per block, one final): slightly above the nominal bits.
    expect(bits['F16']).toBeGreaterThan(16);
    expect(bits['F16']).toBeLessThan(16.1);
    expect(bits['Q8_0']).toBeGreaterThan(8.5);
    expect(bits['Q8_0']).toBeLessThan(8.6);
    expect(bits['Q4_0']).toBeGreaterThan(4.5);
    expect(bits['Q4_0']).toBeLessThan(4.6);
  });

  it('keeps short arrays and only the length of long ones (the vocabulary)', () => {
    const header = readGgufHeader(q8, { limits: { keepArrayItems: 100 } });
    const tokens = header.metadata.get('tokenizer.ggml.tokens');
    expect(tokens).toEqual({ itemType: 'string', length: 377 });
    const scores = header.metadata.get('tokenizer.ggml.scores');
    expect(scores).toEqual({ itemType: 'float32', length: 377 });
    const all = readGgufHeader(q8).metadata.get('tokenizer.ggml.tokens');
    expect(typeof all === 'object' && all.items?.[1]).toBe('<s>');
  });
});

describe('the real SmolLM2-135M (make models)', () => {
  it('reads the shape the EdgeNode examples typed by hand, from a stream of the file', async () => {
    const path = registryModelPath();
    const fileBytes = statSync(path).size;
    const header = await readGgufHeaderFromStream(
      createReadStream(path, { highWaterMark: 16 * 1024 }),
      {
        fileBytes,
      },
    );
    expect(header.dataOffset + paddedDataBytes(header)).toBe(fileBytes);
    const shape = modelShapeOf(header);
    const { weightBits: nominalBits, ...typed } = REGISTRY_MODEL.shape;
    expect(shape).toMatchObject({
      ...typed,
      architecture: 'llama',
      fileType: REGISTRY_MODEL.quantization,
      chatTemplate: true,
      contextLength: 8192,
    });
    // Q4_1 is 5 bits per weight nominally; the embeddings are kept at higher precision.
    expect(shape.weightBits).toBeGreaterThan(nominalBits);
    expect((shape.weightBits * shape.parameters) / 8 + header.dataOffset).toBeLessThanOrEqual(
      fileBytes,
    );
  });
});

describe('truncated prefixes', () => {
  const full = readGgufHeader(q8);
  it('says how much more to read at every cut inside the header', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: full.dataOffset - 1 }), (cut) => {
        let error: unknown;
        try {
          // A cut in the padding before tensor data still holds the whole header.
          expect(readGgufHeader(q8.subarray(0, cut)).tensors).toEqual(full.tensors);
          expect(cut).toBeGreaterThan(full.dataOffset - full.alignment);
          return;
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(GgufTruncatedError);
        const needed = (error as GgufTruncatedError).neededBytes;
        expect(needed).toBeGreaterThan(cut);
        expect(needed).toBeLessThanOrEqual(full.dataOffset);
      }),
      { numRuns: 300 },
    );
  });

  it('parses from exactly the header bytes', () => {
    expect(readGgufHeader(q8.subarray(0, full.dataOffset)).tensors).toEqual(full.tensors);
  });

  it('refuses tensor data past the end of a known file size', () => {
    expect(() => readGgufHeader(q8, { fileBytes: q8.length - full.alignment - 1 })).toThrow(
      /past the end of the .*truncated download/,
    );
  });
});

describe('streams', () => {
  async function* chunked(
    bytes: Uint8Array,
    sizes: number[],
    tail = false,
  ): AsyncGenerator<Uint8Array> {
    let at = 0;
    for (let i = 0; at < bytes.length; i++) {
      const size = sizes[i % sizes.length] ?? 1;
      await Promise.resolve(); // a real stream hands chunks over asynchronously
      yield bytes.subarray(at, at + size);
      at += size;
    }
    while (tail) yield new Uint8Array(1 << 16);
  }

  it('reads the same header whatever the chunk sizes, and stops reading once it has it', async () => {
    const whole = readGgufHeader(q8);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 40_000 }), { minLength: 1, maxLength: 8 }),
        async (sizes) => {
          // An endless tail after the file: the reader must stop on its own.
          const header = await readGgufHeaderFromStream(chunked(q8, sizes, true));
          expect(header.tensors).toEqual(whole.tensors);
          expect(header.dataOffset).toBe(whole.dataOffset);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('says the file is truncated when the stream ends inside the header', async () => {
    await expect(readGgufHeaderFromStream(chunked(q8.subarray(0, 5000), [1000]))).rejects.toThrow(
      /file ends after 5000 bytes, inside its header .* truncated/,
    );
  });

  it('gives up at the header limit', async () => {
    await expect(
      readGgufHeaderFromStream(chunked(q8, [4096]), { limits: { maxHeaderBytes: 8192 } }),
    ).rejects.toThrow(GgufHeaderError);
  });
});

/** Little-endian bytes written by hand, for headers the writer would never produce. */
class Bytes {
  private readonly out: number[] = [];
  u32(v: number): this {
    for (let i = 0; i < 4; i++) this.out.push((v >>> (8 * i)) & 0xff);
    return this;
  }
  u64(v: bigint): this {
    for (let i = 0n; i < 8n; i++) this.out.push(Number((v >> (8n * i)) & 0xffn));
    return this;
  }
  raw(bytes: ArrayLike<number>): this {
    this.out.push(...Array.from(bytes));
    return this;
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.u64(BigInt(b.length)).raw(b);
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

const MAGIC = 0x46554747;
/** A v3 header start: magic, version, tensor count, metadata count. */
function start(tensors: bigint, entries: bigint, version = 3): Bytes {
  return new Bytes().u32(MAGIC).u32(version).u64(tensors).u64(entries);
}
/** One tensor info: name, 1 dim, type, offset. */
function tensorInfo(b: Bytes, name: string, dims: bigint[], type: number, offset: bigint): Bytes {
  b.str(name).u32(dims.length);
  for (const d of dims) b.u64(d);
  return b.u32(type).u64(offset);
}

describe('hostile and malformed headers', () => {
  const cases: [string, () => Uint8Array, RegExp][] = [
    [
      'a file that is not GGUF',
      () => new TextEncoder().encode('PK\u0003\u0004 a zip file..........'),
      /not a GGUF file: magic 0x04034b50/,
    ],
    [
      'GGUF version 1',
      () => start(0n, 0n, 1).bytes(),
      /version 1 \(32-bit lengths\) is not supported/,
    ],
    [
      'a big-endian file',
      () => new Bytes().u32(MAGIC).u32(0x03000000).u64(0n).u64(0n).bytes(),
      /big-endian GGUF files are not supported/,
    ],
    [
      '2^63 tensors',
      () => start(1n << 63n, 0n).bytes(),
      /tensor count is 9223372036854775808, more than the limit 65536/,
    ],
    [
      '2^40 metadata entries',
      () => start(0n, 1n << 40n).bytes(),
      /metadata entry count .* more than the limit/,
    ],
    [
      'a 2^62-byte key',
      () =>
        start(0n, 1n)
          .u64(1n << 62n)
          .bytes(),
      /key of metadata entry 0 length is .* more than the limit 65535/,
    ],
    [
      'a 2^62-byte string value',
      () =>
        start(0n, 1n)
          .str('general.name')
          .u32(GGUF_VALUE_TYPE.string)
          .u64(1n << 62n)
          .bytes(),
      /general.name length is .* more than the limit 1048576/,
    ],
    [
      'a 2^33-item array',
      () =>
        start(0n, 1n)
          .str('x')
          .u32(GGUF_VALUE_TYPE.array)
          .u32(GGUF_VALUE_TYPE.uint8)
          .u64(1n << 33n)
          .bytes(),
      /item count of x is 8589934592, more than the limit/,
    ],
    [
      'an unknown value type',
      () => start(0n, 1n).str('x').u32(13).bytes(),
      /type of x: unknown value type 13/,
    ],
    [
      'an array of arrays',
      () =>
        start(0n, 1n)
          .str('x')
          .u32(GGUF_VALUE_TYPE.array)
          .u32(GGUF_VALUE_TYPE.array)
          .u64(1n)
          .bytes(),
      /x: arrays of arrays are not supported/,
    ],
    [
      'invalid UTF-8',
      () => start(0n, 1n).u64(2n).raw([0xc3, 0x28]).bytes(),
      /key of metadata entry 0 is not valid UTF-8/,
    ],
    [
      'a duplicate key',
      () =>
        start(0n, 2n)
          .str('a')
          .u32(GGUF_VALUE_TYPE.uint8)
          .raw([1])
          .str('a')
          .u32(GGUF_VALUE_TYPE.uint8)
          .raw([1])
          .bytes(),
      /duplicate metadata key a/,
    ],
    [
      'a bool that is 7',
      () => start(0n, 1n).str('b').u32(GGUF_VALUE_TYPE.bool).raw([7]).bytes(),
      /b: bool byte 7 is neither 0 nor 1/,
    ],
    [
      'an alignment of 3',
      () => start(0n, 1n).str('general.alignment').u32(GGUF_VALUE_TYPE.uint32).u32(3).bytes(),
      /general.alignment 3 is not a power of two/,
    ],
    [
      'a 5-dimensional tensor',
      () => tensorInfo(start(1n, 0n), 't', [1n, 1n, 1n, 1n, 1n], 0, 0n).bytes(),
      /tensor t has 5 dimensions/,
    ],
    [
      'a tensor of 2^64-1 elements',
      () => tensorInfo(start(1n, 0n), 't', [(1n << 64n) - 1n], 0, 0n).bytes(),
      /tensor t has more than 2\^53 elements/,
    ],
    [
      'a tensor whose dimensions multiply past 2^53',
      () => tensorInfo(start(1n, 0n), 't', [1n << 30n, 1n << 30n], 0, 0n).bytes(),
      /more than 2\^53 elements/,
    ],
    [
      'a removed ggml type (Q4_2)',
      () => tensorInfo(start(1n, 0n), 't', [32n], 4, 0n).bytes(),
      /ggml type 4, unknown to this reader/,
    ],
    [
      'rows that do not tile Q8_0 blocks',
      () => tensorInfo(start(1n, 0n), 't', [33n], 8, 0n).bytes(),
      /rows of 33 elements do not tile Q8_0 blocks of 32/,
    ],
    [
      'a misaligned tensor offset',
      () => tensorInfo(start(1n, 0n), 't', [8n], 0, 4n).bytes(),
      /data offset 4 is not a multiple of the alignment 32/,
    ],
    [
      'a duplicate tensor',
      () => tensorInfo(tensorInfo(start(2n, 0n), 't', [8n], 0, 0n), 't', [8n], 0, 32n).bytes(),
      /duplicate tensor t/,
    ],
    [
      'overlapping tensors',
      () => tensorInfo(tensorInfo(start(2n, 0n), 'a', [64n], 0, 0n), 'b', [8n], 0, 32n).bytes(),
      /tensors a and b overlap/,
    ],
    [
      'a 64-byte tensor name',
      () => tensorInfo(start(1n, 0n), 'x'.repeat(64), [8n], 0, 0n).bytes(),
      /name of tensor 0 length is 64, more than the limit 63/,
    ],
  ];
  it.each(cases)('refuses %s, saying why', (_what, bytes, message) => {
    expect(() => readGgufHeader(bytes())).toThrow(GgufHeaderError);
    expect(() => readGgufHeader(bytes())).toThrow(message);
  });

  it('refuses a header larger than the limit before reading it', () => {
    expect(() => readGgufHeader(q8, { limits: { maxHeaderBytes: 1000 } })).toThrow(
      /past the 1000-byte header limit/,
    );
  });

  it('throws only its own errors on any corruption of a valid header', () => {
    const header = readGgufHeader(q8);
    const prefix = q8.subarray(0, header.dataOffset);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(prefix.length - 1), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 8,
        }),
        (edits) => {
          const bytes = prefix.slice();
          for (const [at, value] of edits) bytes[at] = value;
          try {
            readGgufHeader(bytes);
          } catch (error) {
            expect(error instanceof GgufHeaderError || error instanceof GgufTruncatedError).toBe(
              true,
            );
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('shape errors', () => {
  function withMetadata(drop: string, extra: [string, GgufValue][] = []): GgufHeader {
    const header = readGgufHeader(q8, { limits: { keepArrayItems: 1 << 20 } });
    const metadata = new Map<string, GgufValue>();
    for (const [key, value] of header.metadata) {
      if (key === drop || typeof value === 'object') continue;
      const type =
        typeof value === 'string' ? 'string' : typeof value === 'boolean' ? 'bool' : 'uint32';
      metadata.set(key, { type, value } as GgufValue);
    }
    for (const [key, value] of extra) metadata.set(key, value);
    return readGgufHeader(writeGguf({ metadata, tensors: [] }));
  }

  it('names the missing key', () => {
    expect(() => modelShapeOf(withMetadata('llama.block_count'))).toThrow(
      /llama.block_count is missing/,
    );
    expect(() => modelShapeOf(withMetadata('general.architecture'))).toThrow(
      /general.architecture is missing/,
    );
  });

  it('refuses a file without tensors', () => {
    expect(() => modelShapeOf(withMetadata('none'))).toThrow(/no tensors/);
  });

  it('counts per-layer values at their largest and the KV width from key/value lengths', () => {
    const header = readGgufHeader(q8);
    const metadata = new Map(header.metadata);
    metadata.set('llama.feed_forward_length', {
      itemType: 'uint32',
      length: 3,
      items: [256, 512, 384],
    });
    metadata.set('llama.attention.key_length', 48);
    metadata.set('llama.attention.value_length', 16);
    const shape = modelShapeOf({ ...header, metadata });
    expect(shape.ffnSize).toBe(512);
    expect(shape.kvWidth).toBe(TINY_MODEL_DEFAULTS.shape.headCountKv * 32);
  });
});
