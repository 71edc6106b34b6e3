// Lane-level helpers of the SIMD codec: 16-code quantize / pack / unpack and 16-bit float conversions.
// Every helper has a scalar twin here, used for tails, that computes exactly what the lanes compute.
// Numerics: docs/wire-format.md §2 (16-bit floats), §4 (codes), §5 (packing).

// ---- 16-bit floats (§2) ----
@inline export function bf16Lanes(b: v128): v128 {
  const isNan = i32x4.gt_u(v128.and(b, i32x4.splat(0x7fffffff)), i32x4.splat(0x7f800000));
  const hi = i32x4.shr_u(b, 16);
  const rounded = i32x4.shr_u(i32x4.add(i32x4.add(b, i32x4.splat(0x7fff)), v128.and(hi, i32x4.splat(1))), 16);
  return v128.bitselect(v128.or(hi, i32x4.splat(0x40)), rounded, isNan);
}
export function bf16Scalar(x: f32): u32 {
  const b = reinterpret<u32>(x);
  if ((b & 0x7fffffff) > 0x7f800000) return (b >>> 16) | 0x40;
  return (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
}
export function bf16Up(x: f32): u32 {
  const b = reinterpret<u32>(x);
  if ((b & 0xffff) == 0 || (b & 0x80000000) != 0) return b >>> 16;
  return ((b >>> 16) + 1) & 0xffff;
}
export function bf16Down(x: f32): u32 {
  const b = reinterpret<u32>(x);
  if ((b & 0xffff) == 0 || (b & 0x80000000) == 0) return b >>> 16;
  return ((b >>> 16) + 1) & 0xffff;
}
@inline export function fromBf16(h: u32): f32 { return reinterpret<f32>(h << 16); }

@inline export function f16Lanes(b: v128): v128 {
  const sign = v128.and(i32x4.shr_u(b, 16), i32x4.splat(0x8000));
  const a = v128.and(b, i32x4.splat(0x7fffffff));
  const isNan = i32x4.gt_u(a, i32x4.splat(0x7f800000));
  const isInf = i32x4.ge_u(a, i32x4.splat(0x477ff000));
  const isSub = i32x4.lt_u(a, i32x4.splat(0x38800000));
  const odd = v128.and(i32x4.shr_u(a, 13), i32x4.splat(1));
  const normal = i32x4.shr_u(i32x4.add(i32x4.add(i32x4.sub(a, i32x4.splat(0x38000000)), i32x4.splat(0xfff)), odd), 13);
  const sub = i32x4.sub(f32x4.add(a, f32x4.splat(0.5)), i32x4.splat(0x3f000000));
  let r = v128.bitselect(sub, normal, isSub);
  r = v128.bitselect(i32x4.splat(0x7c00), r, isInf);
  r = v128.bitselect(i32x4.splat(0x7e00), r, isNan);
  return v128.or(r, sign);
}
export function f16Scalar(x: f32): u32 {
  const b = reinterpret<u32>(x);
  const sign = (b >>> 16) & 0x8000;
  const a = b & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7e00;
  if (a >= 0x477ff000) return sign | 0x7c00;
  if (a < 0x38800000) return sign | ((reinterpret<u32>(reinterpret<f32>(a) + <f32>0.5) - 0x3f000000) & 0xffff);
  return sign | (((a - 0x38000000 + 0xfff + ((a >>> 13) & 1)) >>> 13) & 0xffff);
}
@inline export function fromF16Lanes(h: v128): v128 {
  const sign = i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16);
  const em = v128.and(h, i32x4.splat(0x7fff));
  const special = v128.or(i32x4.splat(0x7f800000), i32x4.shl(v128.and(em, i32x4.splat(0x3ff)), 13));
  const normal = i32x4.add(i32x4.shl(em, 13), i32x4.splat(0x38000000));
  const sub = f32x4.mul(f32x4.convert_i32x4_s(em), f32x4.splat(5.960464477539063e-8));
  let r = v128.bitselect(normal, sub, i32x4.ge_u(em, i32x4.splat(0x400)));
  r = v128.bitselect(special, r, i32x4.ge_u(em, i32x4.splat(0x7c00)));
  return v128.or(r, sign);
}
@inline export function fromF16Scalar(h: u32): f32 {
  const sign = (h & 0x8000) << 16;
  const em = h & 0x7fff;
  if (em >= 0x7c00) return reinterpret<f32>(sign | 0x7f800000 | ((em & 0x3ff) << 13));
  if (em >= 0x400) return reinterpret<f32>(sign | ((em << 13) + 0x38000000));
  return reinterpret<f32>(reinterpret<u32>(<f32>em * <f32>5.960464477539063e-8) | sign);
}

// ---- codes (§4) ----
/** Nearest-even clamped to [lo, hi]; NaN clamps to lo (§4). */
export function codeScalar(v: f32, lo: i32, hi: i32): i32 {
  if (v != v) return lo;
  const r = nearest<f32>(v);
  if (r <= <f32>lo) return lo;
  if (r >= <f32>hi) return hi;
  return <i32>r;
}
/**
 * Lanes of codeScalar plus `bias`: clamp in floats (pmax maps NaN to lo), then round half to even exactly by
 * adding 1.5·2^23, which leaves the integer in the low mantissa bits. lo/hi are f32 splats, bias an i32 splat.
 */
@inline export function codeLanes(v: v128, lo: v128, hi: v128, bias: v128): v128 {
  const t = f32x4.pmin(hi, f32x4.pmax(lo, v));
  return i32x4.sub(f32x4.add(t, f32x4.splat(12582912.0)), bias);
}
/** The `bias` splat for codeLanes: removes the 1.5·2^23 and adds `plus` to every code. */
@inline export function codeBias(plus: i32): v128 { return i32x4.splat(0x4b400000 - plus); }
/** 32 codes in 0…15 as eight i32x4 → 16 bytes of nibbles (§5), one store. */
@inline export function storeNibbles32(dst: usize, q0: v128, q1: v128, q2: v128, q3: v128, q4: v128, q5: v128, q6: v128, q7: v128): void {
  const a = narrowCodes(q0, q1, q2, q3), b = narrowCodes(q4, q5, q6, q7);
  const m = i16x8.splat(0xff);
  const wa = v128.and(v128.or(a, i16x8.shr_u(a, 4)), m), wb = v128.and(v128.or(b, i16x8.shr_u(b, 4)), m);
  v128.store(dst, i8x16.narrow_i16x8_u(wa, wb));
}
/** (q − c) · s of four codes in i32 lanes: codec 7's dequantization, one expression for every decoder path. */
@inline export function dequant4(q: v128, vc: v128, vs: v128): v128 { return f32x4.mul(f32x4.sub(f32x4.convert_i32x4_s(q), vc), vs); }
@inline export function invScale(s: f32): f32 { return s > 0 ? <f32>1 / s : 0; }
/** Four i32x4 vectors of codes in 0…255 → one i8x16, in order. */
@inline export function narrowCodes(q0: v128, q1: v128, q2: v128, q3: v128): v128 {
  return i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(q0, q1), i16x8.narrow_i32x4_s(q2, q3));
}

// ---- packing (§5): 16 codes ↔ 2·bits bytes ----
@inline export function pack16(c: v128, bits: i32, dst: usize, tmp: usize): void {
  if (bits == 4) {
    const w = v128.and(v128.or(c, i16x8.shr_u(c, 4)), i16x8.splat(0xff));
    v128.store64_lane(dst, i8x16.narrow_i16x8_u(w, w), 0);
  } else if (bits == 8) {
    v128.store(dst, c);
  } else if (bits == 2) {
    const n = v128.and(v128.or(c, i16x8.shr_u(c, 6)), i16x8.splat(0x0f));
    const w = v128.and(v128.or(n, i32x4.shr_u(n, 12)), i32x4.splat(0xff));
    const p = i16x8.narrow_i32x4_s(w, w);
    v128.store32_lane(dst, i8x16.narrow_i16x8_u(p, p), 0);
  } else {
    v128.store(tmp, c);
    packScalar(tmp, 16, bits, dst);
  }
}
/** Pack `count` (a multiple of 8) byte codes at src into chunks of 8 codes = `bits` bytes each. */
export function packScalar(src: usize, count: i32, bits: i32, dst: usize): void {
  for (let k = 0; k < count; k += 8) {
    let acc: u64 = 0;
    for (let i = 0; i < 8; i++) acc |= (<u64>load<u8>(src + k + i)) << (<u64>(i * bits));
    for (let i = 0; i < bits; i++) store<u8>(dst + i, <u8>(acc >> (<u64>(8 * i))));
    dst += bits;
  }
}
export function unpack16(src: usize, bits: i32, tmp: usize): v128 {
  if (bits == 4) {
    const b = v128.load64_zero(src);
    const lo = v128.and(b, i8x16.splat(0x0f));
    const hi = i8x16.shr_u(b, 4);
    return i8x16.shuffle(lo, hi, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  }
  if (bits == 8) return v128.load(src);
  if (bits == 2) {
    const b = v128.load32_zero(src);
    const m = i8x16.splat(3);
    const a0 = v128.and(b, m), a1 = v128.and(i8x16.shr_u(b, 2), m);
    const a2 = v128.and(i8x16.shr_u(b, 4), m), a3 = i8x16.shr_u(b, 6);
    const x = i8x16.shuffle(a0, a1, 0, 16, 1, 17, 2, 18, 3, 19, 0, 0, 0, 0, 0, 0, 0, 0);
    const y = i8x16.shuffle(a2, a3, 0, 16, 1, 17, 2, 18, 3, 19, 0, 0, 0, 0, 0, 0, 0, 0);
    return i8x16.shuffle(x, y, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
  }
  for (let i = 0; i < 16; i++) store<u8>(tmp + i, <u8>codeAt(src, i, bits));
  return v128.load(tmp);
}
/** Code j of an LSB-first stream; reads only bytes that hold its bits. */
@inline export function codeAt(stream: usize, j: i32, bits: i32): i32 {
  const bit = j * bits, at = stream + (bit >>> 3), sh = bit & 7;
  let v = <i32>load<u8>(at) >>> sh;
  if (sh + bits > 8) v |= (<i32>load<u8>(at + 1)) << (8 - sh);
  return v & ((1 << bits) - 1);
}
