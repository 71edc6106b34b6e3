// SIMD codec kernel, encode side: f32 block → bytes per docs/wire-format.md, in linear memory.
// No allocation: TypeScript lays out the context block, buffers and scratch and passes pointers.
import {
  bf16Down, bf16Lanes, bf16Scalar, bf16Up, codeBias, codeLanes, codeScalar, f16Lanes, f16Scalar, fromBf16,
  invScale, narrowCodes, pack16, packScalar, storeNibbles32,
} from './codec_lanes';
import { encodeRot } from './codec_rot';
import {
  coded, codeOff, excEntry, ENTROPY, ROT, RAW_ROWS, ROW_MARGIN, CX_BITS, CX_CODEC, CX_FEATURES, CX_FLAGS, CX_GROUP, CX_INV_PTR, CX_ISOUT_PTR,
  CX_MIN_PTR, CX_OUTLIER_PTR, CX_OUTLIERS, E_CAP, excOff, F16, F32, groups, HEADER, IDX_ON_WIRE, idxOff, INT_GROUP, INT_STATIC,
  isNonFinite, layout, minOff, OUT_F16, OUT_GROUP, OUT_STATIC, rowBytes, scaleOff, scratchBytes, SYM, valOff, writeHeader,
} from './codec_layout';

// ------------------------------------------------------------------------------------------------ encode
/** Encode tokens × F f32 at src into dst; returns bytes written, or a negative error code. */
export function encode(ctx: usize, src: usize, tokens: i32, dst: usize, dstCap: i32, scratch: usize, scratchCap: i32): i32 {
  const codec = load<i32>(ctx + CX_CODEC), bits = load<i32>(ctx + CX_BITS), G = load<i32>(ctx + CX_GROUP);
  const flags = load<i32>(ctx + CX_FLAGS), F = load<i32>(ctx + CX_FEATURES), O = load<i32>(ctx + CX_OUTLIERS);
  const oPtr = load<usize>(ctx + CX_OUTLIER_PTR), isOut = load<usize>(ctx + CX_ISOUT_PTR);
  if (scratchCap < scratchBytes(F)) return E_CAP;
  const n = tokens * F;
  if (codec <= F16) return encodeFloat(codec, src, tokens, F, dst, dstCap);
  layout(codec, bits, flags, G, tokens, F, O);
  if (codec == ROT) {
    // §9: f32 when the block (raw blocks included) would be larger than f32
    if (excOff > <i64>HEADER + (<i64>n << 2)) return encodeFloat(F32, src, tokens, F, dst, dstCap);
    if (excOff > <i64>dstCap) return E_CAP;
    if ((flags & IDX_ON_WIRE) != 0) memory.copy(dst + <usize>idxOff, oPtr, O << 2);
    const total = encodeRot(ctx, src, tokens, bits, G, flags, F, O, dst, dstCap, scratch);
    if (total == 0) return encodeFloat(F32, src, tokens, F, dst, dstCap);
    if (total < 0) return total;
    // -ec blocks have no raw blocks (§12): what follows codeOff is the stream
    writeHeader(dst, codec, bits, flags, G, tokens, F, O, (flags & ENTROPY) != 0 ? 0 : <i32>((<i64>total - excOff) / excEntry), total);
    return total;
  }
  if (excOff > <i64>dstCap) return E_CAP;
  if ((flags & IDX_ON_WIRE) != 0) memory.copy(dst + <usize>idxOff, oPtr, O << 2);
  const work = scratch, tmp = scratch + <usize>(scratchBytes(F) - 16);
  const to16F16 = (flags & OUT_F16) != 0;
  const maxX = n / 64;
  let X = 0, W = 0;
  const rawFlag = (flags & RAW_ROWS) != 0, rawCap = (tokens + 15) >> 4;
  for (let t = 0; t < tokens; t++) {
    const row = src + (<usize>(t * F) << 2);
    for (let i = 0; i < O; i++) {
      const x = load<f32>(row + (<usize>load<u32>(oPtr + (<usize>i << 2)) << 2));
      store<u16>(dst + <usize>valOff + (<usize>(t * O + i) << 1), <u16>(to16F16 ? f16Scalar(x) : bf16Scalar(x)));
    }
    if (rawFlag && W < rawCap && rawRow(ctx, row, F, codec, bits)) {
      // §10: the row goes raw at the end; here it is coded as zeros
      W++;
      memory.fill(work, 0, <usize>coded << 2);
      encodeRow(codec, work, bits, G, flags, dst + <usize>(codeOff + <i64>t * rowBytes), 0, 0, ctx, tmp);
      continue;
    }
    let w = row;
    if (codec == OUT_STATIC) {
      // Compact: copy the runs between outliers.
      let f = 0, j = 0;
      for (let i = 0; i < O; i++) {
        const o = <i32>load<u32>(oPtr + (<usize>i << 2));
        memory.copy(work + (<usize>j << 2), row + (<usize>f << 2), (o - f) << 2);
        j += o - f; f = o + 1;
      }
      memory.copy(work + (<usize>j << 2), row + (<usize>f << 2), (F - f) << 2);
      w = work;
    } else if (codec == OUT_GROUP) {
      memory.copy(work, row, F << 2);
      for (let i = 0; i < O; i++) store<f32>(work + (<usize>load<u32>(oPtr + (<usize>i << 2)) << 2), 0);
      w = work;
    }
    const codes = dst + <usize>(codeOff + <i64>t * rowBytes);
    const scales = dst + <usize>(scaleOff + <i64>t * groups * 2), mins = dst + <usize>(minOff + <i64>t * groups * 2);
    if (encodeRow(codec, w, bits, G, flags, codes, scales, mins, ctx, tmp)) continue;
    // A non-finite value in this row: rebuild it as the reference does, listing exceptions coded as 0 (§6).
    let j = 0;
    for (let f = 0; f < F; f++) {
      if (load<u8>(isOut + f) != 0) { if (codec == OUT_GROUP) store<f32>(work + (<usize>(j++) << 2), 0); continue; }
      const x = load<f32>(row + (<usize>f << 2));
      if (isNonFinite(x)) {
        if (++X > maxX) return encodeFloat(F32, src, tokens, F, dst, dstCap);
        if (excOff + <i64>X * 8 > <i64>dstCap) return E_CAP;
        const e = dst + <usize>excOff + (<usize>(X - 1) << 3);
        store<u32>(e, t * F + f); store<f32>(e + 4, x);
        store<f32>(work + (<usize>(j++) << 2), 0);
      } else store<f32>(work + (<usize>(j++) << 2), x);
    }
    encodeRow(codec, work, bits, G, flags, codes, scales, mins, ctx, tmp);
  }
  let total = excOff + <i64>X * 8;
  if (W > 0) {
    const rawOff = total, vals = rawOff + <i64>W * 4;
    total = vals + <i64>W * <i64>F * 2;
    if (total > <i64>dstCap) return E_CAP;
    for (let t = 0, k = 0; k < W; t++) {
      const row = src + (<usize>(t * F) << 2);
      if (!rawRow(ctx, row, F, codec, bits)) continue;
      store<u32>(dst + <usize>rawOff + (<usize>k << 2), t);
      const out = dst + <usize>vals + (<usize>(k * F) << 1);
      let f = 0;
      for (; f + 8 <= F; f += 8)
        v128.store(out + (<usize>f << 1), i16x8.narrow_i32x4_u(bf16Lanes(v128.load(row + (<usize>f << 2))), bf16Lanes(v128.load(row + (<usize>f << 2), 16))));
      for (; f < F; f++) store<u16>(out + (<usize>f << 1), <u16>bf16Scalar(load<f32>(row + (<usize>f << 2))));
      k++;
    }
  }
  writeHeader(dst, codec, bits, flags, G, tokens, F, O, X, <i32>total);
  store<u16>(dst + 10, <u16>W);
  return <i32>total;
}

/** §10: does this row hold a finite coded value whose code position (x − min)·inv leaves [−m·qmax, (1+m)·qmax]? */
function rawRow(ctx: usize, row: usize, F: i32, codec: i32, bits: i32): bool {
  const isOut = load<usize>(ctx + CX_ISOUT_PTR), minP = load<usize>(ctx + CX_MIN_PTR), invP = load<usize>(ctx + CX_INV_PTR);
  const qmax = <f32>((1 << bits) - 1), lo: f32 = -ROW_MARGIN * qmax, hi: f32 = (<f32>1 + ROW_MARGIN) * qmax;
  let j = 0;
  for (let f = 0; f < F; f++) {
    if (codec == OUT_STATIC && load<u8>(isOut + f) != 0) continue;
    const x = load<f32>(row + (<usize>f << 2));
    const v = (x - load<f32>(minP + (<usize>j << 2))) * load<f32>(invP + (<usize>j << 2));
    j++;
    if (!isNonFinite(x) && (v < lo || v > hi)) return true;
  }
  return false;
}

/** Code one work row; false (row unfinished) if it holds a NaN or ±Inf. */
function encodeRow(codec: i32, w: usize, bits: i32, G: i32, flags: i32, codes: usize, scales: usize, mins: usize, ctx: usize, tmp: usize): bool {
  if (codec == INT_STATIC || codec == OUT_STATIC)
    return encodeStatic(w, coded, bits, codes, load<usize>(ctx + CX_MIN_PTR), load<usize>(ctx + CX_INV_PTR), tmp);
  return encodeGroups(w, coded, bits, G, (flags & SYM) != 0, codes, scales, mins, tmp);
}

function encodeStatic(w: usize, C: i32, bits: i32, codes: usize, minP: usize, invP: usize, tmp: usize): bool {
  const qmax = (1 << bits) - 1, lo = f32x4.splat(0), hi = f32x4.splat(<f32>qmax), bias = codeBias(0);
  let bad = i32x4.splat(0), j = 0;
  for (; j + 16 <= C; j += 16) {
    const o = <usize>j << 2;
    const x0 = v128.load(w + o), x1 = v128.load(w + o, 16), x2 = v128.load(w + o, 32), x3 = v128.load(w + o, 48);
    // x − x is 0, or NaN for NaN/±Inf: OR-ing the bits flags any non-finite value.
    bad = v128.or(bad, v128.or(v128.or(f32x4.sub(x0, x0), f32x4.sub(x1, x1)), v128.or(f32x4.sub(x2, x2), f32x4.sub(x3, x3))));
    const q0 = codeLanes(f32x4.mul(f32x4.sub(x0, v128.load(minP + o)), v128.load(invP + o)), lo, hi, bias);
    const q1 = codeLanes(f32x4.mul(f32x4.sub(x1, v128.load(minP + o, 16)), v128.load(invP + o, 16)), lo, hi, bias);
    const q2 = codeLanes(f32x4.mul(f32x4.sub(x2, v128.load(minP + o, 32)), v128.load(invP + o, 32)), lo, hi, bias);
    const q3 = codeLanes(f32x4.mul(f32x4.sub(x3, v128.load(minP + o, 48)), v128.load(invP + o, 48)), lo, hi, bias);
    pack16(narrowCodes(q0, q1, q2, q3), bits, codes + <usize>((j >>> 3) * bits), tmp);
  }
  if (v128.any_true(bad)) return false;
  for (let k = j; k < C; k++) {
    const o = <usize>k << 2, x = load<f32>(w + o);
    if (isNonFinite(x)) return false;
    store<u8>(tmp + (k - j), <u8>codeScalar((x - load<f32>(minP + o)) * load<f32>(invP + o), 0, qmax));
  }
  finishTail(j, C, bits, codes, tmp);
  return true;
}

/** Pad the last < 16 codes (already in tmp) with zero codes to whole chunks of 8 and pack them. */
function finishTail(j: i32, C: i32, bits: i32, codes: usize, tmp: usize): void {
  if (j == C) return;
  const padded = (C - j + 7) & ~7;
  for (let k = C - j; k < padded; k++) store<u8>(tmp + k, 0);
  packScalar(tmp, padded, bits, codes + <usize>((j >>> 3) * bits));
}

@inline function hmin(v: v128): f32 {
  const m = f32x4.pmin(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  return min(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1));
}
@inline function hmax(v: v128): f32 {
  const m = f32x4.pmax(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  return max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1));
}

function encodeGroups(w: usize, C: i32, bits: i32, G: i32, sym: bool, codes: usize, scales: usize, mins: usize, tmp: usize): bool {
  const qmax = (1 << bits) - 1, half = 1 << (bits - 1), qpos = half - 1;
  for (let g = 0, a0 = 0; a0 < C; g++, a0 += G) {
    const a1 = min(a0 + G, C);
    let m: f32 = 0, inv: f32, loC: i32, hiC: i32;
    // Group statistics; f32x4.min/max propagate NaN and keep ±Inf, so one check finds non-finite values.
    if (sym) {
      let v0 = f32x4.splat(0), v1 = f32x4.splat(0), bad = i32x4.splat(0), j = a0;
      for (; j + 8 <= a1; j += 8) {
        const p = w + (<usize>j << 2);
        const x0 = v128.load(p), x1 = v128.load(p, 16);
        v0 = f32x4.pmax(v0, f32x4.abs(x0)); v1 = f32x4.pmax(v1, f32x4.abs(x1));
        bad = v128.or(bad, v128.or(f32x4.sub(x0, x0), f32x4.sub(x1, x1)));
      }
      let amax = hmax(f32x4.pmax(v0, v1));
      for (; j < a1; j++) { const x = load<f32>(w + (<usize>j << 2)); amax = max(amax, abs(x)); if (isNonFinite(x)) return false; }
      if (v128.any_true(bad) || isNonFinite(amax)) return false;
      const sBits = bf16Up(amax / <f32>qpos);
      store<u16>(scales + (<usize>g << 1), <u16>sBits);
      inv = invScale(fromBf16(sBits)); loC = -qpos; hiC = qpos;
    } else {
      let l0 = f32x4.splat(Infinity), l1 = l0, h0 = f32x4.splat(-Infinity), h1 = h0, bad = i32x4.splat(0), j = a0;
      for (; j + 8 <= a1; j += 8) {
        const p = w + (<usize>j << 2);
        const x0 = v128.load(p), x1 = v128.load(p, 16);
        l0 = f32x4.pmin(l0, x0); l1 = f32x4.pmin(l1, x1); h0 = f32x4.pmax(h0, x0); h1 = f32x4.pmax(h1, x1);
        bad = v128.or(bad, v128.or(f32x4.sub(x0, x0), f32x4.sub(x1, x1)));
      }
      // +0 turns −0 into +0: pmin/pmax order ±0 arbitrarily, the spec counts them as one value (§4).
      let lo = hmin(f32x4.pmin(l0, l1)) + 0, hi = hmax(f32x4.pmax(h0, h1)) + 0;
      for (; j < a1; j++) {
        const x = load<f32>(w + (<usize>j << 2));
        if (isNonFinite(x)) return false;
        lo = min(lo, x) + 0; hi = max(hi, x) + 0;
      }
      if (v128.any_true(bad) || isNonFinite(lo) || isNonFinite(hi)) return false;
      const mBits = bf16Down(lo);
      m = fromBf16(mBits);
      const sBits = bf16Up((hi - m) / <f32>qmax);
      store<u16>(scales + (<usize>g << 1), <u16>sBits);
      store<u16>(mins + (<usize>g << 1), <u16>mBits);
      inv = invScale(fromBf16(sBits)); loC = 0; hiC = qmax;
    }
    // Asymmetric: (x − m)·inv; symmetric has m = 0 and x − 0 = x exactly, so one formula serves both.
    const vm = f32x4.splat(m), vinv = f32x4.splat(inv), vlo = f32x4.splat(<f32>loC), vhi = f32x4.splat(<f32>hiC);
    const bias = codeBias(sym ? half : 0);
    let j = a0;
    if (bits == 4) for (; j + 32 <= a1; j += 32) {
      const p = w + (<usize>j << 2);
      storeNibbles32(codes + <usize>(j >>> 1),
        codeLanes(f32x4.mul(f32x4.sub(v128.load(p), vm), vinv), vlo, vhi, bias),
        codeLanes(f32x4.mul(f32x4.sub(v128.load(p, 16), vm), vinv), vlo, vhi, bias),
        codeLanes(f32x4.mul(f32x4.sub(v128.load(p, 32), vm), vinv), vlo, vhi, bias),
        codeLanes(f32x4.mul(f32x4.sub(v128.load(p, 48), vm), vinv), vlo, vhi, bias),
        codeLanes(f32x4.mul(f32x4.sub(v128.load(p, 64), vm), vinv), vlo, vhi, bias),
        codeLanes(f32x4.mul(f32x4.sub(v128.load(p, 80), vm), vinv), vlo, vhi, bias),
        codeLanes(f32x4.mul(f32x4.sub(v128.load(p, 96), vm), vinv), vlo, vhi, bias),
        codeLanes(f32x4.mul(f32x4.sub(v128.load(p, 112), vm), vinv), vlo, vhi, bias));
    }
    for (; j + 16 <= a1; j += 16) {
      const p = w + (<usize>j << 2);
      const q0 = codeLanes(f32x4.mul(f32x4.sub(v128.load(p), vm), vinv), vlo, vhi, bias);
      const q1 = codeLanes(f32x4.mul(f32x4.sub(v128.load(p, 16), vm), vinv), vlo, vhi, bias);
      const q2 = codeLanes(f32x4.mul(f32x4.sub(v128.load(p, 32), vm), vinv), vlo, vhi, bias);
      const q3 = codeLanes(f32x4.mul(f32x4.sub(v128.load(p, 48), vm), vinv), vlo, vhi, bias);
      pack16(narrowCodes(q0, q1, q2, q3), bits, codes + <usize>((j >>> 3) * bits), tmp);
    }
    for (let k = j; k < a1; k++)
      store<u8>(tmp + (k - j), <u8>(codeScalar((load<f32>(w + (<usize>k << 2)) - m) * inv, loC, hiC) + (sym ? half : 0)));
    finishTail(j, a1, bits, codes, tmp);
  }
  return true;
}

function encodeFloat(codec: i32, src: usize, tokens: i32, F: i32, dst: usize, dstCap: i32): i32 {
  const n = tokens * F, size = codec == F32 ? 4 : 2;
  const total = <i64>HEADER + <i64>n * size;
  if (total > <i64>dstCap) return E_CAP;
  writeHeader(dst, codec, size * 8, 0, 0, tokens, F, 0, 0, <i32>total);
  const out = dst + HEADER;
  if (codec == F32) { memory.copy(out, src, n << 2); return <i32>total; }
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const a = v128.load(src + (<usize>i << 2)), b = v128.load(src + (<usize>i << 2), 16);
    const r = codec == F16 ? i16x8.narrow_i32x4_u(f16Lanes(a), f16Lanes(b)) : i16x8.narrow_i32x4_u(bf16Lanes(a), bf16Lanes(b));
    v128.store(out + (<usize>i << 1), r);
  }
  for (; i < n; i++) {
    const x = load<f32>(src + (<usize>i << 2));
    store<u16>(out + (<usize>i << 1), <u16>(codec == F16 ? f16Scalar(x) : bf16Scalar(x)));
  }
  return <i32>total;
}
