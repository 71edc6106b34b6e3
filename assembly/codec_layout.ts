// Shared pieces of the SIMD codec: context-block offsets, codec ids, error codes and the §3 layout.
// Context block (bindings/codec/simd.ts writes it): byte offsets of u32 fields.
export const CX_CODEC = 0, CX_BITS = 4, CX_GROUP = 8, CX_FLAGS = 12, CX_FEATURES = 16, CX_OUTLIERS = 20;
export const CX_OUTLIER_PTR = 24, CX_SCALE_PTR = 28, CX_MIN_PTR = 32, CX_INV_PTR = 36, CX_ISOUT_PTR = 40;

export const F32: i32 = 0, BF16: i32 = 1, F16: i32 = 2, INT_GROUP: i32 = 3, INT_STATIC: i32 = 4, OUT_STATIC: i32 = 5, OUT_GROUP: i32 = 6, ROT: i32 = 7;
export const SYM: i32 = 1, IDX_ON_WIRE: i32 = 2, OUT_F16: i32 = 4, ROT128: i32 = 8, RAW_ROWS: i32 = 16, LEVELS: i32 = 32, ENTROPY: i32 = 64, ROW_STEP: i32 = 128;
export const ROW_MARGIN: f32 = 1; // §10
export const HEADER: i32 = 32, MAGIC: u32 = 0x5054424c;
export const E_MAGIC = -1, E_VERSION = -2, E_TRUNC = -3, E_CONTEXT = -4, E_OUTLIER = -5, E_EXC = -6, E_CAP = -7, E_HEADER = -8;

/** Scratch bytes the caller provides per call: two f32 rows, an outlier map, a 16-byte tmp. */
export function scratchBytes(features: i32): i32 { return ((9 * features + 15) & ~15) + 16; }

// Layout of §3, per instance (globals live in the instance, not in shared memory).
export let coded: i32 = 0, groups: i32 = 0, idxOff: i64 = 0, valOff: i64 = 0, scaleOff: i64 = 0, minOff: i64 = 0;
export let codeOff: i64 = 0, rowBytes: i64 = 0, excOff: i64 = 0, excEntry: i64 = 8;

/** Codec 7 (§9): rotation block of the flags. */
@inline export function rotBlock(flags: i32): i32 { return (flags & ROT128) != 0 ? 128 : 64; }
/** Codec 7: blocks per row (R-blocks, then descending powers of two) and scale groups per row. */
export function rotBlockCount(F: i32, R: i32): i32 {
  let n = F / R, a = n * R;
  for (let w = R >>> 1; w >= 1; w >>>= 1) if (a + w <= F) { n++; a += w; }
  return n;
}
export function rotGroupCount(F: i32, R: i32, G: i32): i32 {
  let n = (F / R) * ((R + G - 1) / G), a = (F / R) * R;
  for (let w = R >>> 1; w >= 1; w >>>= 1) if (a + w <= F) { n += (w + G - 1) / G; a += w; }
  return n;
}

export function layout(codec: i32, bits: i32, flags: i32, G: i32, tokens: i64, F: i32, O: i32): void {
  coded = codec == OUT_STATIC ? F - O : F;
  groups = codec == INT_GROUP || codec == OUT_GROUP ? (coded + G - 1) / G : codec == ROT ? ((flags & ROW_STEP) != 0 ? 1 : rotGroupCount(F, rotBlock(flags), G)) : 0;
  idxOff = HEADER;
  valOff = idxOff + ((flags & IDX_ON_WIRE) != 0 ? <i64>O * 4 : 0);
  scaleOff = valOff + tokens * O * 2;
  minOff = scaleOff + tokens * groups * 2;
  codeOff = minOff + ((flags & SYM) == 0 && codec != ROT ? tokens * groups * 2 : 0);
  // §12: the entropy-coded stream has no fixed size; it starts at codeOff and runs to the end of the block
  rowBytes = codec <= F16 ? <i64>F * (bits >>> 3) : codec == ROT && (flags & ENTROPY) != 0 ? 0 : <i64>((coded + 7) >>> 3) * bits;
  excOff = codeOff + tokens * rowBytes;
  excEntry = codec == ROT ? 4 + 4 * <i64>rotBlock(flags) : 8;
}

export function writeHeader(dst: usize, codec: i32, bits: i32, flags: i32, G: i32, tokens: i32, F: i32, O: i32, X: i32, total: i32): void {
  store<u32>(dst, MAGIC); store<u8>(dst + 4, 1); store<u8>(dst + 5, <u8>codec); store<u8>(dst + 6, <u8>bits);
  store<u8>(dst + 7, <u8>flags); store<u16>(dst + 8, <u16>G); store<u16>(dst + 10, 0); store<u32>(dst + 12, tokens);
  store<u32>(dst + 16, F); store<u32>(dst + 20, O); store<u32>(dst + 24, X); store<u32>(dst + 28, total);
}

@inline export function isNonFinite(x: f32): bool { return x - x != x - x; }

export function countNonFinite(p: usize, n: i32): i32 {
  let acc = i32x4.splat(0), i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(p + (<usize>i << 2));
    const d = f32x4.sub(v, v);
    acc = i32x4.sub(acc, f32x4.ne(d, d));
  }
  let c = i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
  for (; i < n; i++) if (isNonFinite(load<f32>(p + (<usize>i << 2)))) c++;
  return c;
}

