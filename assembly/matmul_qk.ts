// Decode GEMV on the compact K-quant formats (bindings/tp/repack.ts lays them out; dequant.ts has the exact math).
// y[N] = W[N × K] · x, K % 256 == 0, activations from quantizeX (i8 codes, i16 slot16 copy, dx, sx per 32-block).
// Rows are G = K/256 super-blocks, each ONE contiguous record (one memory stream per row, no separate scale arrays):
//   fmt 5 (Q4_K), 152 B per 256 values (19 B / 32; GGUF 18):
//     [0,128) codes, block j (0…7) at 16j in fmt 4's nibble order (byte l: element l low, l + 16 high)
//     [128,136) u8 6-bit scale sc_j   [136,144) u8 6-bit min mn_j   [144] f32 D   [148] f32 Dmin
//     w = d_j·q + m_j with d_j = D·sc_j, m_j = −(Dmin·mn_j)
//   fmt 7 (Q6_K), 212 B per 256 values (26.5 B / 32; GGUF 26.25):
//     [0,128) low nibbles of the 6-bit codes u, block j at 16j in fmt 4's nibble order
//     [128,192) 2-bit highs, blocks 2i and 2i+1 share the 16 bytes at 128 + 16i: byte l holds
//               bits 4-5: block 2i element l, bits 0-1: block 2i element 16 + l (block 2i+1: the same, 2 bits up)
//     [192,208) i8 scales sc[e >> 4] (Q6_K's own order)   [208] f32 D       w = (D·sc)·(u − 32)
// fmt 5: two rows per step share every activation load; fmt 7: four rows per step (activations reloaded from L1 per row,
// the −32·Σx and scale vectors shared). Integer sums are exact; the float steps are the same in the simd
// and relaxed builds (the relaxed build forms the same integer totals), so both builds give the same bits.

import { hsum, hsum4 } from './qdot';

const R = ASC_FEATURE_RELAXED_SIMD;

/** 32 fmt-4-order nibble codes × one block's activations → i32x4 whose lanes sum to Σ q·x.
 *  Plain: X0…X3 are the block's four i16 slot16 loads. Relaxed: X0, X1 are the i8 loads of elements 0–15, 16–31.
 *  m: the nibble mask (i16 0x000f plain, i8 0x0f relaxed), built once per call from a runtime value: V8 materializes
 *  every v128.const at each use (several instructions), and binaryen would fold a literal splat back into the loop. */
@inline function dq4(q: v128, X0: v128, X1: v128, X2: v128, X3: v128, m: v128): v128 {
  if (R) return i32x4.relaxed_dot_i8x16_i7x16_add_s(X1, v128.and(i16x8.shr_u(q, 4), m), // (i8x16.shr_u is emulated)
    i32x4.relaxed_dot_i8x16_i7x16_add_s(X0, v128.and(q, m), i32x4.splat(0)));
  const loE = v128.and(q, m), loO = v128.and(i16x8.shr_u(q, 8), m), hiE = v128.and(i16x8.shr_u(q, 4), m), hiO = i16x8.shr_u(q, 12);
  return i32x4.add(i32x4.add(i32x4.dot_i16x8_s(loE, X0), i32x4.dot_i16x8_s(loO, X1)),
                   i32x4.add(i32x4.dot_i16x8_s(hiE, X2), i32x4.dot_i16x8_s(hiO, X3)));
}
/** A splat of the i16 constant c as a runtime value (z is 0 at run time; see dq4). */
@inline function hoist16(c: i32, z: i32): v128 { return i16x8.splat(<i16>(c | z)); }
/** Activation vector k (0…3) of block b: the i16 slot16 load (plain); relaxed: the i8 load of elements 0–15 (k = 0)
 *  or 16–31 (k > 0). */
@inline function xv(xq: usize, x16: usize, b: i32, k: i32): v128 {
  if (R) return v128.load(xq + (<usize>b << 5) + (k == 0 ? 0 : 16));
  return v128.load(x16 + (<usize>b << 6) + (<usize>k << 4));
}
/** 4 u8 at p → f32x4. */
@inline function u8x4(p: usize): v128 {
  return f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(p))));
}
/** 4 i8 at p → f32x4. */
@inline function i8x4(p: usize): v128 {
  return f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v128.load32_zero(p))));
}

/** Two fmt 5 rows (r0, r1; r1 may equal r0) → y0, y1. */
function rowsQ5x2(r0: usize, r1: usize, G: i32, xq: usize, x16: usize, dx: usize, sx: usize, y0: usize, y1: usize, z: i32): void {
  let a0 = f32x4.splat(0), a1 = a0;
  const m = hoist16(R ? 0x0f0f : 0x000f, z);
  for (let g = 0; g < G; g++) {
    const p0 = r0 + <usize>g * 152, p1 = r1 + <usize>g * 152;
    let t0 = f32x4.splat(0), t1 = t0, m0 = t0, m1 = t0;
    for (let h = 0; h < 2; h++) {
      const b = (g << 3) + (h << 2), c = <usize>h << 6;
      let X0 = xv(xq, x16, b, 0), X1 = xv(xq, x16, b, 1), X2 = xv(xq, x16, b, 2), X3 = xv(xq, x16, b, 3);
      const u0 = dq4(v128.load(p0 + c), X0, X1, X2, X3, m), v0 = dq4(v128.load(p1 + c), X0, X1, X2, X3, m);
      X0 = xv(xq, x16, b + 1, 0); X1 = xv(xq, x16, b + 1, 1); X2 = xv(xq, x16, b + 1, 2); X3 = xv(xq, x16, b + 1, 3);
      const u1 = dq4(v128.load(p0 + c, 16), X0, X1, X2, X3, m), v1 = dq4(v128.load(p1 + c, 16), X0, X1, X2, X3, m);
      X0 = xv(xq, x16, b + 2, 0); X1 = xv(xq, x16, b + 2, 1); X2 = xv(xq, x16, b + 2, 2); X3 = xv(xq, x16, b + 2, 3);
      const u2 = dq4(v128.load(p0 + c, 32), X0, X1, X2, X3, m), v2 = dq4(v128.load(p1 + c, 32), X0, X1, X2, X3, m);
      X0 = xv(xq, x16, b + 3, 0); X1 = xv(xq, x16, b + 3, 1); X2 = xv(xq, x16, b + 3, 2); X3 = xv(xq, x16, b + 3, 3);
      const u3 = dq4(v128.load(p0 + c, 48), X0, X1, X2, X3, m), v3 = dq4(v128.load(p1 + c, 48), X0, X1, X2, X3, m);
      const dxv = v128.load(dx + (<usize>b << 2)), sxv = v128.load(sx + (<usize>b << 2)), o = <usize>h << 2;
      t0 = f32x4.add(t0, f32x4.mul(f32x4.convert_i32x4_s(hsum4(u0, u1, u2, u3)), f32x4.mul(u8x4(p0 + 128 + o), dxv)));
      t1 = f32x4.add(t1, f32x4.mul(f32x4.convert_i32x4_s(hsum4(v0, v1, v2, v3)), f32x4.mul(u8x4(p1 + 128 + o), dxv)));
      m0 = f32x4.add(m0, f32x4.mul(u8x4(p0 + 136 + o), sxv));
      m1 = f32x4.add(m1, f32x4.mul(u8x4(p1 + 136 + o), sxv));
    }
    a0 = f32x4.add(a0, f32x4.sub(f32x4.mul(t0, v128.load32_splat(p0 + 144)), f32x4.mul(m0, v128.load32_splat(p0 + 148))));
    a1 = f32x4.add(a1, f32x4.sub(f32x4.mul(t1, v128.load32_splat(p1 + 144)), f32x4.mul(m1, v128.load32_splat(p1 + 148))));
  }
  store<f32>(y0, hsum(a0));
  store<f32>(y1, hsum(a1));
}

/** y[N] = W · x, fmt 5 rows of K values (K % 256 == 0). */
export function gemvQ5(xq: usize, dx: usize, sx: usize, K: i32, w: usize, N: i32, y: usize): void {
  const G = K >> 8, rb = <usize>G * 152, x16 = xq + <usize>K;
  for (let n = 0; n < N; n += 2) {
    const r0 = w + <usize>n * rb, last = n + 1 >= N;
    rowsQ5x2(r0, last ? r0 : r0 + rb, G, xq, x16, dx, sx, y + (<usize>n << 2), y + (<usize>(last ? n : n + 1) << 2), N >>> 31);
  }
}

// ---- fmt 7. Both halves of a block are first built as the byte vector of their 6-bit codes u (byte order =
// element order): half 0 = (q & 0x0f) | (H & 0x30), half 1 = ((q >> 4) & 0x0f) | ((H << 4) & 0x30), with 16-bit
// shifts and the masks 0x0f0f / 0x3030 (H: the block's high-bit vector, shifted 2 down for the odd block of a pair).
// Relaxed: one i8 × i7 dot per half. Plain: each i16 lane t holds elements 2t (bits 0-5) and 2t+1 (bits 8-13);
// e = v & 0x00ff and v − e give them at scales 1 and 256, pmaddwd with the slot16 activations, and the scale-1 dot is
// shifted up: both halves come out as 256·Σ (the relaxed totals are shifted to match, so both builds form the same
// integers). u − 32: the −32·Σx of each half is one pmaddwd of the summed activations, shared by the four rows of a
// step and folded into each row's hsum4 once per block pair. |256·Σ_half (u − 32)·x| ≤ 256·16·32·127 < 2^24: the f32 conversion is exact.

/** 256 · Σ u·x over one half (16 elements) from its code bytes v (plain: Xa, Xb = the half's two i16 loads; relaxed:
 *  Xa = its i8 load). lo: the 0x00ff mask. */
@inline function half7(v: v128, Xa: v128, Xb: v128, lo: v128): v128 {
  if (R) return i32x4.shl(i32x4.relaxed_dot_i8x16_i7x16_add_s(Xa, v, i32x4.splat(0)), 8);
  const e = v128.and(v, lo);
  return i32x4.add(i32x4.shl(i32x4.dot_i16x8_s(e, Xa), 8), i32x4.dot_i16x8_s(i16x8.sub(v, e), Xb));
}
/** 256 · (−32 · Σx) over one half (plain: c = i16 splat −8192; relaxed: c = i8 splat 1). */
@inline function corr7(Xa: v128, Xb: v128, c: v128): v128 {
  if (R) return i32x4.shl(i32x4.relaxed_dot_i8x16_i7x16_add_s(Xa, c, i32x4.splat(0)), 13 /* ·(−32)·256 below */);
  return i32x4.dot_i16x8_s(i16x8.add(Xa, Xb), c);
}
@inline function corrSign(v: v128): v128 { return R ? i32x4.neg(v) : v; }

/** One block pair (i) of one fmt 7 super-block record p: f32x4 of its four half-block terms (before D). The activations
 *  are reloaded from L1 per row; cv (the pair's −32·Σx terms) and ds (dx / 256) are shared by the rows of a step. */
@inline function pair7(p: usize, i: i32, b: i32, xq: usize, x16: usize, cv: v128, ds: v128, mq: v128, mh: v128, lo: v128): v128 {
  const c = <usize>i << 5;
  let H = v128.load(p + 128 + (<usize>i << 4)), q = v128.load(p + c);
  const e0 = half7(v128.or(v128.and(q, mq), v128.and(H, mh)), xv(xq, x16, b, 0), xv(xq, x16, b, 1), lo);
  const e1 = half7(v128.or(v128.and(i16x8.shr_u(q, 4), mq), v128.and(i16x8.shl(H, 4), mh)), xv(xq, x16, b, 2), xv(xq, x16, b, 3), lo);
  H = i16x8.shr_u(H, 2); q = v128.load(p + c, 16);
  const e2 = half7(v128.or(v128.and(q, mq), v128.and(H, mh)), xv(xq, x16, b + 1, 0), xv(xq, x16, b + 1, 1), lo);
  const e3 = half7(v128.or(v128.and(i16x8.shr_u(q, 4), mq), v128.and(i16x8.shl(H, 4), mh)), xv(xq, x16, b + 1, 2), xv(xq, x16, b + 1, 3), lo);
  return f32x4.mul(f32x4.convert_i32x4_s(i32x4.add(hsum4(e0, e1, e2, e3), cv)), f32x4.mul(i8x4(p + 192 + (<usize>i << 2)), ds));
}

/** Four fmt 7 rows (the caller clamps past the last row) → y: the correction and scale vectors once per four rows. */
function rowsQ7x4(r0: usize, r1: usize, r2: usize, r3: usize, G: i32, xq: usize, x16: usize, dx: usize,
                  y0: usize, y1: usize, y2: usize, y3: usize, z: i32): void {
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
  const mq = hoist16(0x0f0f, z), mh = hoist16(0x3030, z), lo = hoist16(0x00ff, z), cc = hoist16(R ? 0x0101 : -8192, z);
  const k = f32x4.splat(<f32>1 / 256 + <f32>z);
  for (let g = 0; g < G; g++) {
    const o = <usize>g * 212, p0 = r0 + o, p1 = r1 + o, p2 = r2 + o, p3 = r3 + o;
    let t0 = f32x4.splat(0), t1 = t0, t2 = t0, t3 = t0;
    for (let i = 0; i < 4; i++) {
      const b = (g << 3) + (i << 1);
      const cv = corrSign(hsum4(corr7(xv(xq, x16, b, 0), xv(xq, x16, b, 1), cc), corr7(xv(xq, x16, b, 2), xv(xq, x16, b, 3), cc),
        corr7(xv(xq, x16, b + 1, 0), xv(xq, x16, b + 1, 1), cc), corr7(xv(xq, x16, b + 1, 2), xv(xq, x16, b + 1, 3), cc)));
      const d2 = v128.load64_zero(dx + (<usize>b << 2)), ds = f32x4.mul(i32x4.shuffle(d2, d2, 0, 0, 1, 1), k);
      t0 = f32x4.add(t0, pair7(p0, i, b, xq, x16, cv, ds, mq, mh, lo));
      t1 = f32x4.add(t1, pair7(p1, i, b, xq, x16, cv, ds, mq, mh, lo));
      t2 = f32x4.add(t2, pair7(p2, i, b, xq, x16, cv, ds, mq, mh, lo));
      t3 = f32x4.add(t3, pair7(p3, i, b, xq, x16, cv, ds, mq, mh, lo));
    }
    a0 = f32x4.add(a0, f32x4.mul(t0, v128.load32_splat(p0 + 208)));
    a1 = f32x4.add(a1, f32x4.mul(t1, v128.load32_splat(p1 + 208)));
    a2 = f32x4.add(a2, f32x4.mul(t2, v128.load32_splat(p2 + 208)));
    a3 = f32x4.add(a3, f32x4.mul(t3, v128.load32_splat(p3 + 208)));
  }
  store<f32>(y0, hsum(a0)); store<f32>(y1, hsum(a1)); store<f32>(y2, hsum(a2)); store<f32>(y3, hsum(a3));
}

/** y[N] = W · x, fmt 7 rows of K values (K % 256 == 0). */
export function gemvQ7(xq: usize, dx: usize, K: i32, w: usize, N: i32, y: usize): void {
  const G = K >> 8, rb = <usize>G * 212, x16 = xq + <usize>K;
  for (let n = 0; n < N; n += 4) {
    const n1 = min(n + 1, N - 1), n2 = min(n + 2, N - 1), n3 = min(n + 3, N - 1);
    rowsQ7x4(w + <usize>n * rb, w + <usize>n1 * rb, w + <usize>n2 * rb, w + <usize>n3 * rb, G, xq, x16, dx,
      y + (<usize>n << 2), y + (<usize>n1 << 2), y + (<usize>n2 << 2), y + (<usize>n3 << 2), N >>> 31);
  }
}
