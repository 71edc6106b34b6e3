// Scalar reference of the Huffman stream of codec 7's entropy-coded variant (`-ec`, docs/wire-format.md §12).
// Canonical codes from the committed code lengths (entropy-tables.ts), packed as deflate packs Huffman codes: the
// stream is read LSB-first and each code's most significant bit comes first. Clarity first: the decoder walks the code
// one bit at a time (the counting method of zlib's puff.c), so it checks the SIMD kernel's table-driven decoder
// (assembly/codec_ec.ts) against an independent algorithm.
import { EC_BITS, EC_MAX_LEN, EC_ROW_BITS, EC_ROW_TABLES, EC_TABLES } from './entropy-tables.js';
import { ERR, WireFormatError } from './wire.js';

export interface HuffmanCode {
  M: number;               // codes −M … M, symbols 0 … 2M (L of a row-step table)
  lengths: number[];       // [symbol] code length in bits
  codes: number[];         // [symbol] canonical code (MSB-first value)
  count: number[];         // [length] how many codes have that length
  sorted: number[];        // symbols in canonical order (by length, then symbol)
}

const cache = new Map<number, HuffmanCode>();

/** The canonical Huffman code of nominal width b: §12's table (2 … 7), or with `rowStep` §13's (2 … 6). */
export function huffmanCode(bits: number, rowStep = false): HuffmanCode {
  const key = rowStep ? 100 + bits : bits;
  const hit = cache.get(key);
  if (hit) return hit;
  const t = rowStep ? EC_ROW_TABLES[bits] : EC_TABLES[bits];
  if (!t) throw new Error(rowStep ? `row-step levels (-row-ec) exist for ${EC_ROW_BITS.join(', ')} bits, not ${bits}` : `entropy-coded levels (-ec) exist for ${EC_BITS.join(', ')} bits, not ${bits}`);
  const M = 'L' in t ? t.L : t.M, { lengths } = t;
  const count = new Array(EC_MAX_LEN + 1).fill(0);
  for (const l of lengths) count[l]++;
  const next = new Array(EC_MAX_LEN + 2).fill(0);
  for (let l = 1, code = 0; l <= EC_MAX_LEN; l++) { code = (code + count[l - 1]) << 1; next[l] = code; }
  // count[0] is 0 here (every symbol has a code), so next[1] = 0 as deflate's construction gives
  const codes = lengths.map((l) => next[l]++);
  const sorted = lengths.map((l, s) => [l, s]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((x) => x[1]);
  const code = { M, lengths, codes, count, sorted };
  cache.set(key, code);
  return code;
}

/** Most bytes a stream of n symbols can take: every code at the longest length. */
export const maxStreamBytes = (n: number): number => Math.ceil((n * EC_MAX_LEN) / 8);

/** Pack symbols (0 … 2M) into a stream; the last byte's unused high bits are 0. */
export function writeStream(symbols: Uint8Array, hc: HuffmanCode): Uint8Array {
  let bitsTotal = 0;
  for (const s of symbols) bitsTotal += hc.lengths[s];
  const out = new Uint8Array(Math.ceil(bitsTotal / 8));
  let bit = 0;
  for (const s of symbols) {
    const l = hc.lengths[s], c = hc.codes[s];
    for (let k = l - 1; k >= 0; k--, bit++) if ((c >>> k) & 1) out[bit >>> 3] |= 1 << (bit & 7);
  }
  return out;
}

/**
 * Read n symbols from bytes[off, off + len). Throws a wire-format error when a code runs past the stream, when bytes
 * are left over after the n-th symbol, or when the padding bits of the last byte are not 0 (one stream per input).
 */
export function readStream(bytes: Uint8Array, off: number, len: number, n: number, hc: HuffmanCode): Uint8Array {
  const out = new Uint8Array(n);
  let bit = 0;
  const end = 8 * len;
  for (let i = 0; i < n; i++) {
    let code = 0, first = 0, index = 0;
    for (let l = 1; ; l++) {
      if (l > EC_MAX_LEN) throw new WireFormatError(ERR.BAD_HEADER, `invalid Huffman code at symbol ${i}`);
      if (bit >= end) throw new WireFormatError(ERR.TRUNCATED, `entropy-coded stream ends inside symbol ${i} of ${n}`);
      code |= (bytes[off + (bit >>> 3)] >>> (bit & 7)) & 1;
      bit++;
      const c = hc.count[l];
      if (code - first < c) { out[i] = hc.sorted[index + code - first]; break; }
      index += c; first = (first + c) << 1; code <<= 1;
    }
  }
  if (Math.ceil(bit / 8) !== len) throw new WireFormatError(ERR.BAD_HEADER, `entropy-coded stream has ${len} bytes, its ${n} symbols use ${Math.ceil(bit / 8)}`);
  for (; bit < end; bit++) if ((bytes[off + (bit >>> 3)] >>> (bit & 7)) & 1) throw new WireFormatError(ERR.BAD_HEADER, 'entropy-coded stream: nonzero padding bits');
  return out;
}
