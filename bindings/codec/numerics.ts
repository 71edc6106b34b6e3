// Pure scalar numerics shared by the codec reference (docs/wire-format.md §2, §4). No allocation per call.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export const f32Bits = (x: number): number => { f32[0] = x; return u32[0]; };
export const f32FromBits = (b: number): number => { u32[0] = b >>> 0; return f32[0]; };
export const fround = Math.fround;

/** Round an integral-or-not f32 value half to even (wasm f32.nearest). */
export function nearestEven(v: number): number {
  const r = Math.round(v); // ties go toward +Inf
  if (r - v === 0.5 && r % 2 !== 0) return r - 1;
  return r;
}

/** Code clamp of §4: nearest-even clamped to [lo, hi]; NaN clamps to lo (pmax/pmin semantics). */
export function clampCode(v: number, lo: number, hi: number): number {
  if (v !== v) return lo;
  const q = nearestEven(v);
  return q < lo ? lo : q > hi ? hi : q;
}

/** f32 → bf16 bits, round to nearest even; NaN stays a quiet NaN with its sign. */
export function bf16Nearest(x: number): number {
  const b = f32Bits(x);
  if ((b & 0x7fffffff) > 0x7f800000) return ((b >>> 16) | 0x40) & 0xffff;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** f32 → bf16 bits rounded toward +Inf (finite or infinite input). */
export function bf16Up(x: number): number {
  const b = f32Bits(x);
  const hi = b >>> 16;
  if ((b & 0xffff) === 0 || (b & 0x80000000) !== 0) return hi; // exact, or negative: truncation goes up
  return (hi + 1) & 0xffff;
}

/** f32 → bf16 bits rounded toward −Inf. */
export function bf16Down(x: number): number {
  const b = f32Bits(x);
  const hi = b >>> 16;
  if ((b & 0xffff) === 0 || (b & 0x80000000) === 0) return hi; // exact, or positive: truncation goes down
  return (hi + 1) & 0xffff;
}

export const f32FromBf16 = (h: number): number => f32FromBits((h & 0xffff) << 16);

/** f32 → IEEE binary16 bits, round to nearest even, overflow to ±Inf, NaN → 0x7E00 with sign. */
export function f16Nearest(x: number): number {
  const b = f32Bits(x);
  const sign = (b >>> 16) & 0x8000;
  const a = b & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7e00;
  if (a >= 0x477ff000) return sign | 0x7c00; // ≥ 65520 rounds to Inf
  if (a < 0x38800000) {
    // below 2^-14: adding 0.5 puts the f16 subnormal grid (2^-24) on f32's mantissa; the FPU rounds to even
    const t = f32Bits(fround(f32FromBits(a) + 0.5));
    return sign | ((t - 0x3f000000) & 0xffff);
  }
  const odd = (a >>> 13) & 1;
  return sign | (((a - 0x38000000 + 0xfff + odd) >>> 13) & 0xffff);
}

/** IEEE binary16 bits → f32 (exact). */
export function f32FromF16(h: number): number {
  const sign = (h & 0x8000) << 16;
  const em = h & 0x7fff;
  if (em >= 0x7c00) return f32FromBits(sign | 0x7f800000 | ((em & 0x3ff) << 13));
  if (em >= 0x400) return f32FromBits(sign | ((em << 13) + 0x38000000));
  const v = em * 5.960464477539063e-8; // em · 2^-24, exact
  return sign !== 0 ? -v : v;
}

/** §4: the reciprocal of a scale, 0 for a zero scale. */
export const invScale = (s: number): number => (s > 0 ? fround(1 / s) : 0);
