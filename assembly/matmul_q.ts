// GEMV on quantized weights (decode is memory-bound: 4–6× fewer bytes than f32), GGUF's Q8_0 and Q4_1 codes.
// As llama.cpp does, the activation vector is quantized once per GEMV to int8 blocks of 32 (scale absmax/127),
// so each weight block costs integer multiply-adds.
//   Q8_0: 32 × i8 codes, scale d            w = d · q
//   Q4_1: 16 code bytes, scale d, min m     w = d · q + m, q ∈ 0…15; byte j holds element j (low) and j+16 (high)
// Plain SIMD has no 8-bit dot product, but i32x4.dot_i16x8_s is one x86 instruction (pmaddwd): the weight bytes
// are split into even and odd i16 lanes with 16-bit shifts and masks (native), and the activations are stored
// once per GEMV as i16, de-interleaved to match. The relaxed build's Q4_1 uses the i8 × i7 dot on the i8 codes.

/**
 * x[K] → xq[3K bytes]: K i8 codes, then the same codes as K i16 in slot16 order; dx[K/32] (block scale),
 * sx[K/32] (block sum of x, for Q4_1's m term). K % 32 == 0.
 */
import { slot16, dotQ8, dotQ4, hsum, hsum4, hsumI, dotHalf } from './qdot';
import { gemvQ5, gemvQ7 } from './matmul_qk';

export function quantizeX(x: usize, K: i32, xq: usize, dx: usize, sx: usize): void {
  const x16 = xq + <usize>K;
  for (let b = 0; b < K >> 5; b++) {
    const p = x + (<usize>(b << 5) << 2);
    let amax: f32 = 0, sum: f32 = 0;
    for (let j = 0; j < 32; j++) { const v = load<f32>(p + (<usize>j << 2)); amax = max(amax, abs(v)); sum += v; }
    const d = amax / <f32>127, inv = d > 0 ? <f32>1 / d : <f32>0;
    for (let j = 0; j < 32; j++) {
      const q = <i32>nearest<f32>(load<f32>(p + (<usize>j << 2)) * inv);
      store<i8>(xq + (b << 5) + j, <i8>q);
      store<i16>(x16 + (<usize>((b << 5) + slot16(j)) << 1), <i16>q);
    }
    store<f32>(dx + (<usize>b << 2), d);
    store<f32>(sx + (<usize>b << 2), sum);
  }
}

// Weights come in bindings/tp/repack.ts's layout, per row of B blocks: the code bytes of all blocks, then their f32
// scales (d; for Q4_1 then its mins m). Both GEMVs walk four blocks per step: the four integer block sums fold into
// one i32x4, which meets the four blocks' scales in one vector multiply; leftover blocks (B % 4) go one at a time.

/** Σ (d·q) · x over one Q8_0 row of B blocks; x16: the i16 activations. */
@inline function rowQ8_0(row: usize, x16: usize, dx: usize, B: i32): f32 {
  const ds = row + (<usize>B << 5);
  let acc = f32x4.splat(0), b = 0;
  for (; b + 4 <= B; b += 4) {
    const p = row + (<usize>b << 5), xb = x16 + (<usize>b << 6);
    const s = hsum4(dotQ8(v128.load(p), v128.load(p, 16), xb), dotQ8(v128.load(p, 32), v128.load(p, 48), xb + 64),
                    dotQ8(v128.load(p, 64), v128.load(p, 80), xb + 128), dotQ8(v128.load(p, 96), v128.load(p, 112), xb + 192));
    const o = <usize>b << 2;
    acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(s), f32x4.mul(v128.load(ds + o), v128.load(dx + o))));
  }
  let tail: f32 = 0;
  for (; b < B; b++) {
    const p = row + (<usize>b << 5), o = <usize>b << 2;
    tail += <f32>hsumI(dotQ8(v128.load(p), v128.load(p, 16), x16 + (<usize>b << 6))) * (load<f32>(ds + o) * load<f32>(dx + o));
  }
  return hsum(acc) + tail;
}

/** Σ (d·q + m) · x over one Q4_1 row of B blocks: the m term is m · Σx per block (sx from quantizeX). */
@inline function rowQ4_1(row: usize, xq: usize, x16: usize, dx: usize, sx: usize, B: i32): f32 {
  const ds = row + (<usize>B << 4), ms = ds + (<usize>B << 2);
  let acc = f32x4.splat(0), b = 0;
  for (; b + 4 <= B; b += 4) {
    const s = fourQ4(row + (<usize>b << 4), xq + (b << 5), x16 + (<usize>b << 6));
    const o = <usize>b << 2;
    const d = f32x4.mul(v128.load(ds + o), v128.load(dx + o)), m = f32x4.mul(v128.load(ms + o), v128.load(sx + o));
    acc = f32x4.add(acc, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(s), d), m));
  }
  let tail: f32 = 0;
  for (; b < B; b++) {
    const o = <usize>b << 2;
    const s = dotQ4(v128.load(row + (<usize>b << 4)), xq + (b << 5), x16 + (<usize>b << 6));
    tail += <f32>hsumI(s) * (load<f32>(ds + o) * load<f32>(dx + o)) + load<f32>(ms + o) * load<f32>(sx + o);
  }
  return hsum(acc) + tail;
}

/** y[N] = W[N × K] · x with packed Q8_0 rows (36 B per block); xq/dx from quantizeX. */
export function gemvQ8_0(xq: usize, dx: usize, K: i32, w: usize, N: i32, y: usize): void {
  const blocks = K >> 5, rowBytes = <usize>blocks * 36, x16 = xq + <usize>K;
  for (let n = 0; n < N; n++) store<f32>(y + (<usize>n << 2), rowQ8_0(w + <usize>n * rowBytes, x16, dx, blocks));
}

/** Four Q4_1 blocks of one row against the activations: the i32x4 of their four integer sums. */
@inline function fourQ4(p: usize, x8: usize, xb: usize): v128 {
  return hsum4(dotQ4(v128.load(p), x8, xb), dotQ4(v128.load(p, 16), x8 + 32, xb + 64),
               dotQ4(v128.load(p, 32), x8 + 64, xb + 128), dotQ4(v128.load(p, 48), x8 + 96, xb + 192));
}

/** y[N] = W[N × K] · x with packed Q4_1 rows (24 B per block); xq/dx/sx from quantizeX. (Two rows per step, sharing
 *  the activation loads, measured slower on SmolLM2's shapes on the 16-core machine and was dropped.) */
export function gemvQ4_1(xq: usize, dx: usize, sx: usize, K: i32, w: usize, N: i32, y: usize): void {
  const B = K >> 5, rowBytes = <usize>B * 24, x16 = xq + <usize>K;
  for (let n = 0; n < N; n++) store<f32>(y + (<usize>n << 2), rowQ4_1(w + <usize>n * rowBytes, xq, x16, dx, sx, B));
}

// ---- gemvQ: the packed formats of dequant.ts / bindings/tp/repack.ts (fmt 4, 8, 6) ----
// fmt 4 is gemvQ4_1's layout. fmt 8 is the Q8_0 GEMV on [codes][d][m] plus the m term (m · Σx per block, as Q4_1;
// m = −0 for symmetric sources adds nothing). fmt 6 dots each 16-value half separately: in the slot16 layout the
// first two 16-byte loads of a block's activations are elements 0–15 and the last two 16–31, so half h of the
// codes meets exactly loads 2h, 2h + 1. All integer block sums are exact and the float steps are plain mul/add in
// both builds, so the simd and relaxed builds give the same bits (fmt 4's relaxed i8 × i7 dot is exact too).

/** Two fmt 4 rows (r0 at row, r1 at row + rb) at once: the same per-row arithmetic as rowQ4_1 (so the same bits),
 *  with the activation loads shared and two independent streams of weights in flight. */
@inline function rowsQ4x2(row: usize, rb: usize, xq: usize, x16: usize, dx: usize, sx: usize, B: i32, y: usize): void {
  const r1 = row + rb, ds = <usize>B << 4, ms = ds + (<usize>B << 2);
  let a0 = f32x4.splat(0), a1 = a0, b = 0;
  for (; b + 4 <= B; b += 4) {
    const c = <usize>b << 4, x8 = xq + (b << 5), xb = x16 + (<usize>b << 6), o = <usize>b << 2;
    const s0 = fourQ4(row + c, x8, xb), s1 = fourQ4(r1 + c, x8, xb);
    const dxv = v128.load(dx + o), sxv = v128.load(sx + o);
    a0 = f32x4.add(a0, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(s0), f32x4.mul(v128.load(row + ds + o), dxv)), f32x4.mul(v128.load(row + ms + o), sxv)));
    a1 = f32x4.add(a1, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(s1), f32x4.mul(v128.load(r1 + ds + o), dxv)), f32x4.mul(v128.load(r1 + ms + o), sxv)));
  }
  let t0: f32 = 0, t1: f32 = 0;
  for (; b < B; b++) {
    const o = <usize>b << 2, c = <usize>b << 4, x8 = xq + (b << 5), xb = x16 + (<usize>b << 6), d = load<f32>(dx + o), m = load<f32>(sx + o);
    t0 += <f32>hsumI(dotQ4(v128.load(row + c), x8, xb)) * (load<f32>(row + ds + o) * d) + load<f32>(row + ms + o) * m;
    t1 += <f32>hsumI(dotQ4(v128.load(r1 + c), x8, xb)) * (load<f32>(r1 + ds + o) * d) + load<f32>(r1 + ms + o) * m;
  }
  store<f32>(y, hsum(a0) + t0); store<f32>(y, hsum(a1) + t1, 4);
}

/** Σ (d·q + m) · x over one fmt 8 row of B blocks. */
@inline function rowQ8m(row: usize, x16: usize, dx: usize, sx: usize, B: i32): f32 {
  const ds = row + (<usize>B << 5), ms = ds + (<usize>B << 2);
  let acc = f32x4.splat(0), b = 0;
  for (; b + 4 <= B; b += 4) {
    const p = row + (<usize>b << 5), xb = x16 + (<usize>b << 6);
    const s = hsum4(dotQ8(v128.load(p), v128.load(p, 16), xb), dotQ8(v128.load(p, 32), v128.load(p, 48), xb + 64),
                    dotQ8(v128.load(p, 64), v128.load(p, 80), xb + 128), dotQ8(v128.load(p, 96), v128.load(p, 112), xb + 192));
    const o = <usize>b << 2;
    const d = f32x4.mul(v128.load(ds + o), v128.load(dx + o)), m = f32x4.mul(v128.load(ms + o), v128.load(sx + o));
    acc = f32x4.add(acc, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(s), d), m));
  }
  let tail: f32 = 0;
  for (; b < B; b++) {
    const p = row + (<usize>b << 5), o = <usize>b << 2;
    const s = hsumI(dotQ8(v128.load(p), v128.load(p, 16), x16 + (<usize>b << 6)));
    tail += <f32>s * (load<f32>(ds + o) * load<f32>(dx + o)) + load<f32>(ms + o) * load<f32>(sx + o);
  }
  return hsum(acc) + tail;
}

/** Σ d_h · q · x over one fmt 6 row: per step of four blocks, the eight half sums fold into two i32x4
 *  (block b half 0, b half 1, b+1 half 0, b+1 half 1), matching the scale order d[2b + h]. */
@inline function rowQ6(row: usize, x16: usize, dx: usize, B: i32): f32 {
  const ds = row + (<usize>B << 5);
  let acc = f32x4.splat(0), b = 0;
  for (; b + 4 <= B; b += 4) {
    const p = row + (<usize>b << 5), xb = x16 + (<usize>b << 6);
    const s01 = hsum4(dotHalf(v128.load(p), xb), dotHalf(v128.load(p, 16), xb + 32),
                      dotHalf(v128.load(p, 32), xb + 64), dotHalf(v128.load(p, 48), xb + 96));
    const s23 = hsum4(dotHalf(v128.load(p, 64), xb + 128), dotHalf(v128.load(p, 80), xb + 160),
                      dotHalf(v128.load(p, 96), xb + 192), dotHalf(v128.load(p, 112), xb + 224));
    const dxv = v128.load(dx + (<usize>b << 2)), d = ds + (<usize>b << 3);
    const d01 = f32x4.mul(v128.load(d), i32x4.shuffle(dxv, dxv, 0, 0, 1, 1));
    const d23 = f32x4.mul(v128.load(d, 16), i32x4.shuffle(dxv, dxv, 2, 2, 3, 3));
    acc = f32x4.add(acc, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(s01), d01), f32x4.mul(f32x4.convert_i32x4_s(s23), d23)));
  }
  let tail: f32 = 0;
  for (; b < B; b++) {
    const p = row + (<usize>b << 5), xb = x16 + (<usize>b << 6), d = ds + (<usize>b << 3), e = load<f32>(dx + (<usize>b << 2));
    tail += <f32>hsumI(dotHalf(v128.load(p), xb)) * (load<f32>(d) * e) + <f32>hsumI(dotHalf(v128.load(p, 16), xb + 32)) * (load<f32>(d, 4) * e);
  }
  return hsum(acc) + tail;
}

/** y[N] = W[N × K] · x on packed rows of fmt 4, 8, 6 (K % 32 == 0) or 5, 7 (matmul_qk.ts, K % 256 == 0); xq/dx/sx from quantizeX. */
export function gemvQ(fmt: i32, xq: usize, dx: usize, sx: usize, K: i32, w: usize, N: i32, y: usize): void {
  const B = K >> 5, x16 = xq + <usize>K;
  if (fmt == 4) {
    const rb = <usize>B * 24;
    let n = 0;
    for (; n + 2 <= N; n += 2) rowsQ4x2(w + <usize>n * rb, rb, xq, x16, dx, sx, B, y + (<usize>n << 2));
    if (n < N) store<f32>(y + (<usize>n << 2), rowQ4_1(w + <usize>n * rb, xq, x16, dx, sx, B));
    return;
  }
  if (fmt == 5) { gemvQ5(xq, dx, sx, K, w, N, y); return; }
  if (fmt == 7) { gemvQ7(xq, dx, K, w, N, y); return; }
  const rowBytes = <usize>B * 40;
  if (fmt == 8) for (let n = 0; n < N; n++) store<f32>(y + (<usize>n << 2), rowQ8m(w + <usize>n * rowBytes, x16, dx, sx, B));
  else if (fmt == 6) for (let n = 0; n < N; n++) store<f32>(y + (<usize>n << 2), rowQ6(w + <usize>n * rowBytes, x16, dx, B));
  else unreachable();
}
