// Packed quantized rows (bindings/tp/repack.ts lays them out once at load) → f32, bit for bit what
// bindings/gguf/dequant.ts gives for the GGUF source: every weight is w = d·q + m as one f32 multiply (rounded) and
// one f32 add (rounded), never fused (no relaxed_madd here: a fused d·q + m rounds once and would differ).
// Per row of B = K/32 blocks, rows contiguous:
//   fmt 4: [B × 16 code bytes][B × f32 d][B × f32 m]   24 B/block; byte j: element j (low nibble), j + 16 (high)
//   fmt 8: [B × 32 i8 codes][B × f32 d][B × f32 m]     40 B/block
//   fmt 6: [B × 32 i8 codes][2B × f32 d]               40 B/block; d[2b + h] scales half h (16 values) of block b
//   fmt 5: per 256-value super-block, 152 B (19 B/block): [8 × 16 code bytes as fmt 4][8 × u8 sc][8 × u8 mn][f32 D][f32 Dmin]
//          d = D·sc, m = −(Dmin·mn) per block, computed here (exact: Q4_K's d1 = fr(d·sc), dm1 = fr(dmin·mn))
//   fmt 7: per 256-value super-block, 212 B (26.5 B/block): [8 × 16 low-nibble bytes as fmt 4][4 × 16 high-bit bytes]
//          [16 × i8 sc][f32 D]; w = fr(D·sc)·(u − 32) (Q6_K's arithmetic). Layout details: matmul_qk.ts.
//   fmt 0: K × f32
// Used by matmulQ (one panel of rows at a time into scratch) and exported as dequantRows (embedding lookup, tests).

/** Bytes of one packed row of K values. */
@inline export function packedRowBytes(fmt: i32, K: i32): usize {
  if (fmt == 4) return <usize>(K >> 5) * 24;
  if (fmt == 8 || fmt == 6) return <usize>(K >> 5) * 40;
  if (fmt == 5) return <usize>(K >> 8) * 152;
  if (fmt == 7) return <usize>(K >> 8) * 212;
  return <usize>K << 2;
}

/** 16 unsigned 4-bit codes (one per byte) → 16 f32 d·q + m at out. */
@inline function put16u(c: v128, d: v128, m: v128, out: usize): void {
  const lo = i16x8.extend_low_i8x16_u(c), hi = i16x8.extend_high_i8x16_u(c);
  v128.store(out, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(lo)), d), m));
  v128.store(out, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_u(lo)), d), m), 16);
  v128.store(out, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(hi)), d), m), 32);
  v128.store(out, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_u(hi)), d), m), 48);
}
/** 16 signed i8 codes → 16 f32 d·q + m. */
@inline function put16s(c: v128, d: v128, m: v128, out: usize): void {
  const lo = i16x8.extend_low_i8x16_s(c), hi = i16x8.extend_high_i8x16_s(c);
  v128.store(out, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)), d), m));
  v128.store(out, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), d), m), 16);
  v128.store(out, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), d), m), 32);
  v128.store(out, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi)), d), m), 48);
}
/** 16 signed i8 codes → 16 f32 d·q (Q6_K has no min: ggml computes d·q alone, so no add). */
@inline function put16sNoMin(c: v128, d: v128, out: usize): void {
  const lo = i16x8.extend_low_i8x16_s(c), hi = i16x8.extend_high_i8x16_s(c);
  v128.store(out, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)), d));
  v128.store(out, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), d), 16);
  v128.store(out, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), d), 32);
  v128.store(out, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi)), d), 48);
}

@inline function rowQ4(row: usize, B: i32, out: usize): void {
  const ds = row + (<usize>B << 4), ms = ds + (<usize>B << 2), mask = i8x16.splat(0x0f);
  for (let b = 0; b < B; b++) {
    const q = v128.load(row + (<usize>b << 4)), o = out + (<usize>b << 7);
    const d = v128.load32_splat(ds + (<usize>b << 2)), m = v128.load32_splat(ms + (<usize>b << 2));
    put16u(v128.and(q, mask), d, m, o);
    put16u(i8x16.shr_u(q, 4), d, m, o + 64);
  }
}
@inline function rowQ8(row: usize, B: i32, out: usize): void {
  const ds = row + (<usize>B << 5), ms = ds + (<usize>B << 2);
  for (let b = 0; b < B; b++) {
    const p = row + (<usize>b << 5), o = out + (<usize>b << 7);
    const d = v128.load32_splat(ds + (<usize>b << 2)), m = v128.load32_splat(ms + (<usize>b << 2));
    put16s(v128.load(p), d, m, o);
    put16s(v128.load(p, 16), d, m, o + 64);
  }
}
@inline function rowQ6(row: usize, B: i32, out: usize): void {
  const ds = row + (<usize>B << 5);
  for (let b = 0; b < B; b++) {
    const p = row + (<usize>b << 5), o = out + (<usize>b << 7), s = ds + (<usize>b << 3);
    put16sNoMin(v128.load(p), v128.load32_splat(s), o);
    put16sNoMin(v128.load(p, 16), v128.load32_splat(s + 4), o + 64);
  }
}

/** fmt 5 row of G super-blocks → f32. */
@inline function rowQ5(row: usize, G: i32, out: usize): void {
  const mask = i8x16.splat(0x0f);
  for (let g = 0; g < G; g++) {
    const p = row + <usize>g * 152, D = load<f32>(p, 144), Dm = load<f32>(p, 148);
    for (let j = 0; j < 8; j++) {
      const q = v128.load(p + (<usize>j << 4)), o = out + (<usize>((g << 3) + j) << 7);
      const d = f32x4.splat(D * <f32>load<u8>(p + 128 + j)), m = f32x4.splat(-(Dm * <f32>load<u8>(p + 136 + j)));
      put16u(v128.and(q, mask), d, m, o);
      put16u(i8x16.shr_u(q, 4), d, m, o + 64);
    }
  }
}
/** fmt 7 row of G super-blocks → f32: u = nibble | high bits << 4, w = (D·sc)·(u − 32). */
@inline function rowQ7(row: usize, G: i32, out: usize): void {
  const mask = i8x16.splat(0x0f), hm = i8x16.splat(0x30), off = i8x16.splat(32);
  for (let g = 0; g < G; g++) {
    const p = row + <usize>g * 212, D = load<f32>(p, 208);
    for (let j = 0; j < 8; j++) {
      const q = v128.load(p + (<usize>j << 4)), o = out + (<usize>((g << 3) + j) << 7);
      let H = v128.load(p + 128 + (<usize>(j >> 1) << 4));
      if (j & 1) H = i16x8.shr_u(H, 2);
      const u0 = v128.or(v128.and(q, mask), v128.and(H, hm)), u1 = v128.or(i8x16.shr_u(q, 4), v128.and(i16x8.shl(H, 4), hm));
      const s = p + 192 + (j << 1);
      put16sNoMin(i8x16.sub(u0, off), f32x4.splat(D * <f32>load<i8>(s)), o);
      put16sNoMin(i8x16.sub(u1, off), f32x4.splat(D * <f32>load<i8>(s, 1)), o + 64);
    }
  }
}

/** out[rows × K] (f32) = the packed rows at w, dequantized. K % 32 == 0 for fmt ≠ 0, K % 256 == 0 for fmt 5, 7. */
export function dequantRows(fmt: i32, w: usize, K: i32, rows: i32, out: usize): void {
  const rowBytes = packedRowBytes(fmt, K), outRow = <usize>K << 2, B = K >> 5;
  if (fmt == 0) { memory.copy(out, w, <usize>rows * outRow); return; }
  for (let r = 0; r < rows; r++) {
    const row = w + <usize>r * rowBytes, o = out + <usize>r * outRow;
    if (fmt == 4) rowQ4(row, B, o);
    else if (fmt == 8) rowQ8(row, B, o);
    else if (fmt == 6) rowQ6(row, B, o);
    else if (fmt == 5) rowQ5(row, K >> 8, o);
    else if (fmt == 7) rowQ7(row, K >> 8, o);
    else unreachable();
  }
}
