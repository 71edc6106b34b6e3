// Scalar TypeScript reference codec: the oracle for the SIMD kernel and the "scalar JS" baseline.
// Follows docs/wire-format.md section by section; clarity over speed, but no allocation inside row loops.
import {
  bf16Down, bf16Nearest, bf16Up, clampCode, f16Nearest, f32Bits, f32FromBf16, f32FromBits, f32FromF16, fround, invScale,
} from './numerics.js';
import { CodecContext, isFloat } from './spec.js';
import { decodeRotated, encodeRotated } from './rotated.js';
import { getCode, putCode } from './bits.js';
import { maxStreamBytes } from './entropy.js';
import {
  CodecId, ERR, FLAG_ENTROPY, FLAG_INDICES_ON_WIRE, FLAG_OUTLIER_F16, FLAG_SYMMETRIC, HEADER_BYTES, Header, Layout, layoutOf,
  maxExceptions, maxRawRows, rawRowBytes, readHeader, ROW_MARGIN, WireFormatError, writeHeader, FLAG_RAW_ROWS,
} from './wire.js';

const to16 = (flags: number) => ((flags & FLAG_OUTLIER_F16) !== 0 ? f16Nearest : bf16Nearest);
const from16 = (flags: number) => ((flags & FLAG_OUTLIER_F16) !== 0 ? f32FromF16 : f32FromBf16);


/** Encode tokens × features f32 values (row-major) into one block. */
export function encodeReference(ctx: CodecContext, src: Float32Array, tokens: number): Uint8Array {
  const F = ctx.features, n = tokens * F, { spec } = ctx;
  if (src.length < n) throw new Error(`encode: source has ${src.length} values, need ${n}`);
  const O = ctx.outliers.length;
  if (spec.codec === CodecId.Rotated) return encodeRotated(ctx, src, tokens) ?? encodeFloat(CodecId.F32, src, tokens, F);
  if (isFloat(spec)) return encodeFloat(spec.codec, src, tokens, F);
  const raw = spec.rawRows ? rawRowsOf(ctx, src, tokens) : [];
  let X = 0;
  for (let i = 0, r = 0; i < n; i++) {
    if (r < raw.length && Math.floor(i / F) > raw[r]) r++;
    if (!ctx.isOutlier[i % F] && !Number.isFinite(src[i]) && raw[r] !== Math.floor(i / F)) X++;
  }
  if (X > maxExceptions(n)) return encodeFloat(CodecId.F32, src, tokens, F);

  const h = { codec: spec.codec, bits: spec.bits, flags: ctx.flags, groupSize: spec.groupSize, tokens, features: F, outliers: O };
  const L = layoutOf(h);
  const rawOff = L.excOff + 8 * X;
  const out = new Uint8Array(rawOff + raw.length * rawRowBytes(F));
  const dv = new DataView(out.buffer);
  writeHeader(dv, { ...h, exceptions: X, totalBytes: out.length, rawRows: raw.length });
  // §10: raw rows' indices, then their F values in bf16; the row itself is coded as a row of zeros
  raw.forEach((t, k) => {
    dv.setUint32(rawOff + 4 * k, t, true);
    for (let f = 0; f < F; f++) dv.setUint16(rawOff + 4 * raw.length + 2 * (k * F + f), bf16Nearest(src[t * F + f]), true);
  });
  if (ctx.flags & FLAG_INDICES_ON_WIRE) for (let i = 0; i < O; i++) dv.setUint32(L.idxOff + 4 * i, ctx.outliers[i], true);
  const conv16 = to16(ctx.flags);
  const work = new Float32Array(L.coded);
  let excAt = L.excOff;
  for (let t = 0; t < tokens; t++) {
    const row = t * F;
    for (let i = 0; i < O; i++) dv.setUint16(L.valOff + 2 * (t * O + i), conv16(src[row + ctx.outliers[i]]), true);
    // Work row (§4): compacted for outlier-static, outliers zeroed for outlier-group; exceptions become 0.
    let j = 0;
    const isRaw = raw.includes(t);
    for (let f = 0; f < F; f++) {
      if (ctx.isOutlier[f]) { if (spec.codec === CodecId.OutlierGroup) work[j++] = 0; continue; }
      const x = isRaw ? 0 : src[row + f];
      if (!Number.isFinite(x)) { dv.setUint32(excAt, row + f, true); dv.setUint32(excAt + 4, f32Bits(x), true); excAt += 8; work[j++] = 0; }
      else work[j++] = x;
    }
    const codeRow = L.codeOff + t * L.rowCodeBytes;
    if (spec.codec === CodecId.IntStatic || spec.codec === CodecId.OutlierStatic) encodeStaticRow(ctx, work, out, codeRow);
    else encodeGroupRow(ctx, work, out, dv, L, t, codeRow);
  }
  return out;
}

/** §10: rows (ascending, at most ⌈tokens/16⌉, first first) holding a finite coded value whose code position
 *  v = (x − min)·inv lies below −ROW_MARGIN·qmax or above (1 + ROW_MARGIN)·qmax. */
export function rawRowsOf(ctx: CodecContext, src: Float32Array, tokens: number): number[] {
  const F = ctx.features, qmax = 2 ** ctx.spec.bits - 1, lo = -ROW_MARGIN * qmax, hi = (1 + ROW_MARGIN) * qmax;
  const rows: number[] = [], cap = maxRawRows(tokens);
  for (let t = 0; t < tokens && rows.length < cap; t++) {
    for (let f = 0, j = 0; f < F; f++) {
      if (ctx.isOutlier[f] && ctx.spec.codec === CodecId.OutlierStatic) continue;
      const x = src[t * F + f];
      const v = fround(fround(x - ctx.min[j]) * ctx.inv[j]);
      j++;
      if (Number.isFinite(x) && (v < lo || v > hi)) { rows.push(t); break; }
    }
  }
  return rows;
}

function encodeStaticRow(ctx: CodecContext, work: Float32Array, out: Uint8Array, codeRow: number): void {
  const bits = ctx.spec.bits, qmax = 2 ** bits - 1;
  for (let j = 0; j < work.length; j++) {
    const v = fround(fround(work[j] - ctx.min[j]) * ctx.inv[j]);
    putCode(out, codeRow, j, bits, clampCode(v, 0, qmax));
  }
}

function encodeGroupRow(ctx: CodecContext, work: Float32Array, out: Uint8Array, dv: DataView, L: Layout, t: number, codeRow: number): void {
  const { bits, groupSize: G, symmetric } = ctx.spec;
  const qmax = 2 ** bits - 1, half = 2 ** (bits - 1), qpos = half - 1;
  for (let g = 0; g < L.groups; g++) {
    const a0 = g * G, a1 = Math.min(a0 + G, work.length);
    const at = 2 * (t * L.groups + g);
    if (symmetric) {
      let amax = 0;
      for (let j = a0; j < a1; j++) amax = Math.max(amax, Math.abs(work[j]));
      const sBits = bf16Up(fround(amax / qpos)), inv = invScale(f32FromBf16(sBits));
      dv.setUint16(L.scaleOff + at, sBits, true);
      for (let j = a0; j < a1; j++) putCode(out, codeRow, j, bits, clampCode(fround(work[j] * inv), -qpos, qpos) + half);
    } else {
      let lo = Infinity, hi = -Infinity;
      for (let j = a0; j < a1; j++) { lo = Math.min(lo, work[j]); hi = Math.max(hi, work[j]); }
      lo += 0; hi += 0; // −0 counts as +0 (§4)
      const mBits = bf16Down(lo), m = f32FromBf16(mBits);
      const sBits = bf16Up(fround(fround(hi - m) / qmax)), inv = invScale(f32FromBf16(sBits));
      dv.setUint16(L.scaleOff + at, sBits, true);
      dv.setUint16(L.minOff + at, mBits, true);
      for (let j = a0; j < a1; j++) putCode(out, codeRow, j, bits, clampCode(fround(fround(work[j] - m) * inv), 0, qmax));
    }
  }
}

function encodeFloat(codec: CodecId, src: Float32Array, tokens: number, F: number): Uint8Array {
  const n = tokens * F, bytes = codec === CodecId.F32 ? 4 : 2;
  const out = new Uint8Array(HEADER_BYTES + n * bytes);
  const dv = new DataView(out.buffer);
  writeHeader(dv, { codec, bits: bytes * 8, flags: 0, groupSize: 0, tokens, features: F, outliers: 0, exceptions: 0, totalBytes: out.length });
  const conv = codec === CodecId.F16 ? f16Nearest : bf16Nearest;
  for (let i = 0; i < n; i++) {
    if (codec === CodecId.F32) dv.setUint32(HEADER_BYTES + 4 * i, f32Bits(src[i]), true);
    else dv.setUint16(HEADER_BYTES + 2 * i, conv(src[i]), true);
  }
  return out;
}

/** Check a header against the decoder's context and buffer (§1); returns its layout. */
export function validateHeader(ctx: CodecContext, h: Header, given: number): Layout {
  const float = h.codec <= CodecId.F16;
  if (h.codec > CodecId.Rotated) throw new WireFormatError(ERR.BAD_HEADER, `codec id ${h.codec}`);
  if (h.features !== ctx.features) throw new WireFormatError(ERR.CONTEXT_MISMATCH, `features ${h.features} ≠ ${ctx.features}`);
  const fallback = h.codec === CodecId.F32; // §6: an f32 block is accepted in any context of the same width
  if (!fallback && (h.codec !== ctx.spec.codec || h.bits !== ctx.spec.bits || h.flags !== ctx.flags ||
      h.groupSize !== ctx.spec.groupSize || h.outliers !== ctx.outliers.length))
    throw new WireFormatError(ERR.CONTEXT_MISMATCH, `block ${h.codec}/${h.bits}b/g${h.groupSize}/flags ${h.flags}/O ${h.outliers}`);
  if (float && (h.bits !== (h.codec === CodecId.F32 ? 32 : 16) || h.flags !== 0 || h.groupSize !== 0 || h.outliers !== 0 || h.exceptions !== 0))
    throw new WireFormatError(ERR.BAD_HEADER, 'float codec with integer-codec fields');
  const L = layoutOf(h);
  const n = h.tokens * h.features;
  // Codec 7 lists raw blocks (at most one per block, §9); the others list values (at most ⌊n/64⌋, §6).
  const maxX = h.codec === CodecId.Rotated ? n : maxExceptions(n);
  if (h.exceptions > maxX) throw new WireFormatError(ERR.BAD_HEADER, `${h.exceptions} exceptions`);
  const W = h.rawRows ?? 0; // §10
  if (W > 0 && ((h.flags & FLAG_RAW_ROWS) === 0 || W > h.tokens)) throw new WireFormatError(ERR.BAD_HEADER, `${W} raw rows`);
  if (h.codec === CodecId.Rotated && (h.flags & FLAG_ENTROPY) !== 0) { // §12: no raw blocks; the stream runs to the end
    if (h.exceptions !== 0) throw new WireFormatError(ERR.BAD_HEADER, `${h.exceptions} raw blocks in an entropy-coded block`);
    if (h.totalBytes < L.codeOff || h.totalBytes > L.codeOff + maxStreamBytes(n)) throw new WireFormatError(ERR.BAD_HEADER, `length field ${h.totalBytes}`);
    if (h.totalBytes > given) throw new WireFormatError(ERR.TRUNCATED, `${given} of ${h.totalBytes} bytes`);
    return L;
  }
  const total = L.excOff + L.excEntry * h.exceptions + W * rawRowBytes(h.features);
  if (h.totalBytes !== total) throw new WireFormatError(ERR.BAD_HEADER, `length field ${h.totalBytes} ≠ ${total}`);
  if (total > given) throw new WireFormatError(ERR.TRUNCATED, `${given} of ${total} bytes`);
  return L;
}

/**
 * Decode a block into `out` (tokens × features, row-major). With `accumulate`, adds into `out` instead (§7).
 * Returns the number of tokens decoded.
 */
export function decodeReference(ctx: CodecContext, bytes: Uint8Array, out: Float32Array, accumulate: boolean): number {
  const h = readHeader(bytes);
  const L = validateHeader(ctx, h, bytes.length);
  const F = h.features, n = h.tokens * F;
  if (out.length < n) throw new WireFormatError(ERR.CAPACITY, `output holds ${out.length} of ${n} values`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const emit = accumulate ? (i: number, x: number) => { out[i] = fround(out[i] + x); } : (i: number, x: number) => { out[i] = x; };
  if (h.codec <= CodecId.F16) {
    const conv = h.codec === CodecId.F16 ? f32FromF16 : f32FromBf16;
    for (let i = 0; i < n; i++) emit(i, h.codec === CodecId.F32 ? dv.getFloat32(HEADER_BYTES + 4 * i, true) : conv(dv.getUint16(HEADER_BYTES + 2 * i, true)));
    return h.tokens;
  }
  const O = h.outliers;
  let outliers = ctx.outliers;
  if (h.flags & FLAG_INDICES_ON_WIRE) {
    outliers = new Uint32Array(O);
    for (let i = 0; i < O; i++) {
      outliers[i] = dv.getUint32(L.idxOff + 4 * i, true);
      if (outliers[i] >= F || (i > 0 && outliers[i] <= outliers[i - 1])) throw new WireFormatError(ERR.BAD_OUTLIER_INDEX, `index ${i}`);
    }
  }
  if (h.codec === CodecId.Rotated) { decodeRotated(h, L, bytes, outliers, out, accumulate); return h.tokens; }
  // Exceptions are checked before anything is written, so a bad block leaves `out` untouched.
  for (let e = 0; e < h.exceptions; e++) {
    const idx = dv.getUint32(L.excOff + 8 * e, true);
    if (idx >= n || (e > 0 && idx <= dv.getUint32(L.excOff + 8 * (e - 1), true))) throw new WireFormatError(ERR.BAD_EXCEPTION, `entry ${e}`);
  }
  const W = h.rawRows ?? 0, rawOff = L.excOff + 8 * h.exceptions, rawVals = rawOff + 4 * W;
  for (let k = 0; k < W; k++) {
    const t = dv.getUint32(rawOff + 4 * k, true);
    if (t >= h.tokens || (k > 0 && t <= dv.getUint32(rawOff + 4 * (k - 1), true))) throw new WireFormatError(ERR.BAD_EXCEPTION, `raw row ${k}`);
  }
  const isOut = new Uint8Array(F);
  for (let i = 0; i < O; i++) isOut[outliers[i]] = 1;
  const conv16 = from16(h.flags);
  let k = 0;
  const { bits, groupSize: G } = h, half = 2 ** (bits - 1);
  const sym = (h.flags & FLAG_SYMMETRIC) !== 0;
  const staticCodec = h.codec === CodecId.IntStatic || h.codec === CodecId.OutlierStatic;
  const row = new Float32Array(F);
  let e = 0;
  for (let t = 0; t < h.tokens; t++) {
    const codeRow = L.codeOff + t * L.rowCodeBytes;
    let j = 0, oi = 0;
    for (let f = 0; f < F; f++) {
      if (isOut[f]) { row[f] = conv16(dv.getUint16(L.valOff + 2 * (t * O + oi++), true)); if (h.codec === CodecId.OutlierGroup) j++; continue; }
      const q = getCode(bytes, codeRow, j, bits);
      if (staticCodec) row[f] = fround(fround(q * ctx.scale[j]) + ctx.min[j]);
      else {
        const at = 2 * (t * L.groups + Math.floor(j / G));
        const s = f32FromBf16(dv.getUint16(L.scaleOff + at, true));
        row[f] = sym ? fround((q - half) * s) : fround(fround(q * s) + f32FromBf16(dv.getUint16(L.minOff + at, true)));
      }
      j++;
    }
    for (; e < h.exceptions; e++) {
      const idx = dv.getUint32(L.excOff + 8 * e, true);
      if (idx >= (t + 1) * F) break;
      if (!isOut[idx - t * F]) row[idx - t * F] = f32FromBits(dv.getUint32(L.excOff + 8 * e + 4, true));
    }
    if (k < W && dv.getUint32(rawOff + 4 * k, true) === t) { // §10: a raw row replaces the whole decoded row
      for (let f = 0; f < F; f++) row[f] = f32FromBf16(dv.getUint16(rawVals + 2 * (k * F + f), true));
      k++;
    }
    for (let f = 0; f < F; f++) emit(t * F + f, row[f]);
  }
  return h.tokens;
}
