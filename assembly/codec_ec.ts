// Huffman stream of codec 7's entropy-coded variant (`-ec`, docs/wire-format.md §12): canonical codes from the
// committed code lengths, packed LSB-first with each code's most significant bit first (deflate's convention).
// Encoding puts bit-reversed codes into a 64-bit accumulator; decoding looks the next 12 bits up in a table of
// (symbol, length). Bit-exact with bindings/codec/entropy.ts, which decodes bit by bit instead.
import { EC_LEN2, EC_LEN3, EC_LEN4, EC_LEN5, EC_LEN6, EC_LEN7, EC_M, EC_MAX_LEN, EC_RLEN2, EC_RLEN3, EC_RLEN4, EC_RLEN5, EC_RLEN6, EC_RL, EC_RK, EC_RPAIR_AT, EC_RPAIR_WORDS } from './codec_ec_tables';

// A table id: the width b (2 … 7) for §12's tables, b + ROW_TABLE (10 … 14) for §13's row-step tables.
export const ROW_TABLE: i32 = 8;
const TABLES: i32 = 13; // ids 2 … 14

const LUT_SIZE: i32 = 1 << EC_MAX_LEN;
const PAIR_MAX_BITS: i32 = 5, PAIR_STRIDE: i32 = 43 * 43; // widths 2 … 5 (2M + 1 ≤ 43) also encode two codes at a time
const ROW_PAIR_MAX: i32 = ROW_TABLE + 5;                   // and row-step widths 2 … 5 (2L + 1 ≤ 121; codes ≤ 12 bits)
// Per table id, filled on first use by each instance (a thread sharing this memory that fills them at the same
// time writes the same values):
//   LUT:   LUT_SIZE u16, symbol << 4 | length of the code that the next 12 bits start with (0 = none);
//   MULTI: LUT_SIZE u32, every whole code in the next 12 bits, up to 3: total length | count << 4 | symbols << 8
//          (0 = none), so the decoder's serial chain of table look-ups takes several codes per step;
//   ENC:   2M + 1 u32 (≤ 255), bit-reversed code | length << 16;
//   PAIR:  (2M + 1)² u32 for widths ≤ 5 (row-step widths ≤ 5: ROW_PAIR), the codes of (a, b) concatenated (a first)
//          | total length << 24 (two codes of ≤ 12 bits fit 24 bits).
const LUT = memory.data(TABLES * (1 << EC_MAX_LEN) * 2), MULTI = memory.data(TABLES * (1 << EC_MAX_LEN) * 4), ENC = memory.data(TABLES * 256 * 4);
const PAIR = memory.data((PAIR_MAX_BITS - 1) * PAIR_STRIDE * 4), ROW_PAIR = memory.data(EC_RPAIR_WORDS * 4);
let built: i32 = 0; // bit id: this instance has filled table id's tables

/** Codes −M … M of a table (L for a row-step table). */
@inline export function ecM(bits: i32): i32 { return bits < ROW_TABLE ? unchecked(EC_M[bits]) : unchecked(EC_RL[bits - ROW_TABLE]); }
/** §13: the step factor k of row-step width b. */
@inline export function ecRowK(b: i32): f32 { return unchecked(EC_RK[b]); }
function lengthsOf(bits: i32): usize {
  if (bits >= ROW_TABLE) { const b = bits - ROW_TABLE; return b == 2 ? EC_RLEN2 : b == 3 ? EC_RLEN3 : b == 4 ? EC_RLEN4 : b == 5 ? EC_RLEN5 : EC_RLEN6; }
  return bits == 2 ? EC_LEN2 : bits == 3 ? EC_LEN3 : bits == 4 ? EC_LEN4 : bits == 5 ? EC_LEN5 : bits == 6 ? EC_LEN6 : EC_LEN7;
}
@inline function lutOf(bits: i32): usize { return LUT + (<usize>(bits - 2) * <usize>LUT_SIZE << 1); }
@inline function encOf(bits: i32): usize { return ENC + (<usize>(bits - 2) * 256 << 2); }
@inline function multiOf(bits: i32): usize { return MULTI + (<usize>(bits - 2) * <usize>LUT_SIZE << 2); }
@inline function hasPairs(bits: i32): bool { return bits <= PAIR_MAX_BITS || (bits >= ROW_TABLE + 2 && bits <= ROW_PAIR_MAX); }
function pairOf(bits: i32): usize {
  return bits < ROW_TABLE ? PAIR + (<usize>(bits - 2) * <usize>PAIR_STRIDE << 2) : ROW_PAIR + (<usize>unchecked(EC_RPAIR_AT[bits - ROW_TABLE]) << 2);
}

/** Codes of length l among the first `upto` symbols. */
function countLen(lens: usize, upto: i32, l: i32): i32 {
  let c = 0;
  for (let s = 0; s < upto; s++) if (<i32>load<u8>(lens + s) == l) c++;
  return c;
}

/** Fill width b's tables (no shared scratch: threads may build at the same time). */
function build(bits: i32): void {
  if ((built & (1 << bits)) != 0) return;
  const lens = lengthsOf(bits), nsym = 2 * ecM(bits) + 1, lut = lutOf(bits), enc = encOf(bits);
  for (let s = 0; s < nsym; s++) {
    const l = <i32>load<u8>(lens + s);
    // canonical code: the first code of length l (deflate's next_code), plus the earlier symbols of that length
    let first = 0;
    for (let k = 1; k <= l; k++) first = (first + countLen(lens, nsym, k - 1)) << 1;
    const c = first + countLen(lens, s, l);
    let rev = 0;
    for (let k = 0; k < l; k++) rev |= ((c >>> k) & 1) << (l - 1 - k);
    store<u32>(enc + (<usize>s << 2), <u32>rev | (<u32>l << 16));
    for (let i = rev; i < LUT_SIZE; i += 1 << l) store<u16>(lut + (<usize>i << 1), <u16>((s << 4) | l));
  }
  // MULTI from LUT: after a code of length l only 12 − l bits of the index are the stream's, so a further code
  // counts only when it is that short
  const multi = multiOf(bits);
  for (let i = 0; i < LUT_SIZE; i++) {
    let used = 0, count = 0, syms: u32 = 0;
    while (count < 3) {
      const e = <i32>load<u16>(lut + (<usize>((i >>> used) & (LUT_SIZE - 1)) << 1)), l = e & 15;
      if (l == 0 || used + l > EC_MAX_LEN) break;
      syms |= <u32>(e >>> 4) << (8 * count);
      used += l; count++;
    }
    store<u32>(multi + (<usize>i << 2), count == 0 ? 0 : <u32>used | (<u32>count << 4) | (syms << 8));
  }
  if (hasPairs(bits)) {
    const pair = pairOf(bits);
    for (let a = 0; a < nsym; a++) for (let b = 0; b < nsym; b++) {
      const ea = load<u32>(enc + (<usize>a << 2)), eb = load<u32>(enc + (<usize>b << 2)), la = ea >>> 16;
      store<u32>(pair + (<usize>(a * nsym + b) << 2), (ea & 0xffff) | ((eb & 0xffff) << la) | ((la + (eb >>> 16)) << 24));
    }
  }
  built |= 1 << bits;
}

// ------------------------------------------------------------------------------------------------ writer
let wAcc: u64 = 0, wBits: i32 = 0, wPos: usize = 0, wEnd: usize = 0, wStart: usize = 0, wEnc: usize = 0, wPair: usize = 0, wSym: i32 = 0;

/** Start a stream at dst, at most cap bytes. */
export function ecWriteBegin(dst: usize, cap: i64, bits: i32): void {
  build(bits);
  wAcc = 0; wBits = 0; wPos = dst; wStart = dst; wEnd = dst + <usize>cap; wEnc = encOf(bits);
  wPair = hasPairs(bits) ? pairOf(bits) : 0; wSym = 2 * ecM(bits) + 1;
}
/** Append n byte codes (0 … 2M); false when the stream would pass its capacity. */
export function ecWrite(codes: usize, n: i32): bool {
  // the state lives in locals inside the loop (globals are memory to the JIT), written back at the end
  let acc = wAcc, nb = wBits, pos = wPos, i = 0;
  const enc = wEnc, end = wEnd, pair = wPair, nsym = wSym;
  if (pair != 0) for (; i + 2 <= n; i += 2) { // two codes per step: at most 2 · 12 bits onto fewer than 32
    const ab = <i32>load<u16>(codes + i);
    const e = load<u32>(pair + (<usize>((ab & 255) * nsym + (ab >>> 8)) << 2));
    acc |= <u64>(e & 0xffffff) << <u64>nb;
    nb += <i32>(e >>> 24);
    if (nb >= 32) {
      if (pos + 4 > end) return false;
      store<u32>(pos, <u32>acc);
      pos += 4; acc >>>= 32; nb -= 32;
    }
  }
  for (; i < n; i++) {
    const e = load<u32>(enc + (<usize>load<u8>(codes + i) << 2));
    acc |= <u64>(e & 0xffff) << <u64>nb;
    nb += <i32>(e >>> 16);
    if (nb >= 32) {
      if (pos + 4 > end) return false;
      store<u32>(pos, <u32>acc);
      pos += 4; acc >>>= 32; nb -= 32;
    }
  }
  wAcc = acc; wBits = nb; wPos = pos;
  return true;
}
/** Flush the last bits (padding 0); returns the stream's bytes, or −1 past capacity. */
export function ecWriteEnd(): i64 {
  while (wBits > 0) {
    if (wPos >= wEnd) return -1;
    store<u8>(wPos, <u8>wAcc);
    wPos++; wAcc >>>= 8; wBits -= 8;
  }
  return <i64>(wPos - wStart);
}

// ------------------------------------------------------------------------------------------------ reader
let rAcc: u64 = 0, rBits: i32 = 0, rPos: usize = 0, rEnd: usize = 0, rLut: usize = 0, rMulti: usize = 0;

export function ecReadBegin(src: usize, len: i64, bits: i32): void {
  build(bits);
  rAcc = 0; rBits = 0; rPos = src; rEnd = src + <usize>len; rLut = lutOf(bits); rMulti = multiOf(bits);
}
/** Read n symbols into codes (or only walk them when codes is 0); false when a code runs past the stream. */
export function ecRead(codes: usize, n: i32): bool {
  let acc = rAcc, nb = rBits, pos = rPos, i = 0; // locals in the loop, as ecWrite
  const end = rEnd, lut = rLut, multi = rMulti;
  // Four look-ups of several codes per refill: the refill tops the buffer up to 56–63 bits from an 8-byte load,
  // advancing by whole bytes only (a branch-free bit reader), and four look-ups take at most 48 bits. Every entry
  // holds a code (each table is a complete code of lengths ≤ 12: tests/codec-ec.test.ts checks the Kraft sums), so
  // each look-up moves on.
  if (codes != 0) while (pos + 8 <= end && i + 13 <= n) {
    acc |= load<u64>(pos) << <u64>nb; pos += <usize>((63 - nb) >>> 3); nb |= 56;
    let e = load<u32>(multi + (<usize>(<i32>acc & (LUT_SIZE - 1)) << 2)), l = <i32>(e & 15);
    store<u32>(codes + i, e >>> 8); i += <i32>(e >>> 4) & 3; acc >>>= <u64>l; nb -= l;
    e = load<u32>(multi + (<usize>(<i32>acc & (LUT_SIZE - 1)) << 2)); l = <i32>(e & 15);
    store<u32>(codes + i, e >>> 8); i += <i32>(e >>> 4) & 3; acc >>>= <u64>l; nb -= l;
    e = load<u32>(multi + (<usize>(<i32>acc & (LUT_SIZE - 1)) << 2)); l = <i32>(e & 15);
    store<u32>(codes + i, e >>> 8); i += <i32>(e >>> 4) & 3; acc >>>= <u64>l; nb -= l;
    e = load<u32>(multi + (<usize>(<i32>acc & (LUT_SIZE - 1)) << 2)); l = <i32>(e & 15);
    store<u32>(codes + i, e >>> 8); i += <i32>(e >>> 4) & 3; acc >>>= <u64>l; nb -= l;
  }
  // Then one look-up at a time while 12 bits are in hand and 4 code bytes fit (3 written, 1 spare)
  if (codes != 0) for (;;) {
    if (nb < EC_MAX_LEN) {
      if (pos + 4 > end) break;
      acc |= <u64>load<u32>(pos) << <u64>nb; pos += 4; nb += 32;
    }
    if (i + 4 > n) break;
    const e = load<u32>(multi + (<usize>(<i32>acc & (LUT_SIZE - 1)) << 2)), l = <i32>(e & 15);
    if (l == 0) return false; // no code starts with these bits
    store<u32>(codes + i, e >>> 8); // the bytes past this look-up's codes are rewritten by the next ones
    i += <i32>(e >>> 4) & 3;
    acc >>>= <u64>l; nb -= l;
  }
  for (; i < n; i++) {
    if (nb < EC_MAX_LEN) {
      if (pos + 4 <= end) { acc |= <u64>load<u32>(pos) << <u64>nb; pos += 4; nb += 32; }
      else while (pos < end && nb <= 56) { acc |= <u64>load<u8>(pos) << <u64>nb; pos++; nb += 8; }
    }
    const e = <i32>load<u16>(lut + (<usize>(<i32>acc & (LUT_SIZE - 1)) << 1)), l = e & 15;
    if (l == 0 || l > nb) return false; // past the end, the table saw zero bits that are not in the stream
    if (codes != 0) store<u8>(codes + i, <u8>(e >>> 4));
    acc >>>= <u64>l; nb -= l;
  }
  rAcc = acc; rBits = nb; rPos = pos;
  return true;
}
/** After the last symbol: true when fewer than 8 bits are left and they are 0 (the stream's padding). */
export function ecReadEnd(): bool { return rPos == rEnd && rBits < 8 && rAcc == 0; }
