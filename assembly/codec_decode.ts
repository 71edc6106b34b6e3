// SIMD codec kernel, decode side: bytes → f32 (decode) or += f32 (decode-accumulate, the all-reduce's inner loop).
// Validates every header field against the context before it writes anything (docs/wire-format.md §1).
import { checkRaw, decodeRot } from './codec_rot';
import { ecRead, ecReadBegin, ecReadEnd, ROW_TABLE } from './codec_ec';
import { EC_MAX_LEN } from './codec_ec_tables';
import { codeAt, fromBf16, fromF16Lanes, fromF16Scalar, unpack16 } from './codec_lanes';
import {
  coded, codeOff, CX_BITS, CX_CODEC, CX_FEATURES, CX_FLAGS, CX_GROUP, CX_ISOUT_PTR, CX_MIN_PTR, CX_OUTLIER_PTR,
  CX_OUTLIERS, CX_SCALE_PTR, ENTROPY, ROW_STEP, excEntry, ROT, RAW_ROWS, E_CAP, E_CONTEXT, E_EXC, E_HEADER, E_MAGIC, E_OUTLIER, E_TRUNC, E_VERSION, excOff, F16,
  F32, groups, HEADER, idxOff, IDX_ON_WIRE, INT_STATIC, layout, MAGIC, minOff, OUT_F16, OUT_GROUP, OUT_STATIC,
  rowBytes, scaleOff, scratchBytes, SYM, valOff,
} from './codec_layout';

@inline function emit4(p: usize, v: v128, acc: bool): void {
  v128.store(p, acc ? f32x4.add(v128.load(p), v) : v);
}
@inline function emit1(p: usize, x: f32, acc: bool): void {
  store<f32>(p, acc ? load<f32>(p) + x : x);
}

/**
 * Decode the block at src (srcLen bytes) into dst (dstCap f32 values): store, or add when acc.
 * Returns the number of tokens, or a negative error code; on error dst is untouched.
 */
export function decode(ctx: usize, src: usize, srcLen: i32, dst: usize, dstCap: i32, acc: bool, scratch: usize, scratchCap: i32): i32 {
  const F = load<i32>(ctx + CX_FEATURES);
  if (scratchCap < scratchBytes(F)) return E_CAP;
  if (srcLen < HEADER) return E_TRUNC;
  if (load<u32>(src) != MAGIC) return E_MAGIC;
  if (load<u8>(src + 4) != 1) return E_VERSION;
  const codec = <i32>load<u8>(src + 5), bits = <i32>load<u8>(src + 6), flags = <i32>load<u8>(src + 7);
  const G = <i32>load<u16>(src + 8), tokens = load<u32>(src + 12), hF = load<u32>(src + 16);
  const O = load<u32>(src + 20), X = load<u32>(src + 24), total = load<u32>(src + 28);
  if (codec > ROT) return E_HEADER;
  if (hF != <u32>F) return E_CONTEXT;
  if (codec != F32 && (codec != load<i32>(ctx + CX_CODEC) || bits != load<i32>(ctx + CX_BITS) || flags != load<i32>(ctx + CX_FLAGS) ||
      G != load<i32>(ctx + CX_GROUP) || O != load<u32>(ctx + CX_OUTLIERS))) return E_CONTEXT;
  if (codec <= F16 && (bits != (codec == F32 ? 32 : 16) || flags != 0 || G != 0 || O != 0 || X != 0)) return E_HEADER;
  const n64 = <i64>tokens * <i64>F;
  layout(codec, bits, flags, G, <i64>tokens, F, <i32>O);
  if (<i64>X > (codec == ROT ? n64 : n64 / 64)) return E_HEADER;
  const W = <u32>load<u16>(src + 10); // §10 raw rows
  if (W > 0 && ((flags & RAW_ROWS) == 0 || W > tokens)) return E_HEADER;
  const rawOff = excOff + <i64>X * excEntry, rawVals = rawOff + <i64>W * 4;
  const ec = codec == ROT && (flags & ENTROPY) != 0; // §12: no raw blocks; the stream runs from codeOff to the end
  const end = ec ? <i64>total : rawVals + <i64>W * <i64>F * 2;
  if (ec && (X != 0 || <i64>total < codeOff || <i64>total > codeOff + ((n64 * EC_MAX_LEN + 7) >> 3))) return E_HEADER;
  if (<i64>total != end) return E_HEADER;
  if (end > <i64>srcLen) return E_TRUNC;
  if (n64 > <i64>dstCap) return E_CAP;
  const n = <i32>n64;

  if (codec <= F16) { decodeFloat(codec, src + HEADER, n, dst, acc); return <i32>tokens; }

  // Outlier list and map: from the wire (validated) or from the context.
  let oPtr = load<usize>(ctx + CX_OUTLIER_PTR), isOut = load<usize>(ctx + CX_ISOUT_PTR);
  if ((flags & IDX_ON_WIRE) != 0) {
    oPtr = src + <usize>idxOff;
    isOut = scratch + (<usize>F << 3);
    memory.fill(isOut, 0, F);
    for (let i: u32 = 0; i < O; i++) {
      const o = load<u32>(oPtr + (<usize>i << 2));
      if (o >= <u32>F || (i > 0 && o <= load<u32>(oPtr + (<usize>(i - 1) << 2)))) return E_OUTLIER;
      store<u8>(isOut + o, 1);
    }
  }
  if (codec == ROT) {
    if (checkRaw(src, X, tokens, F, flags) != 0) return E_EXC;
    // -ec: the whole stream is read (and checked) before anything is written; into the scratch past its first
    // scratchBytes(F) when the caller gave room for every code, else walked now and read again row by row
    let codes: usize = 0;
    if (ec) {
      if (<i64>scratchCap >= <i64>scratchBytes(F) + n64) codes = scratch + <usize>scratchBytes(F);
      ecReadBegin(src + <usize>codeOff, <i64>total - codeOff, (flags & ROW_STEP) != 0 ? bits + ROW_TABLE : bits);
      if (!ecRead(codes, <i32>n64)) return E_TRUNC; // a code runs past the stream
      if (!ecReadEnd()) return E_HEADER;            // bytes left over, or padding bits not 0
    }
    decodeRot(src, <i32>tokens, bits, G, flags, F, <i32>O, X, oPtr, dst, acc, scratch, codes);
    return <i32>tokens;
  }
  const exc = src + <usize>excOff;
  for (let e: u32 = 0; e < X; e++) {
    const idx = load<u32>(exc + (<usize>e << 3));
    if (<i64>idx >= n64 || (e > 0 && idx <= load<u32>(exc + (<usize>(e - 1) << 3)))) return E_EXC;
  }

  for (let k: u32 = 0; k < W; k++) {
    const r = load<u32>(src + <usize>rawOff + (<usize>k << 2));
    if (r >= tokens || (k > 0 && r <= load<u32>(src + <usize>rawOff + (<usize>(k - 1) << 2)))) return E_EXC;
  }
  let k: u32 = 0;
  const isStatic = codec == INT_STATIC || codec == OUT_STATIC;
  const rowbuf = scratch, tmp = scratch + <usize>(scratchBytes(F) - 16);
  const f16vals = (flags & OUT_F16) != 0;
  let e: u32 = 0;
  for (let t = 0; t < <i32>tokens; t++) {
    const out = dst + (<usize>(t * F) << 2);
    const codes = src + <usize>(codeOff + <i64>t * rowBytes);
    const rowEnd = <u32>((t + 1) * F);
    if (k < W && load<u32>(src + <usize>rawOff + (<usize>k << 2)) == <u32>t) {
      // §10: a raw row replaces the decoded row (its exceptions, if any, are skipped)
      while (e < X && load<u32>(exc + (<usize>e << 3)) < rowEnd) e++;
      const vals = src + <usize>rawVals + (<usize>(k * F) << 1);
      let f = 0;
      for (; f + 4 <= F; f += 4) emit4(out + (<usize>f << 2), i32x4.shl(i32x4.extend_low_i16x8_u(v128.load64_zero(vals + (<usize>f << 1))), 16), acc);
      for (; f < F; f++) emit1(out + (<usize>f << 2), fromBf16(<u32>load<u16>(vals + (<usize>f << 1))), acc);
      k++;
      continue;
    }
    const rowHasExc = e < X && load<u32>(exc + (<usize>e << 3)) < rowEnd;
    const direct = O == 0 && !rowHasExc;
    const target = direct ? out : rowbuf;
    const accTarget = direct ? acc : false;
    if (isStatic) decodeStatic(codes, coded, bits, load<usize>(ctx + CX_SCALE_PTR), load<usize>(ctx + CX_MIN_PTR), target, accTarget, tmp);
    else decodeGroups(codes, coded, bits, G, (flags & SYM) != 0, src + <usize>(scaleOff + <i64>t * groups * 2),
      src + <usize>(minOff + <i64>t * groups * 2), target, accTarget, tmp);
    if (direct) continue;
    // Patch exceptions into the row buffer (coded index j), then emit runs between outliers.
    for (; e < X; e++) {
      const idx = load<u32>(exc + (<usize>e << 3));
      if (idx >= rowEnd) break;
      const f = <i32>idx - t * F;
      if (load<u8>(isOut + f) != 0) continue;
      let j = f;
      if (codec == OUT_STATIC) for (let i: u32 = 0; i < O && <i32>load<u32>(oPtr + (<usize>i << 2)) < f; i++) j--;
      store<u32>(rowbuf + (<usize>j << 2), load<u32>(exc + (<usize>e << 3) + 4));
    }
    const vals = src + <usize>valOff + (<usize>(t * <i32>O) << 1);
    let f = 0, j = 0;
    for (let i: u32 = 0; i < O; i++) {
      const o = <i32>load<u32>(oPtr + (<usize>i << 2));
      emitSpan(out + (<usize>f << 2), rowbuf + (<usize>j << 2), o - f, acc);
      j += o - f;
      const h = <u32>load<u16>(vals + (<usize>i << 1));
      emit1(out + (<usize>o << 2), f16vals ? fromF16Scalar(h) : fromBf16(h), acc);
      f = o + 1;
      if (codec == OUT_GROUP) j++;
    }
    emitSpan(out + (<usize>f << 2), rowbuf + (<usize>j << 2), F - f, acc);
  }
  return <i32>tokens;
}

function emitSpan(out: usize, from: usize, count: i32, acc: bool): void {
  let i = 0;
  for (; i + 4 <= count; i += 4) emit4(out + (<usize>i << 2), v128.load(from + (<usize>i << 2)), acc);
  for (; i < count; i++) emit1(out + (<usize>i << 2), load<f32>(from + (<usize>i << 2)), acc);
}

function decodeStatic(codes: usize, C: i32, bits: i32, scaleP: usize, minP: usize, out: usize, acc: bool, tmp: usize): void {
  let j = 0;
  for (; j + 16 <= C; j += 16) {
    const c = unpack16(codes + <usize>((j >>> 3) * bits), bits, tmp);
    const lo = i16x8.extend_low_i8x16_u(c), hi = i16x8.extend_high_i8x16_u(c);
    const o = <usize>j << 2;
    emit4(out + o, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(lo)), v128.load(scaleP + o)), v128.load(minP + o)), acc);
    emit4(out + o + 16, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_u(lo)), v128.load(scaleP + o, 16)), v128.load(minP + o, 16)), acc);
    emit4(out + o + 32, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(hi)), v128.load(scaleP + o, 32)), v128.load(minP + o, 32)), acc);
    emit4(out + o + 48, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_u(hi)), v128.load(scaleP + o, 48)), v128.load(minP + o, 48)), acc);
  }
  for (; j < C; j++) {
    const o = <usize>j << 2;
    emit1(out + o, <f32>codeAt(codes, j, bits) * load<f32>(scaleP + o) + load<f32>(minP + o), acc);
  }
}

function decodeGroups(codes: usize, C: i32, bits: i32, G: i32, sym: bool, scales: usize, mins: usize, out: usize, acc: bool, tmp: usize): void {
  const half = 1 << (bits - 1);
  for (let g = 0, a0 = 0; a0 < C; g++, a0 += G) {
    const a1 = min(a0 + G, C);
    const s = fromBf16(<u32>load<u16>(scales + (<usize>g << 1)));
    // Symmetric: (q − half)·s, the subtraction in integers; asymmetric: q·s + m (§4).
    const m: f32 = sym ? 0 : fromBf16(<u32>load<u16>(mins + (<usize>g << 1)));
    const vs = f32x4.splat(s), vm = f32x4.splat(m), bias = i32x4.splat(sym ? half : 0);
    let j = a0;
    for (; j + 16 <= a1; j += 16) {
      const c = unpack16(codes + <usize>((j >>> 3) * bits), bits, tmp);
      const lo = i16x8.extend_low_i8x16_u(c), hi = i16x8.extend_high_i8x16_u(c);
      const p = out + (<usize>j << 2);
      const x0 = f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(i32x4.extend_low_i16x8_u(lo), bias)), vs);
      const x1 = f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(i32x4.extend_high_i16x8_u(lo), bias)), vs);
      const x2 = f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(i32x4.extend_low_i16x8_u(hi), bias)), vs);
      const x3 = f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(i32x4.extend_high_i16x8_u(hi), bias)), vs);
      if (sym) { emit4(p, x0, acc); emit4(p + 16, x1, acc); emit4(p + 32, x2, acc); emit4(p + 48, x3, acc); }
      else {
        emit4(p, f32x4.add(x0, vm), acc); emit4(p + 16, f32x4.add(x1, vm), acc);
        emit4(p + 32, f32x4.add(x2, vm), acc); emit4(p + 48, f32x4.add(x3, vm), acc);
      }
    }
    for (; j < a1; j++) {
      const x = <f32>(codeAt(codes, j, bits) - (sym ? half : 0)) * s;
      emit1(out + (<usize>j << 2), sym ? x : x + m, acc);
    }
  }
}

function decodeFloat(codec: i32, src: usize, n: i32, dst: usize, acc: bool): void {
  let i = 0;
  if (codec == F32) {
    for (; i + 4 <= n; i += 4) emit4(dst + (<usize>i << 2), v128.load(src + (<usize>i << 2)), acc);
    for (; i < n; i++) emit1(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)), acc);
    return;
  }
  for (; i + 4 <= n; i += 4) {
    const h = i32x4.extend_low_i16x8_u(v128.load64_zero(src + (<usize>i << 1)));
    emit4(dst + (<usize>i << 2), codec == F16 ? fromF16Lanes(h) : i32x4.shl(h, 16), acc);
  }
  for (; i < n; i++) {
    const h = <u32>load<u16>(src + (<usize>i << 1));
    emit1(dst + (<usize>i << 2), codec == F16 ? fromF16Scalar(h) : fromBf16(h), acc);
  }
}
