// Scalar reference of codec 7 (docs/wire-format.md §9): block-Hadamard rotation with dynamic symmetric per-group
// scales, optional calibrated 16-bit outlier features kept out of the rotation, and raw f32 blocks for NaN/Inf;
// with -ec (§12) the codes are Huffman-coded (entropy.ts).
import { bf16Nearest, bf16Up, clampCode, f16Nearest, f32Bits, f32FromBf16, f32FromBits, f32FromF16, fround, invScale } from './numerics.js';
import { CodecContext } from './spec.js';
import { getCode, putCode } from './bits.js';
import { levels, thresholds } from './levels.js';
import { huffmanCode, maxStreamBytes, readStream, writeStream } from './entropy.js';
import { EC_ROW_TABLES } from './entropy-tables.js';
import {
  ERR, FLAG_ENTROPY, FLAG_ROW_STEP, FLAG_LEVELS, FLAG_INDICES_ON_WIRE, FLAG_OUTLIER_F16, HEADER_BYTES, Header, Layout, layoutOf, rotBlockOf, rotBlocks, WireFormatError, writeHeader,
} from './wire.js';

/** ±1 of position i inside a block (§9): the top bit of i · 0x9E3779B1 (32-bit wrap) makes it −1. */
export const rotSign = (i: number): number => ((Math.imul(i, 0x9e3779b1) >>> 31) ? -1 : 1);

/** Unnormalized Walsh–Hadamard butterflies on x[a, a+w), stage h = 1, 2, 4, …: (u, v) → (u + v, u − v). */
function butterflies(x: Float32Array, a: number, w: number): void {
  for (let h = 1; h < w; h *= 2)
    for (let i = a; i < a + w; i += 2 * h)
      for (let j = i; j < i + h; j++) { const u = x[j], v = x[j + h]; x[j] = fround(u + v); x[j + h] = fround(u - v); }
}
/** Forward rotation of one block: y = H · D · x (D = diag(rotSign)). */
export function rotForward(x: Float32Array, a: number, w: number): void {
  for (let i = 0; i < w; i++) x[a + i] = fround(x[a + i] * rotSign(i));
  butterflies(x, a, w);
}
/** Inverse: x = D · H · y / w, the last step one multiply by ±1/w (a power of two). */
export function rotInverse(x: Float32Array, a: number, w: number): void {
  butterflies(x, a, w);
  for (let i = 0; i < w; i++) x[a + i] = fround(x[a + i] * (rotSign(i) / w));
}

/** Largest magnitude a coded (not raw) block may hold after rotation: keeps decode's inverse butterflies finite. */
export const ROT_LIMIT = 2 ** 100;
/** The same for row-step codecs (§13): squares and their sums stay finite. */
export const ROW_LIMIT = 2 ** 56;

/**
 * §13: the row's step from the rotated values at work[base, base + F): per block the sum of squares in 4 lanes
 * (lane i mod 4, in order; f32), the lanes added as (0 + 1) + (2 + 3), times 1/w, summed over blocks in order; divided
 * by the coded count n, square root, times k, rounded to bf16 (nearest). Returns the bf16 bits (0 when n = 0).
 */
export function rowStepBits(work: Float32Array, base: number, blocks: { start: number; width: number }[], n: number, k: number): number {
  let total = 0;
  for (const { start, width } of blocks) {
    const lane = [0, 0, 0, 0];
    for (let i = 0; i < width; i++) { const y = work[base + start + i]; lane[i & 3] = fround(lane[i & 3] + fround(y * y)); }
    total = fround(total + fround(fround(fround(lane[0] + lane[1]) + fround(lane[2] + lane[3])) * (1 / width)));
  }
  return n === 0 ? 0 : bf16Nearest(fround(fround(Math.sqrt(fround(total / n))) * k));
}
/** §13: the step of a block of width w from the row's step: s · √w (both f32), so every block has the same error. */
export const blockStep = (s: number, w: number): number => fround(s * fround(Math.sqrt(w)));

/** Encode; returns null when the raw blocks would make the block larger than f32 (the caller sends f32, §9). */
export function encodeRotated(ctx: CodecContext, src: Float32Array, tokens: number): Uint8Array | null {
  const F = ctx.features, { spec } = ctx, O = ctx.outliers.length, R = spec.rotate!, G = spec.groupSize, bits = spec.bits;
  const blocks = rotBlocks(F, R), nb = blocks.length;
  // -ec (§12): 2M + 1 levels, zero included, Huffman-coded; otherwise 2^bits levels (q − c) · s without a zero level
  const rowStep = (ctx.flags & FLAG_ROW_STEP) !== 0, limit = rowStep ? ROW_LIMIT : ROT_LIMIT;
  const hc = (ctx.flags & FLAG_ENTROPY) !== 0 ? huffmanCode(bits, rowStep) : null;
  const qmax = hc ? 2 * hc.M : 2 ** bits - 1, c = qmax / 2;
  const lm = (ctx.flags & FLAG_LEVELS) !== 0, mids = lm ? thresholds(bits) : null; // -lm: Lloyd–Max levels · s
  // Work rows: outliers zeroed, each block rotated; a block is raw when any rotated value is not within ROT_LIMIT.
  const work = new Float32Array(tokens * F);
  const raw: number[] = [];
  for (let t = 0; t < tokens; t++) {
    for (let f = 0; f < F; f++) work[t * F + f] = ctx.isOutlier[f] ? 0 : src[t * F + f];
    for (let k = 0; k < nb; k++) {
      const { start, width } = blocks[k];
      rotForward(work, t * F + start, width);
      for (let i = 0; i < width; i++) if (!(Math.abs(work[t * F + start + i]) <= limit)) { raw.push(t * nb + k); break; }
    }
  }
  const h = { codec: spec.codec, bits, flags: ctx.flags, groupSize: G, tokens, features: F, outliers: O };
  const L = layoutOf(h);
  if (hc && raw.length > 0) return null; // §12: a block with NaN/Inf (or a butterfly overflow) goes as f32 whole
  const total = L.excOff + L.excEntry * raw.length;
  if (total > HEADER_BYTES + 4 * tokens * F) return null;
  const out = new Uint8Array(hc ? total + maxStreamBytes(tokens * F) : total);
  const symbols = hc ? new Uint8Array(tokens * F) : null; // -ec: codes in row order, Huffman-coded at the end
  const dv = new DataView(out.buffer);
  writeHeader(dv, { ...h, exceptions: raw.length, totalBytes: total });
  if (ctx.flags & FLAG_INDICES_ON_WIRE) for (let i = 0; i < O; i++) dv.setUint32(L.idxOff + 4 * i, ctx.outliers[i], true);
  const conv16 = (ctx.flags & FLAG_OUTLIER_F16) !== 0 ? f16Nearest : bf16Nearest;
  let r = 0;
  for (let t = 0; t < tokens; t++) {
    for (let i = 0; i < O; i++) dv.setUint16(L.valOff + 2 * (t * O + i), conv16(src[t * F + ctx.outliers[i]]), true);
    const codeRow = L.codeOff + t * L.rowCodeBytes;
    if (rowStep && symbols) { // §13: one step per row, s · √w per block
      const sBits = rowStepBits(work, t * F, blocks, F - O, EC_ROW_TABLES[bits].k), s = f32FromBf16(sBits);
      dv.setUint16(L.scaleOff + 2 * t, sBits, true);
      for (const { start, width } of blocks) {
        const inv = invScale(blockStep(s, width));
        for (let i = t * F + start; i < t * F + start + width; i++) symbols[i] = clampCode(fround(fround(work[i] * inv) + c), 0, qmax);
      }
      continue;
    }
    let g = 0;
    for (let k = 0; k < nb; k++) {
      const { start, width } = blocks[k], base = t * F + start;
      if (r < raw.length && raw[r] === t * nb + k) {
        // Raw block: its index, then R f32 values (outliers 0, zero-padded past the block's width); coded as zeros.
        const at = L.excOff + L.excEntry * r++;
        dv.setUint32(at, t * nb + k, true);
        for (let i = 0; i < width; i++) dv.setUint32(at + 4 + 4 * i, f32Bits(ctx.isOutlier[start + i] ? 0 : src[base + i]), true);
        work.fill(0, base, base + width);
      }
      for (let a0 = 0; a0 < width; a0 += G, g++) {
        const a1 = Math.min(a0 + G, width);
        let amax = 0;
        for (let i = a0; i < a1; i++) amax = Math.max(amax, Math.abs(work[base + i]));
        const sBits = bf16Up(lm ? amax : fround(amax / c)), inv = invScale(f32FromBf16(sBits));
        dv.setUint16(L.scaleOff + 2 * (t * L.groups + g), sBits, true);
        for (let i = a0; i < a1; i++) {
          if (symbols) { symbols[base + i] = clampCode(fround(fround(work[base + i] * inv) + c), 0, qmax); continue; }
          if (!mids) { putCode(out, codeRow, start + i, bits, clampCode(fround(fround(work[base + i] * inv) + c), 0, qmax)); continue; }
          const v = fround(work[base + i] * inv);
          let q = 0;
          for (let k = 0; k < mids.length; k++) if (v > mids[k]) q++;
          putCode(out, codeRow, start + i, bits, q);
        }
      }
    }
  }
  if (!hc || !symbols) return out;
  const stream = writeStream(symbols, hc), ecTotal = L.codeOff + stream.length;
  out.set(stream, L.codeOff);
  writeHeader(dv, { ...h, exceptions: 0, totalBytes: ecTotal });
  return out.slice(0, ecTotal);
}

/** Validate the raw-block list of a codec 7 block (before anything is written); returns it. */
export function rawBlockList(h: Header, L: Layout, bytes: Uint8Array): Uint32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nb = rotBlocks(h.features, rotBlockOf(h.flags)).length;
  const list = new Uint32Array(h.exceptions);
  for (let e = 0; e < h.exceptions; e++) {
    list[e] = dv.getUint32(L.excOff + L.excEntry * e, true);
    if (list[e] >= h.tokens * nb || (e > 0 && list[e] <= list[e - 1])) throw new WireFormatError(ERR.BAD_EXCEPTION, `raw block entry ${e}`);
  }
  return list;
}

/** Decode a validated codec 7 block into `out` (or add into it); outliers from `outliers` (wire or context). */
export function decodeRotated(h: Header, L: Layout, bytes: Uint8Array, outliers: Uint32Array, out: Float32Array, accumulate: boolean): void {
  const F = h.features, R = rotBlockOf(h.flags), G = h.groupSize, O = h.outliers, bits = h.bits;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const blocks = rotBlocks(F, R), nb = blocks.length;
  const raw = rawBlockList(h, L, bytes);
  const rowStep = (h.flags & FLAG_ROW_STEP) !== 0;
  const hc = (h.flags & FLAG_ENTROPY) !== 0 ? huffmanCode(bits, rowStep) : null;
  const c = hc ? hc.M : (2 ** bits - 1) / 2, table = (h.flags & FLAG_LEVELS) !== 0 ? levels(bits) : null;
  // -ec: the whole stream is read (and checked) before anything is written
  const symbols = hc ? readStream(bytes, L.codeOff, h.totalBytes - L.codeOff, h.tokens * F, hc) : null;
  const from16 = (h.flags & FLAG_OUTLIER_F16) !== 0 ? f32FromF16 : f32FromBf16;
  const row = new Float32Array(F);
  let r = 0;
  for (let t = 0; t < h.tokens; t++) {
    const codeRow = L.codeOff + t * L.rowCodeBytes;
    let g = 0;
    for (let k = 0; k < nb; k++) {
      const { start, width } = blocks[k];
      if (r < raw.length && raw[r] === t * nb + k) {
        const at = L.excOff + L.excEntry * r++;
        for (let i = 0; i < width; i++) row[start + i] = f32FromBits(dv.getUint32(at + 4 + 4 * i, true));
        g += Math.ceil(width / G);
        continue;
      }
      for (let a0 = 0; a0 < width; a0 += G, g++) {
        const s = rowStep ? blockStep(f32FromBf16(dv.getUint16(L.scaleOff + 2 * t, true)), width) : f32FromBf16(dv.getUint16(L.scaleOff + 2 * (t * L.groups + g), true));
        for (let i = a0; i < Math.min(a0 + G, width); i++) {
          const q = symbols ? symbols[t * F + start + i] : getCode(bytes, codeRow, start + i, bits);
          row[start + i] = table ? fround(table[q] * s) : fround((q - c) * s);
        }
      }
      rotInverse(row, start, width);
    }
    for (let i = 0; i < O; i++) row[outliers[i]] = from16(dv.getUint16(L.valOff + 2 * (t * O + i), true));
    for (let f = 0; f < F; f++) out[t * F + f] = accumulate ? fround(out[t * F + f] + row[f]) : row[f];
  }
}
