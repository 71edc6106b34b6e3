// SIMD codec kernel, encode side: f32 block → bytes per docs/wire-format.md, in linear memory.
// No allocation: TypeScript lays out the context block, buffers and scratch and passes pointers.
import {
  bf16Down, bf16Lanes, bf16Scalar, bf16Up, codeLanes, codeScalar, f16Lanes, f16Scalar, fromBf16, narrowCodes,
  pack16, packScalar,
} from './codec_lanes';
import {
  coded, codeOff, countNonFinite, CX_BITS, CX_CODEC, CX_FEATURES, CX_FLAGS, CX_GROUP, CX_INV_PTR, CX_ISOUT_PTR,
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
  let X = countNonFinite(src, n);
  if (X > 0) for (let t = 0; t < tokens; t++) for (let i = 0; i < O; i++)
    if (isNonFinite(load<f32>(src + ((<usize>t * F + load<u32>(oPtr + (<usize>i << 2))) << 2)))) X--;
  if (X > n / 64) return encodeFloat(F32, src, tokens, F, dst, dstCap);
  layout(codec, bits, flags, G, tokens, F, O);
  const total = excOff + <i64>X * 8;
  if (total > <i64>dstCap) return E_CAP;
  writeHeader(dst, codec, bits, flags, G, tokens, F, O, X, <i32>total);
  if ((flags & IDX_ON_WIRE) != 0) memory.copy(dst + <usize>idxOff, oPtr, O << 2);
  const work = scratch, tmp = scratch + <usize>(scratchBytes(F) - 16);
  const to16F16 = (flags & OUT_F16) != 0;
  let exc = dst + <usize>excOff;
  for (let t = 0; t < tokens; t++) {
    const row = src + (<usize>(t * F) << 2);
    for (let i = 0; i < O; i++) {
      const x = load<f32>(row + (<usize>load<u32>(oPtr + (<usize>i << 2)) << 2));
      store<u16>(dst + <usize>valOff + (<usize>(t * O + i) << 1), <u16>(to16F16 ? f16Scalar(x) : bf16Scalar(x)));
    }
    let w = row;
    if (X > 0 && countNonFinite(row, F) > 0) {
      // Slow path, as the reference: exceptions are recorded and coded as 0 (§6).
      let j = 0;
      for (let f = 0; f < F; f++) {
        if (load<u8>(isOut + f) != 0) { if (codec == OUT_GROUP) store<f32>(work + (<usize>(j++) << 2), 0); continue; }
        const x = load<f32>(row + (<usize>f << 2));
        if (isNonFinite(x)) {
          store<u32>(exc, t * F + f); store<f32>(exc + 4, x); exc += 8; store<f32>(work + (<usize>(j++) << 2), 0);
        } else store<f32>(work + (<usize>(j++) << 2), x);
      }
      w = work;
    } else if (codec == OUT_STATIC) {
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
    if (codec == INT_STATIC || codec == OUT_STATIC)
      encodeStatic(w, coded, bits, codes, load<usize>(ctx + CX_MIN_PTR), load<usize>(ctx + CX_INV_PTR), tmp);
    else
      encodeGroups(w, coded, bits, G, (flags & SYM) != 0, codes,
        dst + <usize>(scaleOff + <i64>t * groups * 2), dst + <usize>(minOff + <i64>t * groups * 2), tmp);
  }
  return <i32>total;
}

function encodeStatic(w: usize, C: i32, bits: i32, codes: usize, minP: usize, invP: usize, tmp: usize): void {
  const qmax = (1 << bits) - 1, lo = i32x4.splat(0), hi = i32x4.splat(qmax);
  let j = 0;
  for (; j + 16 <= C; j += 16) {
    const o = <usize>j << 2;
    const q0 = codeLanes(f32x4.mul(f32x4.sub(v128.load(w + o), v128.load(minP + o)), v128.load(invP + o)), lo, hi);
    const q1 = codeLanes(f32x4.mul(f32x4.sub(v128.load(w + o, 16), v128.load(minP + o, 16)), v128.load(invP + o, 16)), lo, hi);
    const q2 = codeLanes(f32x4.mul(f32x4.sub(v128.load(w + o, 32), v128.load(minP + o, 32)), v128.load(invP + o, 32)), lo, hi);
    const q3 = codeLanes(f32x4.mul(f32x4.sub(v128.load(w + o, 48), v128.load(minP + o, 48)), v128.load(invP + o, 48)), lo, hi);
    pack16(narrowCodes(q0, q1, q2, q3), bits, codes + <usize>((j >>> 3) * bits), tmp);
  }
  for (let k = j; k < C; k++) {
    const o = <usize>k << 2;
    store<u8>(tmp + (k - j), <u8>codeScalar((load<f32>(w + o) - load<f32>(minP + o)) * load<f32>(invP + o), 0, qmax));
  }
  finishTail(j, C, bits, codes, tmp);
}

/** Pad the last < 16 codes (already in tmp) with zero codes to whole chunks of 8 and pack them. */
function finishTail(j: i32, C: i32, bits: i32, codes: usize, tmp: usize): void {
  if (j == C) return;
  const padded = (C - j + 7) & ~7;
  for (let k = C - j; k < padded; k++) store<u8>(tmp + k, 0);
  packScalar(tmp, padded, bits, codes + <usize>((j >>> 3) * bits));
}

function encodeGroups(w: usize, C: i32, bits: i32, G: i32, sym: bool, codes: usize, scales: usize, mins: usize, tmp: usize): void {
  const qmax = (1 << bits) - 1, half = 1 << (bits - 1), qpos = half - 1;
  for (let g = 0, a0 = 0; a0 < C; g++, a0 += G) {
    const a1 = min(a0 + G, C);
    let m: f32 = 0, inv: f32, loC: i32, hiC: i32;
    if (sym) {
      let vmax = f32x4.splat(0), j = a0;
      for (; j + 4 <= a1; j += 4) vmax = f32x4.max(vmax, f32x4.abs(v128.load(w + (<usize>j << 2))));
      let amax = max(max(f32x4.extract_lane(vmax, 0), f32x4.extract_lane(vmax, 1)), max(f32x4.extract_lane(vmax, 2), f32x4.extract_lane(vmax, 3)));
      for (; j < a1; j++) amax = max(amax, abs(load<f32>(w + (<usize>j << 2))));
      const sBits = bf16Up(amax / <f32>qpos);
      store<u16>(scales + (<usize>g << 1), <u16>sBits);
      inv = <f32>1 / fromBf16(sBits); loC = -qpos; hiC = qpos;
    } else {
      let vlo = f32x4.splat(Infinity), vhi = f32x4.splat(-Infinity), j = a0;
      for (; j + 4 <= a1; j += 4) {
        const v = v128.load(w + (<usize>j << 2));
        vlo = f32x4.min(vlo, v); vhi = f32x4.max(vhi, v);
      }
      let lo = min(min(f32x4.extract_lane(vlo, 0), f32x4.extract_lane(vlo, 1)), min(f32x4.extract_lane(vlo, 2), f32x4.extract_lane(vlo, 3)));
      let hi = max(max(f32x4.extract_lane(vhi, 0), f32x4.extract_lane(vhi, 1)), max(f32x4.extract_lane(vhi, 2), f32x4.extract_lane(vhi, 3)));
      for (; j < a1; j++) { const x = load<f32>(w + (<usize>j << 2)); lo = min(lo, x); hi = max(hi, x); }
      const mBits = bf16Down(lo);
      m = fromBf16(mBits);
      const sBits = bf16Up((hi - m) / <f32>qmax);
      store<u16>(scales + (<usize>g << 1), <u16>sBits);
      store<u16>(mins + (<usize>g << 1), <u16>mBits);
      inv = <f32>1 / fromBf16(sBits); loC = 0; hiC = qmax;
    }
    const vm = f32x4.splat(m), vinv = f32x4.splat(inv), vlo = i32x4.splat(loC), vhi = i32x4.splat(hiC);
    const bias = i32x4.splat(sym ? half : 0);
    let j = a0;
    for (; j + 16 <= a1; j += 16) {
      const p = w + (<usize>j << 2);
      // Asymmetric: (x − m)·inv; symmetric has m = 0 and x − 0 = x exactly, so one formula serves both.
      const q0 = i32x4.add(codeLanes(f32x4.mul(f32x4.sub(v128.load(p), vm), vinv), vlo, vhi), bias);
      const q1 = i32x4.add(codeLanes(f32x4.mul(f32x4.sub(v128.load(p, 16), vm), vinv), vlo, vhi), bias);
      const q2 = i32x4.add(codeLanes(f32x4.mul(f32x4.sub(v128.load(p, 32), vm), vinv), vlo, vhi), bias);
      const q3 = i32x4.add(codeLanes(f32x4.mul(f32x4.sub(v128.load(p, 48), vm), vinv), vlo, vhi), bias);
      pack16(narrowCodes(q0, q1, q2, q3), bits, codes + <usize>((j >>> 3) * bits), tmp);
    }
    for (let k = j; k < a1; k++)
      store<u8>(tmp + (k - j), <u8>(codeScalar((load<f32>(w + (<usize>k << 2)) - m) * inv, loC, hiC) + (sym ? half : 0)));
    finishTail(j, a1, bits, codes, tmp);
  }
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
