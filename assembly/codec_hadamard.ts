// Block Walsh–Hadamard transform of codec 7 (docs/wire-format.md §9): sign flips, unnormalized butterflies in stage
// order h = 1, 2, 4, …, and the inverse (butterflies, then · ±1/w). Bit-exact with bindings/codec/rotated.ts: every
// value goes through the same f32 adds and subtracts of the same operands as there; only the schedule differs.
//
import { dequant4 } from './codec_lanes';

// Blocks of 64 and 128 (all of a row but its tail) take a fused schedule: stages h = 1 … 16 on eight vectors (32
// values) held in registers, then h = 32 and 64 on four vectors 32 values apart, so a block is read and written
// twice instead of once per stage, and the encoder's range check rides on the last pass.

const SIGN_K: u32 = 0x9e3779b1;
export const LIMIT: f32 = 1.2676506002282294e30; // 2^100 (§9)

/** Sign-bit masks of positions i … i+3 (rotSign: top bit of i · 0x9E3779B1). */
@inline function signMask(i: i32): v128 {
  return v128.and(i32x4.mul(i32x4.add(i32x4.splat(i), i32x4(0, 1, 2, 3)), i32x4.splat(SIGN_K)), i32x4.splat(0x80000000));
}
@inline function signBit(i: i32): u32 { return (<u32>i * SIGN_K) & 0x80000000; }

// rotSign of positions 0 … 127 as u32 sign masks (the top bit of i · 0x9E3779B1), so fused blocks load them
const SIGNS = memory.data<u32>([
  0x00000000, 0x80000000, 0x00000000, 0x80000000, 0x00000000, 0x00000000, 0x80000000, 0x00000000, 0x80000000, 0x80000000, 0x00000000, 0x80000000, 0x00000000, 0x00000000, 0x80000000, 0x00000000,
  0x80000000, 0x80000000, 0x00000000, 0x80000000, 0x00000000, 0x80000000, 0x80000000, 0x00000000, 0x80000000, 0x00000000, 0x00000000, 0x80000000, 0x00000000, 0x80000000, 0x80000000, 0x00000000,
  0x80000000, 0x00000000, 0x00000000, 0x80000000, 0x00000000, 0x80000000, 0x00000000, 0x00000000, 0x80000000, 0x00000000, 0x80000000, 0x80000000, 0x00000000, 0x80000000, 0x00000000, 0x00000000,
  0x80000000, 0x00000000, 0x80000000, 0x80000000, 0x00000000, 0x80000000, 0x00000000, 0x80000000, 0x80000000, 0x00000000, 0x80000000, 0x00000000, 0x00000000, 0x80000000, 0x00000000, 0x80000000,
  0x80000000, 0x00000000, 0x80000000, 0x00000000, 0x00000000, 0x80000000, 0x00000000, 0x80000000, 0x00000000, 0x00000000, 0x80000000, 0x00000000, 0x80000000, 0x80000000, 0x00000000, 0x80000000,
  0x00000000, 0x00000000, 0x80000000, 0x00000000, 0x80000000, 0x80000000, 0x00000000, 0x80000000, 0x00000000, 0x00000000, 0x80000000, 0x00000000, 0x80000000, 0x00000000, 0x00000000, 0x80000000,
  0x00000000, 0x80000000, 0x80000000, 0x00000000, 0x80000000, 0x00000000, 0x00000000, 0x80000000, 0x00000000, 0x80000000, 0x80000000, 0x00000000, 0x80000000, 0x00000000, 0x80000000, 0x80000000,
  0x00000000, 0x80000000, 0x00000000, 0x00000000, 0x80000000, 0x00000000, 0x80000000, 0x80000000, 0x00000000, 0x80000000, 0x00000000, 0x00000000, 0x80000000, 0x00000000, 0x80000000, 0x00000000,
]);
@inline function signAt(i: i32): v128 { return v128.load(SIGNS + (<usize>i << 2)); }

/**
 * Stages h = 1 and h = 2 inside one vector: (x₀ + x₁, x₀ − x₁, …) as swap(x) + x with every second sign flipped —
 * a − b is a + (−b) exactly in IEEE arithmetic — so one-input shuffles do it, no two-input blend.
 */
@inline function inVector(x: v128): v128 {
  const y = f32x4.add(i32x4.shuffle(x, x, 1, 0, 3, 2), v128.xor(x, i32x4(0, 0x80000000, 0, 0x80000000)));
  return f32x4.add(i32x4.shuffle(y, y, 2, 3, 0, 1), v128.xor(y, i32x4(0, 0, 0x80000000, 0x80000000)));
}

/** Stages h = 1 … 16 on 32 values in eight vectors, into dst. */
@inline function stages(v0: v128, v1: v128, v2: v128, v3: v128, v4: v128, v5: v128, v6: v128, v7: v128, dst: usize): void {
  v0 = inVector(v0); v1 = inVector(v1); v2 = inVector(v2); v3 = inVector(v3);
  v4 = inVector(v4); v5 = inVector(v5); v6 = inVector(v6); v7 = inVector(v7);
  let a = f32x4.add(v0, v1), b = f32x4.sub(v0, v1); v0 = a; v1 = b; // h = 4
  a = f32x4.add(v2, v3); b = f32x4.sub(v2, v3); v2 = a; v3 = b;
  a = f32x4.add(v4, v5); b = f32x4.sub(v4, v5); v4 = a; v5 = b;
  a = f32x4.add(v6, v7); b = f32x4.sub(v6, v7); v6 = a; v7 = b;
  a = f32x4.add(v0, v2); b = f32x4.sub(v0, v2); v0 = a; v2 = b; // h = 8
  a = f32x4.add(v1, v3); b = f32x4.sub(v1, v3); v1 = a; v3 = b;
  a = f32x4.add(v4, v6); b = f32x4.sub(v4, v6); v4 = a; v6 = b;
  a = f32x4.add(v5, v7); b = f32x4.sub(v5, v7); v5 = a; v7 = b;
  v128.store(dst, f32x4.add(v0, v4)); v128.store(dst, f32x4.sub(v0, v4), 64); // h = 16
  v128.store(dst, f32x4.add(v1, v5), 16); v128.store(dst, f32x4.sub(v1, v5), 80);
  v128.store(dst, f32x4.add(v2, v6), 32); v128.store(dst, f32x4.sub(v2, v6), 96);
  v128.store(dst, f32x4.add(v3, v7), 48); v128.store(dst, f32x4.sub(v3, v7), 112);
}

/** Stages h = 1 … 16 on the 32 values at src (sign-flipped first when `flip`, positions from `base`), into dst. */
@inline function octet(src: usize, dst: usize, base: i32, flip: bool): void {
  let v0 = v128.load(src), v1 = v128.load(src, 16), v2 = v128.load(src, 32), v3 = v128.load(src, 48);
  let v4 = v128.load(src, 64), v5 = v128.load(src, 80), v6 = v128.load(src, 96), v7 = v128.load(src, 112);
  if (flip) {
    v0 = v128.xor(v0, signAt(base)); v1 = v128.xor(v1, signAt(base + 4)); v2 = v128.xor(v2, signAt(base + 8)); v3 = v128.xor(v3, signAt(base + 12));
    v4 = v128.xor(v4, signAt(base + 16)); v5 = v128.xor(v5, signAt(base + 20)); v6 = v128.xor(v6, signAt(base + 24)); v7 = v128.xor(v7, signAt(base + 28));
  }
  stages(v0, v1, v2, v3, v4, v5, v6, v7, dst);
}

/** The decoder's first pass: 32 byte codes (two vectors) dequantized with one scale, stages h = 1 … 16, into dst. */
@inline export function octetFromCodes(c0: v128, c1: v128, vc: v128, vs: v128, dst: usize): void {
  const l0 = i16x8.extend_low_i8x16_u(c0), h0 = i16x8.extend_high_i8x16_u(c0);
  const l1 = i16x8.extend_low_i8x16_u(c1), h1 = i16x8.extend_high_i8x16_u(c1);
  stages(dequant4(i32x4.extend_low_i16x8_u(l0), vc, vs), dequant4(i32x4.extend_high_i16x8_u(l0), vc, vs),
    dequant4(i32x4.extend_low_i16x8_u(h0), vc, vs), dequant4(i32x4.extend_high_i16x8_u(h0), vc, vs),
    dequant4(i32x4.extend_low_i16x8_u(l1), vc, vs), dequant4(i32x4.extend_high_i16x8_u(l1), vc, vs),
    dequant4(i32x4.extend_low_i16x8_u(h1), vc, vs), dequant4(i32x4.extend_high_i16x8_u(h1), vc, vs), dst);
}

/**
 * Forward rotation of a 64- or 128-value block: src → dst (may be the same). Returns per 32-value octet the max |y|
 * (lanes 0–3; lanes past the block 0), or +Inf in every lane when a value is NaN, ±Inf or beyond ±2^100 (§9: the
 * block then goes raw).
 */
export function rotForwardBlock(src: usize, dst: usize, w: i32): v128 {
  octet(src, dst, 0, true); octet(src + 128, dst + 128, 32, true);
  let m0 = f32x4.splat(0), m1 = m0, m2 = m0, m3 = m0, sum = m0;
  if (w == 128) {
    octet(src + 256, dst + 256, 64, true); octet(src + 384, dst + 384, 96, true);
    for (let j = 0; j < 8; j++) { // h = 32 and h = 64 on vectors j, j + 8, j + 16, j + 24
      const p = dst + (<usize>j << 4);
      const u0 = v128.load(p), u1 = v128.load(p, 128), u2 = v128.load(p, 256), u3 = v128.load(p, 384);
      const a0 = f32x4.add(u0, u1), b0 = f32x4.sub(u0, u1), a1 = f32x4.add(u2, u3), b1 = f32x4.sub(u2, u3);
      const y0 = f32x4.add(a0, a1), y1 = f32x4.add(b0, b1), y2 = f32x4.sub(a0, a1), y3 = f32x4.sub(b0, b1);
      v128.store(p, y0); v128.store(p, y1, 128); v128.store(p, y2, 256); v128.store(p, y3, 384);
      m0 = f32x4.pmax(m0, f32x4.abs(y0)); m1 = f32x4.pmax(m1, f32x4.abs(y1));
      m2 = f32x4.pmax(m2, f32x4.abs(y2)); m3 = f32x4.pmax(m3, f32x4.abs(y3));
      sum = f32x4.add(sum, f32x4.add(f32x4.add(y0, y1), f32x4.add(y2, y3)));
    }
  } else {
    for (let j = 0; j < 8; j++) { // h = 32
      const p = dst + (<usize>j << 4);
      const u0 = v128.load(p), u1 = v128.load(p, 128);
      const y0 = f32x4.add(u0, u1), y1 = f32x4.sub(u0, u1);
      v128.store(p, y0); v128.store(p, y1, 128);
      m0 = f32x4.pmax(m0, f32x4.abs(y0)); m1 = f32x4.pmax(m1, f32x4.abs(y1));
      sum = f32x4.add(sum, f32x4.add(y0, y1));
    }
  }
  // pmax skips NaN; the sum catches NaN and ±Inf (128 finite values within 2^100 cannot overflow it)
  const s2 = f32x4.add(sum, i32x4.shuffle(sum, sum, 2, 3, 0, 1));
  const s = f32x4.extract_lane(s2, 0) + f32x4.extract_lane(s2, 1);
  if (s - s != 0) return f32x4.splat(Infinity);
  const t0 = f32x4.pmax(i32x4.shuffle(m0, m1, 0, 4, 1, 5), i32x4.shuffle(m0, m1, 2, 6, 3, 7)); // (m0₀, m1₀, m0₁, m1₁) ∨ (…₂, …₃)
  const t1 = f32x4.pmax(i32x4.shuffle(m2, m3, 0, 4, 1, 5), i32x4.shuffle(m2, m3, 2, 6, 3, 7));
  const u = f32x4.pmax(i32x4.shuffle(t0, t1, 0, 1, 4, 5), i32x4.shuffle(t0, t1, 2, 3, 6, 7)); // lane k: octet k's max
  return u;
}

/** Inverse rotation of a 64- or 128-value block in place: butterflies, then x · (±1/w). */
export function rotInverseBlock(p: usize, w: i32): void {
  octet(p, p, 0, false); octet(p + 128, p + 128, 32, false);
  if (w == 128) { octet(p + 256, p + 256, 64, false); octet(p + 384, p + 384, 96, false); }
  inverseFinish(p, w, p, false);
}

@inline function finish(q: usize, y: v128, vr: v128, i: i32, add: bool): v128 {
  const x = v128.xor(f32x4.mul(y, vr), signAt(i));
  return add ? f32x4.add(v128.load(q), x) : x;
}

/**
 * Last stages of the inverse of a 64- or 128-value block at p whose octets are done: h = 32 (and 64), · ±1/w, then
 * stored at out, or added to it (out + x, as the decoder's accumulate), out possibly p itself.
 */
export function inverseFinish(p: usize, w: i32, out: usize, add: bool): void {
  const r = <f32>1 / <f32>w, vr = f32x4.splat(r);
  if (w == 128) {
    for (let j = 0; j < 8; j++) {
      const q = p + (<usize>j << 4), o = out + (<usize>j << 4), i = j << 2;
      const u0 = v128.load(q), u1 = v128.load(q, 128), u2 = v128.load(q, 256), u3 = v128.load(q, 384);
      const a0 = f32x4.add(u0, u1), b0 = f32x4.sub(u0, u1), a1 = f32x4.add(u2, u3), b1 = f32x4.sub(u2, u3);
      const x0 = finish(o, f32x4.add(a0, a1), vr, i, add), x1 = finish(o + 128, f32x4.add(b0, b1), vr, i + 32, add);
      const x2 = finish(o + 256, f32x4.sub(a0, a1), vr, i + 64, add), x3 = finish(o + 384, f32x4.sub(b0, b1), vr, i + 96, add);
      v128.store(o, x0); v128.store(o, x1, 128); v128.store(o, x2, 256); v128.store(o, x3, 384);
    }
    return;
  }
  for (let j = 0; j < 8; j++) {
    const q = p + (<usize>j << 4), o = out + (<usize>j << 4), i = j << 2;
    const u0 = v128.load(q), u1 = v128.load(q, 128);
    const x0 = finish(o, f32x4.add(u0, u1), vr, i, add), x1 = finish(o + 128, f32x4.sub(u0, u1), vr, i + 32, add);
    v128.store(o, x0); v128.store(o, x1, 128);
  }
}

/** Unnormalized Walsh–Hadamard butterflies on w f32 at p (stages h = 1, 2, 4, …), as the reference. */
function butterflies(p: usize, w: i32): void {
  if (w < 4) {
    for (let h = 1; h < w; h <<= 1)
      for (let i = 0; i < w; i += h << 1)
        for (let j = i; j < i + h; j++) {
          const a = p + (<usize>j << 2), b = p + (<usize>(j + h) << 2);
          const u = load<f32>(a), v = load<f32>(b);
          store<f32>(a, u + v); store<f32>(b, u - v);
        }
    return;
  }
  for (let i = 0; i < w; i += 4) { const q = p + (<usize>i << 2); v128.store(q, inVector(v128.load(q))); }
  for (let h = 4; h < w; h <<= 1)
    for (let i = 0; i < w; i += h << 1)
      for (let j = i; j < i + h; j += 4) {
        const a = p + (<usize>j << 2), b = p + (<usize>(j + h) << 2);
        const u = v128.load(a), v = v128.load(b);
        v128.store(a, f32x4.add(u, v)); v128.store(b, f32x4.sub(u, v));
      }
}

/** Forward rotation of a block of any power-of-two width w in place (the tail blocks below 64). */
export function rotForward(p: usize, w: i32): void {
  let i = 0;
  for (; i + 4 <= w; i += 4) { const q = p + (<usize>i << 2); v128.store(q, v128.xor(v128.load(q), signMask(i))); }
  for (; i < w; i++) { const q = p + (<usize>i << 2); store<u32>(q, load<u32>(q) ^ signBit(i)); }
  butterflies(p, w);
}

/** Inverse rotation of w values at p, in place: butterflies, then x · (±1/w). */
export function rotInverse(p: usize, w: i32): void {
  if (w >= 64) { rotInverseBlock(p, w); return; }
  butterflies(p, w);
  const r = <f32>1 / <f32>w, vr = f32x4.splat(r);
  let i = 0;
  for (; i + 4 <= w; i += 4) { const q = p + (<usize>i << 2); v128.store(q, v128.xor(f32x4.mul(v128.load(q), vr), signMask(i))); }
  for (; i < w; i++) { const q = p + (<usize>i << 2); store<u32>(q, reinterpret<u32>(load<f32>(q) * r) ^ signBit(i)); }
}

/** True when every value is within ±LIMIT (false for NaN and ±Inf). */
export function inLimit(p: usize, n: i32, limit: f32 = LIMIT): bool {
  let ok = i32x4.splat(-1), i = 0;
  const lim = f32x4.splat(limit);
  for (; i + 4 <= n; i += 4) ok = v128.and(ok, f32x4.le(f32x4.abs(v128.load(p + (<usize>i << 2))), lim));
  if (!i32x4.all_true(ok)) return false;
  for (; i < n; i++) if (!(abs(load<f32>(p + (<usize>i << 2))) <= limit)) return false;
  return true;
}

/** Octet maxima → max |y| of group g (size G of 32, 64 or 128) of a fused block. */
@inline export function groupMax(m: v128, g: i32, G: i32): f32 {
  if (G == 32) return g == 0 ? f32x4.extract_lane(m, 0) : g == 1 ? f32x4.extract_lane(m, 1) : g == 2 ? f32x4.extract_lane(m, 2) : f32x4.extract_lane(m, 3);
  const lo = max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), hi = max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3));
  return G == 64 ? (g == 0 ? lo : hi) : max(lo, hi);
}
/** Octet maxima of rotForwardBlock → the block is within ±2^100 and finite. */
@inline export function blockInLimit(m: v128, limit: f32 = LIMIT): bool { return i32x4.all_true(f32x4.le(m, f32x4.splat(limit))); }
