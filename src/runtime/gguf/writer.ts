// A small GGUF v3 writer: header, metadata key/values, tensor infos, aligned tensor data.
// Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md (little-endian throughout).

import { GGML_TYPE, type GgmlType, quantizedBytes } from './quantize.js';

import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VALUE_TYPE,
  GGUF_VERSION,
} from '../../gguf/format.js';

export { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VALUE_TYPE, GGUF_VERSION };
type ScalarKind = Exclude<keyof typeof GGUF_VALUE_TYPE, 'array'>;

/** One metadata value, tagged with its GGUF type so integers and floats are written exactly. */
export type GgufValue =
  | {
      readonly type: Exclude<ScalarKind, 'string' | 'bool' | 'uint64' | 'int64'>;
      readonly value: number;
    }
  | { readonly type: 'uint64' | 'int64'; readonly value: bigint }
  | { readonly type: 'bool'; readonly value: boolean }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'array'; readonly itemType: 'string'; readonly value: readonly string[] }
  | {
      readonly type: 'array';
      readonly itemType: 'int32' | 'uint32' | 'float32';
      readonly value: readonly number[];
    };

export interface GgufTensor {
  readonly name: string;
  /** ggml dimensions, innermost first (ne[0] is the row length). */
  readonly dims: readonly number[];
  readonly type: GgmlType;
  /** Encoded tensor bytes (already quantized for quantized types). */
  readonly data: Uint8Array;
}

export interface GgufFile {
  readonly metadata: ReadonlyMap<string, GgufValue>;
  readonly tensors: readonly GgufTensor[];
}

/** Growable little-endian byte buffer. */
class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(extra: number): void {
    if (this.length + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.reserve(1);
    this.view.setUint8(this.length, v);
    this.length += 1;
  }
  i8(v: number): void {
    this.reserve(1);
    this.view.setInt8(this.length, v);
    this.length += 1;
  }
  u16(v: number): void {
    this.reserve(2);
    this.view.setUint16(this.length, v, true);
    this.length += 2;
  }
  i16(v: number): void {
    this.reserve(2);
    this.view.setInt16(this.length, v, true);
    this.length += 2;
  }
  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  i32(v: number): void {
    this.reserve(4);
    this.view.setInt32(this.length, v, true);
    this.length += 4;
  }
  f32(v: number): void {
    this.reserve(4);
    this.view.setFloat32(this.length, v, true);
    this.length += 4;
  }
  f64(v: number): void {
    this.reserve(8);
    this.view.setFloat64(this.length, v, true);
    this.length += 8;
  }
  u64(v: bigint | number): void {
    this.reserve(8);
    this.view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }
  i64(v: bigint): void {
    this.reserve(8);
    this.view.setBigInt64(this.length, v, true);
    this.length += 8;
  }
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  string(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  padTo(alignment: number): void {
    while (this.length % alignment !== 0) this.u8(0);
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function writeScalar(
  w: ByteWriter,
  type: ScalarKind,
  value: number | bigint | boolean | string,
): void {
  const big = (): bigint => (typeof value === 'bigint' ? value : BigInt(Number(value)));
  switch (type) {
    case 'uint8':
      w.u8(Number(value));
      break;
    case 'int8':
      w.i8(Number(value));
      break;
    case 'uint16':
      w.u16(Number(value));
      break;
    case 'int16':
      w.i16(Number(value));
      break;
    case 'uint32':
      w.u32(Number(value));
      break;
    case 'int32':
      w.i32(Number(value));
      break;
    case 'float32':
      w.f32(Number(value));
      break;
    case 'float64':
      w.f64(Number(value));
      break;
    case 'bool':
      w.u8(value === true ? 1 : 0);
      break;
    case 'string':
      w.string(String(value));
      break;
    case 'uint64':
      w.u64(big());
      break;
    case 'int64':
      w.i64(big());
      break;
  }
}

function writeValue(w: ByteWriter, v: GgufValue): void {
  w.u32(GGUF_VALUE_TYPE[v.type]);
  if (v.type === 'array') {
    w.u32(GGUF_VALUE_TYPE[v.itemType]);
    w.u64(v.value.length);
    for (const item of v.value) writeScalar(w, v.itemType, item);
    return;
  }
  writeScalar(w, v.type, v.value);
}

/** Bytes a tensor of this type and shape occupies. */
export function tensorBytes(type: GgmlType, dims: readonly number[]): number {
  const elements = dims.reduce((a, b) => a * b, 1);
  return quantizedBytes(type, elements);
}

/** Serializes a GGUF v3 file. Tensor data is aligned to `general.alignment` (default 32). */
export function writeGguf(file: GgufFile): Uint8Array {
  const alignmentValue = file.metadata.get('general.alignment');
  const alignment =
    alignmentValue?.type === 'uint32' ? alignmentValue.value : GGUF_DEFAULT_ALIGNMENT;
  const w = new ByteWriter();
  w.u32(GGUF_MAGIC);
  w.u32(GGUF_VERSION);
  w.u64(file.tensors.length);
  w.u64(file.metadata.size);
  for (const [key, value] of file.metadata) {
    w.string(key);
    writeValue(w, value);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of file.tensors) {
    const expected = tensorBytes(t.type, t.dims);
    if (t.data.length !== expected) {
      throw new Error(`tensor ${t.name}: ${t.data.length} data bytes, expected ${expected}`);
    }
    w.string(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(GGML_TYPE[t.type]);
    w.u64(offset);
    offsets.push(offset);
    offset += Math.ceil(t.data.length / alignment) * alignment;
  }
  w.padTo(alignment);
  const dataStart = w.length;
  file.tensors.forEach((t, i) => {
    w.padTo(alignment);
    if (w.length - dataStart !== offsets[i]) throw new Error(`tensor ${t.name}: misaligned`);
    w.bytes(t.data);
  });
  w.padTo(alignment);
  return w.result();
}
