// GEMV on quantized weights kept in their GGUF block formats (decode is memory-bound: 4–5× fewer bytes than f32).
// As llama.cpp does, the activation vector is quantized once per GEMV to int8 blocks of 32 (scale absmax/127),
// so each weight block costs integer multiply-adds: i16x8.extmul of i8 lanes, pairwise-added into i32 lanes.
//   Q8_0 block (34 B): f16 d, 32 × i8          w = d · q
//   Q4_1 block (20 B): f16 d, f16 m, 16 B      w = d · q + m, q ∈ 0…15; byte j holds element j (low) and j+16 (high)
import { fromF16Scalar } from './codec_lanes';

/** x[K] → xq[K] i8, dx[K/32] (block scale), sx[K/32] (block sum of x, for Q4_1's m term). K % 32 == 0. */
export function quantizeX(x: usize, K: i32, xq: usize, dx: usize, sx: usize): void {
  for (let b = 0; b < K >> 5; b++) {
    const p = x + (<usize>(b << 5) << 2);
    let amax: f32 = 0, sum: f32 = 0;
    for (let j = 0; j < 32; j++) { const v = load<f32>(p + (<usize>j << 2)); amax = max(amax, abs(v)); sum += v; }
    const d = amax / <f32>127, inv = d > 0 ? <f32>1 / d : <f32>0;
    for (let j = 0; j < 32; j++) store<i8>(xq + (b << 5) + j, <i8>(<i32>nearest<f32>(load<f32>(p + (<usize>j << 2)) * inv)));
    store<f32>(dx + (<usize>b << 2), d);
    store<f32>(sx + (<usize>b << 2), sum);
  }
}

@inline function dot32(w0: v128, w1: v128, x: usize): v128 {
  const x0 = v128.load(x), x1 = v128.load(x, 16);
  const a = i32x4.extadd_pairwise_i16x8_s(i16x8.extmul_low_i8x16_s(w0, x0));
  const b = i32x4.extadd_pairwise_i16x8_s(i16x8.extmul_high_i8x16_s(w0, x0));
  const c = i32x4.extadd_pairwise_i16x8_s(i16x8.extmul_low_i8x16_s(w1, x1));
  const e = i32x4.extadd_pairwise_i16x8_s(i16x8.extmul_high_i8x16_s(w1, x1));
  return i32x4.add(i32x4.add(a, b), i32x4.add(c, e));
}
/** Σ of 32 products of unsigned 4-bit weights (lo: elements 0–15, hi: 16–31) with i8 activations, as i32 lanes.
 *  With relaxed SIMD one dot op per 16 bytes (0…15 is a valid i7 operand; the pair sums stay far from i16
 *  saturation, so the result is exact and equal to the plain path's). */
@inline function dot32u4(lo: v128, hi: v128, x: usize): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(x, 16), hi, i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(x), lo, i32x4.splat(0)));
  }
  return dot32(lo, hi, x);
}
@inline function hsum(v: v128): f32 {
  const s = f32x4.add(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1);
}

/** y[N] = W[N × K] · x with Q8_0 rows; xq/dx from quantizeX. */
export function gemvQ8_0(xq: usize, dx: usize, K: i32, w: usize, N: i32, y: usize): void {
  const blocks = K >> 5, rowBytes = <usize>blocks * 34;
  for (let n = 0; n < N; n++) {
    const row = w + <usize>n * rowBytes;
    let acc = f32x4.splat(0);
    for (let b = 0; b < blocks; b++) {
      const blk = row + <usize>b * 34;
      const s = dot32(v128.load(blk, 2), v128.load(blk, 18), xq + (b << 5));
      const scale = fromF16Scalar(<u32>load<u16>(blk)) * load<f32>(dx + (<usize>b << 2));
      acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(s), f32x4.splat(scale)));
    }
    store<f32>(y + (<usize>n << 2), hsum(acc));
  }
}

/** y[N] = W[N × K] · x with Q4_1 rows; xq/dx/sx from quantizeX. Two rows at a time share the activation loads. */
export function gemvQ4_1(xq: usize, dx: usize, sx: usize, K: i32, w: usize, N: i32, y: usize): void {
  const blocks = K >> 5, rowBytes = <usize>blocks * 20, mask = i8x16.splat(0x0f);
  let n = 0;
  for (; n + 2 <= N; n += 2) {
    const r0 = w + <usize>n * rowBytes, r1 = r0 + rowBytes;
    let acc0 = f32x4.splat(0), acc1 = acc0, m0: f32 = 0, m1: f32 = 0;
    for (let b = 0; b < blocks; b++) {
      const b0 = r0 + <usize>b * 20, b1 = r1 + <usize>b * 20, xb = xq + (b << 5);
      const q0 = v128.load(b0, 4), q1 = v128.load(b1, 4);
      const s0 = dot32u4(v128.and(q0, mask), i8x16.shr_u(q0, 4), xb), s1 = dot32u4(v128.and(q1, mask), i8x16.shr_u(q1, 4), xb);
      const dxb = load<f32>(dx + (<usize>b << 2)), sxb = load<f32>(sx + (<usize>b << 2));
      acc0 = f32x4.add(acc0, f32x4.mul(f32x4.convert_i32x4_s(s0), f32x4.splat(fromF16Scalar(<u32>load<u16>(b0)) * dxb)));
      acc1 = f32x4.add(acc1, f32x4.mul(f32x4.convert_i32x4_s(s1), f32x4.splat(fromF16Scalar(<u32>load<u16>(b1)) * dxb)));
      m0 += fromF16Scalar(<u32>load<u16>(b0, 2)) * sxb;
      m1 += fromF16Scalar(<u32>load<u16>(b1, 2)) * sxb;
    }
    store<f32>(y + (<usize>n << 2), hsum(acc0) + m0);
    store<f32>(y + (<usize>(n + 1) << 2), hsum(acc1) + m1);
  }
  for (; n < N; n++) {
    const row = w + <usize>n * rowBytes;
    let acc = f32x4.splat(0), mterm: f32 = 0;
    for (let b = 0; b < blocks; b++) {
      const blk = row + <usize>b * 20;
      const q = v128.load(blk, 4);
      const s = dot32u4(v128.and(q, mask), i8x16.shr_u(q, 4), xq + (b << 5));
      acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(s), f32x4.splat(fromF16Scalar(<u32>load<u16>(blk)) * load<f32>(dx + (<usize>b << 2)))));
      mterm += fromF16Scalar(<u32>load<u16>(blk, 2)) * load<f32>(sx + (<usize>b << 2));
    }
    store<f32>(y + (<usize>n << 2), hsum(acc) + mterm);
  }
}
