// Decode-time layout of a quantized matrix, the one assembly/matmul_q.ts reads, made once at load from GGUF blocks.
// Per row of B = K/32 blocks:
//   Q4_1: [B × 16 code bytes][B × f32 d][B × f32 m]   24 B per block (GGUF: 20)
//   Q8_0: [B × 32 code bytes][B × f32 d]              36 B per block (GGUF: 34)
// The codes stay as GGUF packs them (Q4_1 byte j: element j in the low nibble, j + 16 in the high one); the f16
// scales become f32 once here, so the kernel loads four blocks' scales with one vector load instead of converting
// them on every GEMV, and its code loads no longer straddle the 20- or 34-byte block stride.
import { f32FromF16, f32FromBf16 } from '../codec/numerics.js';
import { typeInfo } from '../gguf/types.js';

export type QuantType = 3 | 8; // GGML type ids: Q4_1, Q8_0
export const ggufBlockBytes = (type: QuantType): number => (type === 3 ? 20 : 34);
export const packedBlockBytes = (type: QuantType): number => (type === 3 ? 24 : 36);

/** rows × B GGUF blocks (row-major, contiguous) → the packed layout above, written to `dst` (rows × B × packed bytes). */
export function repackRows(type: QuantType, src: Uint8Array, rows: number, B: number, dst: Uint8Array): void {
  const gb = ggufBlockBytes(type), pb = packedBlockBytes(type), head = type === 3 ? 4 : 2, codes = gb - head; // head: f16 d [, f16 m]
  if (src.length < rows * B * gb) throw new Error(`repack: ${src.length} bytes hold fewer than ${rows} × ${B} blocks`);
  if (dst.length < rows * B * pb) throw new Error(`repack: destination holds fewer than ${rows} × ${B} packed blocks`);
  const sv = new DataView(src.buffer, src.byteOffset, src.byteLength), dv = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
  for (let r = 0; r < rows; r++) {
    const s0 = r * B * gb, d0 = r * B * pb, scales = d0 + B * codes;
    for (let b = 0; b < B; b++) {
      const s = s0 + b * gb;
      dst.set(src.subarray(s + head, s + gb), d0 + b * codes);
      dv.setFloat32(scales + 4 * b, f32FromF16(sv.getUint16(s, true)), true);
      if (type === 3) dv.setFloat32(scales + 4 * (B + b), f32FromF16(sv.getUint16(s + 2, true)), true);
    }
  }
}

// ---- Packed formats for every supported GGUF type (the kernels of assembly/dequant.ts, matmul_qgemm.ts, matmul_q.ts
// gemvQ read them). Per row of B = K/32 blocks, rows contiguous:
//   fmt 4: [B × 16 code bytes][B × f32 d][B × f32 m]   w = d·q + m, q ∈ 0…15     ← Q4_0, Q4_1, Q4_K
//   fmt 8: [B × 32 i8 codes][B × f32 d][B × f32 m]     w = d·q + m               ← Q8_0, Q5_0, Q5_1, Q5_K
//   fmt 6: [B × 32 i8 codes][2B × f32 d]               w = d[2b + h]·q           ← Q6_K (h: 16-value half)
//   fmt 0: f32                                                                   ← F32, F16, BF16
// Compact K-quant formats (whole 256-value super-blocks only; ≈ GGUF size), one record per super-block:
//   fmt 5: 152 B / 256: [8 × 16 code bytes as fmt 4][8 × u8 sc][8 × u8 mn][f32 D][f32 Dmin]   ← Q4_K (19 B / 32, GGUF 18)
//   fmt 7: 212 B / 256: [8 × 16 low nibbles][4 × 16 high 2-bit bytes][16 × i8 sc][f32 D]       ← Q6_K (26.5 B / 32, GGUF 26.25)
//   The kernel forms d = fr(D·sc) and m = −fr(Dmin·mn) (fmt 5), d = fr(D·sc) (fmt 7) in f32: the same single
//   roundings as ggml, so the bits match (assembly/matmul_qk.ts documents the byte layout).
// The kernel computes fr(fr(d·q) + m) (two rounded f32 ops). Why that equals ggml's arithmetic (dequant.ts):
//  · Q4_1, Q5_1: ggml computes fr(fr(q·d) + m) with d, m the f16 values: the same two operations.
//  · Q8_0, Q5_0 (q = x − 16): ggml computes fr(q·d); we store m = −0, and v + (−0) == v for every v, −0 and +0
//    included (+0 + −0 = +0, −0 + −0 = −0), so the add changes no bit.
//  · Q4_K, Q5_K: ggml computes fr(fr(d1·q) − dm1) with d1 = fr(d·sc), dm1 = fr(dmin·mn); we store d1 and −dm1, and
//    IEEE defines a − b as a + (−b), so the bits are the same.
//  · Q6_K: ggml computes fr(fr(d·sc)·q); the kernel multiplies alone (no m), the same single rounding.
//  · Q4_0: ggml computes fr((x − 8)·d); we store m = −8·d (exact: a power-of-two multiple of an f16), and
//    d·x − 8d = d·(x − 8) is exact in f32 (d has an 11-bit significand, |x − 8| ≤ 8: at most 15 bits), so every
//    nonzero weight is bit-identical. The one difference: an exact zero (x = 8 with d < 0, or d = ±0) comes out +0
//    where ggml may give −0. No matmul output can see it: accumulators start at +0 and v + (±0) = v for v ≠ 0,
//    +0 + (±0) = +0. Infinite or NaN f16 scales (never written by a quantizer) would also differ for Q4_0.
//  Products of f16 scales and small ints are exact in f32 (11 + 6 bits ≤ 24), and the JS reference's double
//  arithmetic followed by fround is the correctly rounded f32 result for single ops (53 ≥ 2·24 + 2).
export type PackedFormat = 0 | 4 | 5 | 6 | 7 | 8;

const FORMAT_OF = new Map<number, PackedFormat>([[0, 0], [1, 0], [30, 0], [2, 4], [3, 4], [12, 4], [6, 8], [7, 8], [8, 8], [13, 8], [14, 6]]);

/** Compact formats of the K-quants that have one (Q4_K → 5, Q6_K → 7); they need whole 256-value super-blocks. */
const COMPACT_OF = new Map<number, PackedFormat>([[12, 5], [14, 7]]);

/** The packed format a GGML tensor type is repacked to. `superBlockAligned`: the column slice this shard holds
 *  starts and ends on multiples of 256 (pass `k0 % 256 === 0 && (k1 - k0) % 256 === 0`); then Q4_K and Q6_K get
 *  their compact formats 5 and 7, otherwise the 32-block formats 4 and 6. */
export function packedFormatOf(ggmlType: number, superBlockAligned = true): PackedFormat {
  if (superBlockAligned && COMPACT_OF.has(ggmlType)) return COMPACT_OF.get(ggmlType)!;
  const f = FORMAT_OF.get(ggmlType);
  if (f === undefined) {
    const name = (() => { try { return typeInfo(ggmlType).name; } catch { return `type ${ggmlType}`; } })();
    throw new Error(`repack: ggml ${name} (id ${ggmlType}) has no packed format; supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K`);
  }
  return f;
}

/** Bytes of one packed row of K values (K % 32 == 0 for fmt ≠ 0; K % 256 == 0 for fmt 5, 7). */
export function packedRowBytes(fmt: PackedFormat, K: number): number {
  if (fmt === 0) return 4 * K;
  if (fmt === 5 || fmt === 7) {
    if (K % 256 !== 0) throw new Error(`repack: row length ${K} is not a multiple of 256 (fmt ${fmt} holds whole super-blocks)`);
    return (K / 256) * (fmt === 5 ? 152 : 212);
  }
  if (K % 32 !== 0) throw new Error(`repack: row length ${K} is not a multiple of 32`);
  return (K / 32) * (fmt === 4 ? 24 : 40);
}

/** Panel rows matmulQ dequantizes at once: a multiple of 8, about 256 KiB of f32 (L2 holds it with the token
 *  rows streaming past; 2 MiB L2 per core on the bench machine), never fewer than 8. */
export function qgemmScratchBytes(K: number): number {
  const rows = Math.max(8, Math.floor((256 << 10) / (4 * K) / 8) * 8);
  return rows * 4 * K;
}

let F16: Float32Array | null = null;
/** f16 bits → f32, all 65536 values, built once (the same conversion dequant.ts uses). */
function f16Table(): Float32Array {
  if (!F16) { F16 = new Float32Array(65536); for (let h = 0; h < 65536; h++) F16[h] = f32FromF16(h); }
  return F16;
}

/**
 * Rows [n0, n1) of a GGUF matrix [N × K]: `src` holds those rows' GGUF bytes only (row-major), `rows` = n1 − n0.
 * Columns [k0, k1) of each (multiples of 32, of 256 for fmt 5 and 7; default all) are packed into dst as `fmt`:
 * rows × packedRowBytes(fmt, k1 − k0). `fmt` defaults to packedFormatOf(type, slice is super-block aligned), which is
 * packedFormatOf(type) whenever the slice is aligned; any format packedFormatOf can give for the type is accepted.
 */
export function repackMatrix(ggmlType: number, src: Uint8Array, rows: number, K: number, dst: Uint8Array, k0 = 0, k1 = K,
  fmt: PackedFormat = packedFormatOf(ggmlType, k0 % 256 === 0 && (k1 - k0) % 256 === 0)): void {
  const t = typeInfo(ggmlType);
  if (fmt !== packedFormatOf(ggmlType, true) && fmt !== packedFormatOf(ggmlType, false)) throw new Error(`repack: ${t.name} cannot be packed as fmt ${fmt}`);
  if (K % t.blockSize !== 0) throw new Error(`repack: ${t.name} row of ${K} is not a whole number of ${t.blockSize}-blocks`);
  const align = fmt === 5 || fmt === 7 ? 256 : fmt === 0 ? 1 : 32;
  if (k0 < 0 || k1 > K || k0 >= k1 || k0 % align !== 0 || k1 % align !== 0) throw new Error(`repack: bad column range [${k0}, ${k1}) of ${K} for fmt ${fmt}`);
  const srcRow = (K / t.blockSize) * t.blockBytes, dstRow = packedRowBytes(fmt, k1 - k0);
  if (src.length < rows * srcRow) throw new Error(`repack: ${src.length} bytes hold fewer than ${rows} ${t.name} rows of ${K}`);
  if (dst.length < rows * dstRow) throw new Error(`repack: destination ${dst.length} bytes holds fewer than ${rows} packed rows of ${dstRow}`);
  // f32 scales are written through a Float32Array: dst must be 4-byte aligned (rows are multiples of 4 bytes).
  if ((dst.byteOffset & 3) !== 0) throw new Error('repack: destination must be 4-byte aligned');
  const f32 = new Float32Array(dst.buffer, dst.byteOffset, dst.length >> 2), h = f16Table();
  const B = (k1 - k0) / 32, b0 = k0 / 32;
  for (let r = 0; r < rows; r++) {
    const s = r * srcRow, o = r * dstRow, of = o >> 2;
    switch (t.name) {
      case 'F32': dst.set(src.subarray(s + 4 * k0, s + 4 * k1), o); break; // bytes as they are (NaN payloads too)
      case 'F16': for (let k = k0; k < k1; k++) { const p = s + 2 * k; f32[of + k - k0] = h[src[p] | (src[p + 1] << 8)]; } break;
      case 'BF16': for (let k = k0; k < k1; k++) { const p = s + 2 * k; f32[of + k - k0] = f32FromBf16(src[p] | (src[p + 1] << 8)); } break;
      case 'Q4_0': case 'Q4_1': {
        const one = t.name === 'Q4_1', gb = t.blockBytes, head = one ? 4 : 2, ds = of + 4 * B, ms = ds + B;
        for (let b = 0; b < B; b++) {
          const p = s + (b0 + b) * gb, d = h[src[p] | (src[p + 1] << 8)];
          for (let i = 0, c = o + 16 * b; i < 16; i++) dst[c + i] = src[p + head + i];
          f32[ds + b] = d; f32[ms + b] = one ? h[src[p + 2] | (src[p + 3] << 8)] : -8 * d;
        }
        break;
      }
      case 'Q8_0': {
        const ds = of + 8 * B, ms = ds + B;
        for (let b = 0; b < B; b++) {
          const p = s + (b0 + b) * 34;
          for (let i = 0, c = o + 32 * b; i < 32; i++) dst[c + i] = src[p + 2 + i];
          f32[ds + b] = h[src[p] | (src[p + 1] << 8)]; f32[ms + b] = -0;
        }
        break;
      }
      case 'Q5_0': case 'Q5_1': {
        const one = t.name === 'Q5_1', gb = t.blockBytes, ds = of + 8 * B, ms = ds + B, bias = one ? 0 : 16;
        for (let b = 0; b < B; b++) {
          const p = s + (b0 + b) * gb, qhp = p + (one ? 4 : 2), qs = p + (one ? 8 : 6), c = o + 32 * b;
          const qh = (src[qhp] | (src[qhp + 1] << 8) | (src[qhp + 2] << 16) | (src[qhp + 3] << 24)) >>> 0;
          for (let j = 0; j < 16; j++) {
            dst[c + j] = ((src[qs + j] & 15) | (((qh >>> j) << 4) & 0x10)) - bias;          // i8 wraps mod 256
            dst[c + j + 16] = ((src[qs + j] >> 4) | ((qh >>> (j + 12)) & 0x10)) - bias;
          }
          f32[ds + b] = h[src[p] | (src[p + 1] << 8)]; f32[ms + b] = one ? h[src[p + 2] | (src[p + 3] << 8)] : -0;
        }
        break;
      }
      case 'Q4_K': if (fmt === 5) { repackQ4KCompact(src, s, k0 >> 8, (k1 - k0) >> 8, dst, o, f32, of, h); break; } // fall through
      case 'Q5_K': repackK45(t.name === 'Q5_K', src, s, b0, B, dst, o, f32, of, h); break;
      case 'Q6_K': if (fmt === 7) { repackQ6KCompact(src, s, k0 >> 8, (k1 - k0) >> 8, dst, o, f32, of, h); break; }
        repackQ6K(src, s, b0, B, dst, o, f32, of, h); break;
      default: throw new Error(`repack: ${t.name} not implemented`);
    }
  }
}

/** Sub-block j's 6-bit scale and min of a Q4_K/Q5_K block (ggml's get_scale_min_k4), packed as sc | mn << 8. */
function scaleMin(src: Uint8Array, sc: number, j: number): number {
  if (j < 4) return (src[sc + j] & 63) | ((src[sc + j + 4] & 63) << 8);
  return ((src[sc + j + 4] & 0xf) | ((src[sc + j - 4] >> 6) << 4)) | (((src[sc + j + 4] >> 4) | ((src[sc + j] >> 6) << 4)) << 8);
}

/** Q4_K / Q5_K: each 32-value sub-block j (0…7) of a 256-block becomes one block. Q4_K keeps sub-block 2i in the
 *  low nibbles of 32 bytes and 2i + 1 in the high ones; fmt 4 wants element l and l + 16 in one byte: re-nibble. */
function repackK45(five: boolean, src: Uint8Array, s: number, b0: number, B: number, dst: Uint8Array, o: number, f32: Float32Array, of: number, h: Float32Array): void {
  const gb = five ? 176 : 144, ds = of + (five ? 8 : 4) * B, ms = ds + B, fr = Math.fround;
  for (let b = 0; b < B; b++) {
    const g = b0 + b, p = s + (g >> 3) * gb, j = g & 7, sm = scaleMin(src, p + 4, j);
    const d = h[src[p] | (src[p + 1] << 8)], dmin = h[src[p + 2] | (src[p + 3] << 8)];
    f32[ds + b] = fr(d * (sm & 0xff)); f32[ms + b] = -fr(dmin * (sm >> 8));
    const qs = p + (five ? 48 : 16) + 32 * (j >> 1), shift = (j & 1) * 4;
    if (!five) {
      const c = o + 16 * b;
      for (let l = 0; l < 16; l++) dst[c + l] = ((src[qs + l] >> shift) & 15) | (((src[qs + l + 16] >> shift) & 15) << 4);
    } else {
      const c = o + 32 * b, qh = p + 16;
      for (let l = 0; l < 32; l++) dst[c + l] = ((src[qs + l] >> shift) & 15) | (((src[qh + l] >> j) & 1) << 4);
    }
  }
}

/** Q6_K: element e of a 256-block has scale sc[e >> 4], so 32-block j (0…7) has halves scaled by sc[2j], sc[2j + 1];
 *  codes come from ql (4 bits) and qh (2 bits) as ggml's dequantize_row_q6_K reads them, minus 32. */
function repackQ6K(src: Uint8Array, s: number, b0: number, B: number, dst: Uint8Array, o: number, f32: Float32Array, of: number, h: Float32Array): void {
  const ds = of + 8 * B, fr = Math.fround;
  for (let b = 0; b < B; b++) {
    const g = b0 + b, p = s + (g >> 3) * 210, j = g & 7, d = h[src[p + 208] | (src[p + 209] << 8)];
    const sc = p + 192 + 2 * j;
    f32[ds + 2 * b] = fr(d * ((src[sc] << 24) >> 24)); f32[ds + 2 * b + 1] = fr(d * ((src[sc + 1] << 24) >> 24));
    // elements 32j … 32j + 31 = 128n + 32t + l: n = j >> 2, t = j & 3
    const n = j >> 2, t = j & 3, L = p + 64 * n + (t & 1) * 32, shiftL = (t >> 1) * 4, H = p + 128 + 32 * n, shiftH = 2 * t, c = o + 32 * b;
    for (let l = 0; l < 32; l++) dst[c + l] = (((src[L + l] >> shiftL) & 15) | (((src[H + l] >> shiftH) & 3) << 4)) - 32;
  }
}

/** Q4_K super-blocks [g0, g0 + G) of one row → fmt 5 records (152 B each) at dst[o]. */
function repackQ4KCompact(src: Uint8Array, s: number, g0: number, G: number, dst: Uint8Array, o: number, f32: Float32Array, of: number, h: Float32Array): void {
  for (let g = 0; g < G; g++) {
    const p = s + (g0 + g) * 144, r = o + 152 * g, rf = (of + 38 * g);
    for (let j = 0; j < 8; j++) {
      const sm = scaleMin(src, p + 4, j), qs = p + 16 + 32 * (j >> 1), shift = (j & 1) * 4, c = r + 16 * j;
      for (let l = 0; l < 16; l++) dst[c + l] = ((src[qs + l] >> shift) & 15) | (((src[qs + l + 16] >> shift) & 15) << 4);
      dst[r + 128 + j] = sm & 0xff; dst[r + 136 + j] = sm >> 8;
    }
    f32[rf + 36] = h[src[p] | (src[p + 1] << 8)]; f32[rf + 37] = h[src[p + 2] | (src[p + 3] << 8)];
  }
}

/** Q6_K super-blocks [g0, g0 + G) of one row → fmt 7 records (212 B each) at dst[o]: 6-bit codes u (as ggml reads
 *  them from ql/qh, before − 32) split into low nibbles (fmt 4 order) and 2-bit highs (matmul_qk.ts's layout). */
function repackQ6KCompact(src: Uint8Array, s: number, g0: number, G: number, dst: Uint8Array, o: number, f32: Float32Array, of: number, h: Float32Array): void {
  const u = new Uint8Array(256);
  for (let g = 0; g < G; g++) {
    const p = s + (g0 + g) * 210, r = o + 212 * g;
    for (let n = 0; n < 2; n++) for (let l = 0; l < 32; l++) {
      const L = p + 64 * n, hb = src[p + 128 + 32 * n + l], e = 128 * n + l;
      u[e] = (src[L + l] & 15) | ((hb & 3) << 4);
      u[e + 32] = (src[L + l + 32] & 15) | (((hb >> 2) & 3) << 4);
      u[e + 64] = (src[L + l] >> 4) | (((hb >> 4) & 3) << 4);
      u[e + 96] = (src[L + l + 32] >> 4) | (((hb >> 6) & 3) << 4);
    }
    dst.fill(0, r + 128, r + 192);
    for (let j = 0; j < 8; j++) {
      const e = 32 * j, c = r + 16 * j, H = r + 128 + 16 * (j >> 1), sh = 2 * (j & 1);
      for (let l = 0; l < 16; l++) {
        dst[c + l] = (u[e + l] & 15) | ((u[e + 16 + l] & 15) << 4);
        dst[H + l] |= ((u[e + l] >> 4) << (4 + sh)) | ((u[e + 16 + l] >> 4) << sh);
      }
    }
    for (let i = 0; i < 16; i++) dst[r + 192 + i] = src[p + 192 + i];
    f32[(of + 53 * g) + 52] = h[src[p + 208] | (src[p + 209] << 8)];
  }
}
