// Encoders for the ggml tensor types the tiny models use: F32, F16, Q8_0 and Q4_0, following
// ggml's reference quantizers (ggml-quants.c: quantize_row_q8_0_ref, quantize_row_q4_0_ref).

/** ggml_type ids of the types this module encodes. */
export const GGML_TYPE = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8 } as const;
export type GgmlType = keyof typeof GGML_TYPE;

/** Elements per quantization block. */
export const QK = 32;
/** Bytes of one block: Q8_0 = f16 scale + 32 int8; Q4_0 = f16 scale + 16 bytes of nibbles. */
export const BLOCK_BYTES = { Q8_0: 2 + QK, Q4_0: 2 + QK / 2 } as const;

export function quantizedBytes(type: GgmlType, elements: number): number {
  switch (type) {
    case 'F32':
      return elements * 4;
    case 'F16':
      return elements * 2;
    case 'Q8_0':
    case 'Q4_0':
      if (elements % QK !== 0) throw new Error(`${type} needs a multiple of ${QK} elements`);
      return (elements / QK) * BLOCK_BYTES[type];
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary32 -> binary16 bits, round to nearest even (as ggml's FP32_TO_FP16). */
export function toHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0] ?? 0;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0); // inf / nan
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow -> signed zero
    mant |= 0x800000; // subnormal half: shift the implicit bit in
    const shift = 14 - e;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && (half & 1) === 1) ? 1 : 0));
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half += 1; // may carry into exp
  e = half >>> 10;
  return sign | (e >= 0x1f ? 0x7c00 : half);
}

/** binary16 bits -> number. */
export function fromHalfBits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

function encodeF32(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => {
    view.setFloat32(i * 4, v, true);
  });
  return out;
}

function encodeF16(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => {
    view.setUint16(i * 2, toHalfBits(v), true);
  });
  return out;
}

/** Q8_0: per block d = max|x| / 127, q = round(x / d). */
function encodeQ8_0(values: Float32Array): Uint8Array {
  const blocks = values.length / QK;
  const out = new Uint8Array(blocks * BLOCK_BYTES.Q8_0);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const base = b * QK;
    let amax = 0;
    for (let j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(values[base + j] ?? 0));
    const d = amax / 127;
    const id = d !== 0 ? 1 / d : 0;
    const o = b * BLOCK_BYTES.Q8_0;
    view.setUint16(o, toHalfBits(d), true);
    for (let j = 0; j < QK; j++) view.setInt8(o + 2 + j, Math.round((values[base + j] ?? 0) * id));
  }
  return out;
}

/**
 * Q4_0: per block d = max / -8 where max is the value of largest magnitude (sign kept);
 * q = min(15, trunc(x / d + 8.5)); byte j holds element j (low nibble) and j + 16 (high).
 */
function encodeQ4_0(values: Float32Array): Uint8Array {
  const blocks = values.length / QK;
  const out = new Uint8Array(blocks * BLOCK_BYTES.Q4_0);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const base = b * QK;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < QK; j++) {
      const v = values[base + j] ?? 0;
      if (Math.abs(v) > amax) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = max / -8;
    const id = d !== 0 ? 1 / d : 0;
    const o = b * BLOCK_BYTES.Q4_0;
    view.setUint16(o, toHalfBits(d), true);
    for (let j = 0; j < QK / 2; j++) {
      const x0 = (values[base + j] ?? 0) * id;
      const x1 = (values[base + QK / 2 + j] ?? 0) * id;
      const q0 = Math.min(15, Math.trunc(x0 + 8.5));
      const q1 = Math.min(15, Math.trunc(x1 + 8.5));
      view.setUint8(o + 2 + j, q0 | (q1 << 4));
    }
  }
  return out;
}

/** Encodes row-major values (ne[0] innermost) as `type`. */
export function encodeTensor(type: GgmlType, values: Float32Array): Uint8Array {
  quantizedBytes(type, values.length); // validates block alignment
  switch (type) {
    case 'F32':
      return encodeF32(values);
    case 'F16':
      return encodeF16(values);
    case 'Q8_0':
      return encodeQ8_0(values);
    case 'Q4_0':
      return encodeQ4_0(values);
  }
}

/** Decodes Q8_0 / Q4_0 / F16 / F32 bytes back to numbers (for tests of the encoders). */
export function decodeTensor(type: GgmlType, data: Uint8Array, elements: number): Float32Array {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out = new Float32Array(elements);
  switch (type) {
    case 'F32':
      for (let i = 0; i < elements; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    case 'F16':
      for (let i = 0; i < elements; i++) out[i] = fromHalfBits(view.getUint16(i * 2, true));
      return out;
    case 'Q8_0':
      for (let b = 0; b < elements / QK; b++) {
        const o = b * BLOCK_BYTES.Q8_0;
        const d = fromHalfBits(view.getUint16(o, true));
        for (let j = 0; j < QK; j++) out[b * QK + j] = d * view.getInt8(o + 2 + j);
      }
      return out;
    case 'Q4_0':
      for (let b = 0; b < elements / QK; b++) {
        const o = b * BLOCK_BYTES.Q4_0;
        const d = fromHalfBits(view.getUint16(o, true));
        for (let j = 0; j < QK / 2; j++) {
          const byte = view.getUint8(o + 2 + j);
          out[b * QK + j] = d * ((byte & 0x0f) - 8);
          out[b * QK + QK / 2 + j] = d * ((byte >>> 4) - 8);
        }
      }
      return out;
  }
}
