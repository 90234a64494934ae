// Reads the header of a GGUF file (v2 or v3, little-endian) from a prefix of its bytes: the
// metadata key/values and the tensor infos, up to where tensor data begins. Pure parsing, no I/O.
// Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
//
// Written for bytes from anywhere (a URL, a registry, a user's volume): every length and count is
// checked against the limits and the bytes present before anything is allocated, so a hostile
// header costs at most the prefix it came in; values that cannot be right (unknown types, nested
// arrays, invalid UTF-8, duplicate keys or tensors, overflowing shapes, misaligned offsets) are
// refused with the byte offset where they were found.

import { GGML_TYPE_SIZES } from './ggml-type-sizes.js';
import { GgufHeaderError, GgufTruncatedError } from './header-errors.js';
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VALUE_TYPE } from './format.js';

/** Bounds on what a header may declare. The defaults fit every public GGUF model we know (the
 * largest vocabularies, ~256k tokens with merges, take under 16 MiB of header). */
export interface GgufHeaderLimits {
  /** Bytes the header (everything before tensor data) may take. */
  readonly maxHeaderBytes: number;
  readonly maxTensors: number;
  readonly maxMetadataEntries: number;
  /** Items in one metadata array. */
  readonly maxArrayItems: number;
  /** Bytes of one string value (chat templates are the longest, a few KiB). */
  readonly maxStringBytes: number;
  /** Arrays up to this many items keep their items; longer ones (vocabularies) keep only their
   * length and item type. */
  readonly keepArrayItems: number;
}

export const GGUF_HEADER_LIMITS = {
  maxHeaderBytes: 64 * 1024 * 1024,
  maxTensors: 1 << 16,
  maxMetadataEntries: 1 << 16,
  maxArrayItems: 1 << 24,
  maxStringBytes: 1 << 20,
  keepArrayItems: 1024,
} as const satisfies GgufHeaderLimits;

/** GGUF caps: tensor names (GGML_MAX_NAME - 1), dimensions (GGML_MAX_DIMS), key length. */
const MAX_TENSOR_NAME_BYTES = 63;
const MAX_DIMS = 4;
const MAX_KEY_BYTES = 65_535;

export type GgufScalar = number | bigint | boolean | string;

/** A metadata array; `items` is absent when it is longer than `keepArrayItems`. */
export interface GgufArray {
  readonly itemType: GgufValueTypeName;
  readonly length: number;
  readonly items?: readonly GgufScalar[];
}

export type GgufMetadataValue = GgufScalar | GgufArray;

export type GgufValueTypeName = keyof typeof GGUF_VALUE_TYPE;

export interface GgufTensorInfo {
  readonly name: string;
  /** ggml dimensions, innermost first. */
  readonly dims: readonly number[];
  /** ggml_type id and its name. */
  readonly type: number;
  readonly typeName: string;
  readonly elements: number;
  /** Bytes of the tensor's data. */
  readonly bytes: number;
  /** Offset of the data from the start of the data section. */
  readonly offset: number;
}

export interface GgufHeader {
  readonly version: number;
  readonly metadata: ReadonlyMap<string, GgufMetadataValue>;
  readonly tensors: readonly GgufTensorInfo[];
  readonly alignment: number;
  /** Where tensor data begins: the length of the header, padding included. */
  readonly dataOffset: number;
}

export interface GgufHeaderOptions {
  readonly limits?: Partial<GgufHeaderLimits>;
  /** The whole file's size, when known: tensor data past it is refused as a truncated file. */
  readonly fileBytes?: number;
}

const TYPE_NAMES = new Map<number, GgufValueTypeName>(
  Object.entries(GGUF_VALUE_TYPE).map(([name, id]) => [id, name as GgufValueTypeName]),
);
const SCALAR_BYTES: Partial<Record<GgufValueTypeName, number>> = {
  uint8: 1,
  int8: 1,
  bool: 1,
  uint16: 2,
  int16: 2,
  uint32: 4,
  int32: 4,
  float32: 4,
  uint64: 8,
  int64: 8,
  float64: 8,
};

/** A bounded little-endian cursor over the prefix. */
class Cursor {
  offset = 0;
  private readonly view: DataView;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(
    private readonly bytes: Uint8Array,
    private readonly limits: GgufHeaderLimits,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Throws unless `n` more bytes are within the header limit and present. */
  need(n: number, reading: string): void {
    const end = this.offset + n;
    if (end > this.limits.maxHeaderBytes) {
      throw new GgufHeaderError(
        `${reading} would end at byte ${end}, past the ${this.limits.maxHeaderBytes}-byte header limit`,
        this.offset,
      );
    }
    if (end > this.bytes.byteLength) {
      throw new GgufTruncatedError(reading, this.bytes.byteLength, end);
    }
  }

  u8(reading: string): number {
    this.need(1, reading);
    const v = this.view.getUint8(this.offset);
    this.offset += 1;
    return v;
  }

  u32(reading: string): number {
    this.need(4, reading);
    const v = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return v;
  }

  u64(reading: string): bigint {
    this.need(8, reading);
    const v = this.view.getBigUint64(this.offset, true);
    this.offset += 8;
    return v;
  }

  /** A u64 count or size that must be at most `max`, as a number. */
  count(reading: string, max: number): number {
    const at = this.offset;
    const v = this.u64(reading);
    if (v > BigInt(max)) {
      throw new GgufHeaderError(`${reading} is ${v}, more than the limit ${max}`, at);
    }
    return Number(v);
  }

  string(reading: string, maxBytes: number): string {
    const length = this.count(`${reading} length`, maxBytes);
    this.need(length, reading);
    const at = this.offset;
    const slice = this.bytes.subarray(at, at + length);
    this.offset += length;
    try {
      return this.decoder.decode(slice);
    } catch {
      throw new GgufHeaderError(`${reading} is not valid UTF-8`, at);
    }
  }

  scalar(type: GgufValueTypeName, reading: string): GgufScalar {
    if (type === 'string') return this.string(reading, this.limits.maxStringBytes);
    const size = SCALAR_BYTES[type] ?? 0;
    this.need(size, reading);
    const o = this.offset;
    this.offset += size;
    const v = this.view;
    switch (type) {
      case 'uint8':
        return v.getUint8(o);
      case 'int8':
        return v.getInt8(o);
      case 'bool': {
        const b = v.getUint8(o);
        if (b > 1) throw new GgufHeaderError(`${reading}: bool byte ${b} is neither 0 nor 1`, o);
        return b === 1;
      }
      case 'uint16':
        return v.getUint16(o, true);
      case 'int16':
        return v.getInt16(o, true);
      case 'uint32':
        return v.getUint32(o, true);
      case 'int32':
        return v.getInt32(o, true);
      case 'float32':
        return v.getFloat32(o, true);
      case 'float64':
        return v.getFloat64(o, true);
      case 'uint64':
        return v.getBigUint64(o, true);
      case 'int64':
        return v.getBigInt64(o, true);
      case 'array':
        throw new GgufHeaderError(`${reading}: arrays of arrays are not supported`, o);
    }
  }

  valueType(reading: string): GgufValueTypeName {
    const at = this.offset;
    const id = this.u32(reading);
    const name = TYPE_NAMES.get(id);
    if (name === undefined) throw new GgufHeaderError(`${reading}: unknown value type ${id}`, at);
    return name;
  }

  /** Skips `n` items of a fixed-size type without reading them (long numeric arrays). */
  skip(n: number, itemBytes: number, reading: string): void {
    this.need(n * itemBytes, reading);
    this.offset += n * itemBytes;
  }
}

function readValue(c: Cursor, key: string, limits: GgufHeaderLimits): GgufMetadataValue {
  const type = c.valueType(`type of ${key}`);
  if (type !== 'array') return c.scalar(type, key);
  const itemType = c.valueType(`item type of ${key}`);
  if (itemType === 'array') {
    throw new GgufHeaderError(`${key}: arrays of arrays are not supported`, c.offset - 4);
  }
  const length = c.count(`item count of ${key}`, limits.maxArrayItems);
  if (length > limits.keepArrayItems) {
    const fixed = SCALAR_BYTES[itemType];
    if (fixed !== undefined) {
      c.skip(length, fixed, key);
    } else {
      for (let i = 0; i < length; i++) c.string(`${key}[${i}]`, limits.maxStringBytes);
    }
    return { itemType, length };
  }
  const items: GgufScalar[] = [];
  for (let i = 0; i < length; i++) items.push(c.scalar(itemType, `${key}[${i}]`));
  return { itemType, length, items };
}

function readTensorInfo(c: Cursor, index: number, alignment: number): GgufTensorInfo {
  const at = c.offset;
  const name = c.string(`name of tensor ${index}`, MAX_TENSOR_NAME_BYTES);
  const nDimsAt = c.offset;
  const nDims = c.u32(`dimension count of ${name}`);
  if (nDims < 1 || nDims > MAX_DIMS) {
    throw new GgufHeaderError(`tensor ${name} has ${nDims} dimensions (1 to ${MAX_DIMS})`, nDimsAt);
  }
  const dims: number[] = [];
  let elements = 1;
  for (let d = 0; d < nDims; d++) {
    const dimAt = c.offset;
    const dim = c.u64(`dimension ${d} of ${name}`);
    // Products are kept below 2^53 so element counts and byte sizes stay exact numbers.
    if (dim > BigInt(Number.MAX_SAFE_INTEGER) || elements * Number(dim) > Number.MAX_SAFE_INTEGER) {
      throw new GgufHeaderError(`tensor ${name} has more than 2^53 elements`, dimAt);
    }
    dims.push(Number(dim));
    elements *= Number(dim);
  }
  const typeAt = c.offset;
  const type = c.u32(`type of ${name}`);
  const size = GGML_TYPE_SIZES.get(type);
  if (size === undefined) {
    throw new GgufHeaderError(
      `tensor ${name} has ggml type ${type}, unknown to this reader`,
      typeAt,
    );
  }
  const rowLength = dims[0] ?? 0;
  if (rowLength % size.blockElements !== 0) {
    throw new GgufHeaderError(
      `tensor ${name}: rows of ${rowLength} elements do not tile ${size.name} blocks of ${size.blockElements}`,
      at,
    );
  }
  const offsetAt = c.offset;
  const offset = c.u64(`data offset of ${name}`);
  if (offset > BigInt(Number.MAX_SAFE_INTEGER) || offset % BigInt(alignment) !== 0n) {
    throw new GgufHeaderError(
      `tensor ${name}: data offset ${offset} is not a multiple of the alignment ${alignment}`,
      offsetAt,
    );
  }
  return {
    name,
    dims,
    type,
    typeName: size.name,
    elements,
    bytes: (elements / size.blockElements) * size.blockBytes,
    offset: Number(offset),
  };
}

/** Tensors must not overlap and, when the file size is known, must lie inside the file. */
function checkDataLayout(header: GgufHeader, fileBytes: number | undefined): void {
  const byOffset = [...header.tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < byOffset.length; i++) {
    const prev = byOffset[i - 1];
    const next = byOffset[i];
    if (prev !== undefined && next !== undefined && prev.offset + prev.bytes > next.offset) {
      throw new GgufHeaderError(
        `tensors ${prev.name} and ${next.name} overlap in the data section`,
        header.dataOffset,
      );
    }
  }
  const last = byOffset.at(-1);
  if (fileBytes !== undefined && last !== undefined) {
    const end = header.dataOffset + last.offset + last.bytes;
    if (end > fileBytes) {
      throw new GgufHeaderError(
        `tensor ${last.name} ends at byte ${end}, past the end of the ${fileBytes}-byte file (truncated download?)`,
        header.dataOffset,
      );
    }
  }
}

/**
 * Parses the header from `bytes`, a prefix of a GGUF file. Throws GgufTruncatedError when the
 * prefix ends inside the header (its neededBytes says how much to read), GgufHeaderError when
 * the bytes are not a header this reader accepts.
 */
export function readGgufHeader(bytes: Uint8Array, options: GgufHeaderOptions = {}): GgufHeader {
  const limits: GgufHeaderLimits = { ...GGUF_HEADER_LIMITS, ...options.limits };
  const c = new Cursor(bytes, limits);
  const magic = c.u32('magic');
  if (magic !== GGUF_MAGIC) {
    throw new GgufHeaderError(
      `not a GGUF file: magic 0x${magic.toString(16).padStart(8, '0')}, expected "GGUF"`,
      0,
    );
  }
  const version = c.u32('version');
  if (version === 1) {
    throw new GgufHeaderError(
      'GGUF version 1 (32-bit lengths) is not supported; convert the file with a current llama.cpp',
      4,
    );
  }
  if (version !== 2 && version !== 3) {
    // A big-endian file's version 2 or 3 reads as 0x02000000 or 0x03000000 here.
    throw new GgufHeaderError(
      version === 0x02000000 || version === 0x03000000
        ? 'big-endian GGUF files are not supported'
        : `unsupported GGUF version ${version} (2 and 3 are)`,
      4,
    );
  }
  const tensorCount = c.count('tensor count', limits.maxTensors);
  const entryCount = c.count('metadata entry count', limits.maxMetadataEntries);

  const metadata = new Map<string, GgufMetadataValue>();
  for (let i = 0; i < entryCount; i++) {
    const keyAt = c.offset;
    const key = c.string(`key of metadata entry ${i}`, MAX_KEY_BYTES);
    if (metadata.has(key)) throw new GgufHeaderError(`duplicate metadata key ${key}`, keyAt);
    metadata.set(key, readValue(c, key, limits));
  }

  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const declared = metadata.get('general.alignment');
  if (declared !== undefined) {
    if (typeof declared !== 'number' || declared < 1 || (declared & (declared - 1)) !== 0) {
      throw new GgufHeaderError(
        `general.alignment ${JSON.stringify(typeof declared === 'bigint' ? String(declared) : declared)} is not a power of two`,
        c.offset,
      );
    }
    alignment = declared;
  }

  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const at = c.offset;
    const tensor = readTensorInfo(c, i, alignment);
    if (names.has(tensor.name)) throw new GgufHeaderError(`duplicate tensor ${tensor.name}`, at);
    names.add(tensor.name);
    tensors.push(tensor);
  }
  const dataOffset = Math.ceil(c.offset / alignment) * alignment;
  if (dataOffset > limits.maxHeaderBytes) {
    throw new GgufHeaderError(
      `the header's padding ends at byte ${dataOffset}, past the ${limits.maxHeaderBytes}-byte header limit`,
      c.offset,
    );
  }
  const header: GgufHeader = { version, metadata, tensors, alignment, dataOffset };
  checkDataLayout(header, options.fileBytes);
  return header;
}
