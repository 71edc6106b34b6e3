// Integer dot helpers shared by the quantized GEMVs (matmul_q.ts: fmt 4/8/6, matmul_qk.ts: fmt 5/7).
// Activation layout (quantizeX): per 32-block, i16 slot16 order x[0,2,…,14] x[1,3,…,15] x[16,…,30] x[17,…,31].

/** Slot of element j (0…31) in a block of the i16 activation copy: x[0,2,…,14] x[1,3,…,15] x[16,18,…,30] x[17,…,31]. */
@inline export function slot16(j: i32): i32 { return (j & 16) + ((j & 1) << 3) + ((j & 15) >> 1); }

/** Σ of 32 products of Q8_0 codes (w0: elements 0–15, w1: 16–31) with the block's i16 activations, as i32 lanes. */
@inline export function dotQ8(w0: v128, w1: v128, x16: usize): v128 {
  const e0 = i16x8.shr_s(i16x8.shl(w0, 8), 8), o0 = i16x8.shr_s(w0, 8);
  const e1 = i16x8.shr_s(i16x8.shl(w1, 8), 8), o1 = i16x8.shr_s(w1, 8);
  return i32x4.add(i32x4.add(i32x4.dot_i16x8_s(e0, v128.load(x16)), i32x4.dot_i16x8_s(o0, v128.load(x16, 16))),
                   i32x4.add(i32x4.dot_i16x8_s(e1, v128.load(x16, 32)), i32x4.dot_i16x8_s(o1, v128.load(x16, 48))));
}
/** Σ of 32 products of a Q4_1 block's 16 code bytes with its activations (i8 codes at x8, i16 copy at x16).
 *  With relaxed SIMD one dot op per 16 weights (0…15 is a valid i7 operand; exact, equal to the plain path). */
@inline export function dotQ4(q: v128, x8: usize, x16: usize): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    const mask = i8x16.splat(0x0f);
    return i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(x8, 16), i8x16.shr_u(q, 4),
      i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(x8), v128.and(q, mask), i32x4.splat(0)));
  }
  const m = i16x8.splat(0x000f);
  const loE = v128.and(q, m), loO = v128.and(i16x8.shr_u(q, 8), m), hiE = v128.and(i16x8.shr_u(q, 4), m), hiO = i16x8.shr_u(q, 12);
  return i32x4.add(i32x4.add(i32x4.dot_i16x8_s(loE, v128.load(x16)), i32x4.dot_i16x8_s(loO, v128.load(x16, 16))),
                   i32x4.add(i32x4.dot_i16x8_s(hiE, v128.load(x16, 32)), i32x4.dot_i16x8_s(hiO, v128.load(x16, 48))));
}
@inline export function hsum(v: v128): f32 {
  const s = f32x4.add(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1);
}

/** Four i32x4 partial sums → one i32x4 of their four totals (6 ops instead of 4 horizontal sums). */
@inline export function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = i32x4.add(i32x4.shuffle(a, b, 0, 1, 4, 5), i32x4.shuffle(a, b, 2, 3, 6, 7));
  const cd = i32x4.add(i32x4.shuffle(c, d, 0, 1, 4, 5), i32x4.shuffle(c, d, 2, 3, 6, 7));
  return i32x4.add(i32x4.shuffle(ab, cd, 0, 2, 4, 6), i32x4.shuffle(ab, cd, 1, 3, 5, 7));
}

@inline export function hsumI(v: v128): i32 {
  const s = i32x4.add(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  return i32x4.extract_lane(s, 0) + i32x4.extract_lane(s, 1);
}

/** Σ over 16 i8 codes (elements 16h … 16h + 15 of a block) × their i16 activations at x16 (2 loads), as i32 lanes. */
@inline export function dotHalf(w: v128, x16: usize): v128 {
  const e = i16x8.shr_s(i16x8.shl(w, 8), 8), o = i16x8.shr_s(w, 8);
  return i32x4.add(i32x4.dot_i16x8_s(e, v128.load(x16)), i32x4.dot_i16x8_s(o, v128.load(x16, 16)));
}

