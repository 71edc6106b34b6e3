// Compact header on the link (docs/wire-format.md §11). Between shards that hold the same site's codec context, most
// of a block's 32-byte header is known to both sides (codec, bits, flags, G, F, O) or implied by the round (tokens:
// every shard reduces the same rows; total: the message length). A decode-step message of 576 features at 4 bits is
// 288 bytes of codes + 72 of scales, so the full header alone would cost 0.44 bits/value; the link carries 8 bytes
// instead, and the receiver rebuilds the full header in front of them before the kernel decodes — so every field is
// still validated by the decoder as §1 says (a lying peer's length or counts fail there, never reach memory).
//   offset 0  u8   0xC7 (marks a compact header)
//   offset 1  u8   codec id actually used: the context's, or 0 when the encoder fell back to f32 (§6, §9)
//   offset 2  u16  raw-row count W (§10)
//   offset 4  u32  exception count X
import { CodecContext } from './spec.js';
import { ERR, HEADER_BYTES, MAGIC, VERSION, WireFormatError } from './wire.js';

export const COMPACT_BYTES = 8;
/** The full header is this much longer than the compact one: a message's compact form starts this far into its block. */
export const COMPACT_SKIP = HEADER_BYTES - COMPACT_BYTES;
const COMPACT_MARK = 0xc7;

/**
 * Rewrite the last 8 bytes of the full header at `off` as the compact header; the message to send is then
 * bytes[off + COMPACT_SKIP, off + total). Returns its length.
 */
export function compactHeader(bytes: Uint8Array, off: number, total: number): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset + off, HEADER_BYTES);
  const codec = dv.getUint8(5), W = dv.getUint16(10, true), X = dv.getUint32(24, true);
  dv.setUint8(COMPACT_SKIP, COMPACT_MARK); dv.setUint8(COMPACT_SKIP + 1, codec); dv.setUint16(COMPACT_SKIP + 2, W, true); dv.setUint32(COMPACT_SKIP + 4, X, true);
  return total - COMPACT_SKIP;
}

/**
 * A compact message of `len` bytes at bytes[off + COMPACT_SKIP …) from a shard whose codec context is `ctx`, for
 * `tokens` rows: write the full header in front of it (at `off`); returns the full block's length.
 */
export function expandHeader(ctx: CodecContext, tokens: number, bytes: Uint8Array, off: number, len: number): number {
  if (len < COMPACT_BYTES) throw new WireFormatError(ERR.TRUNCATED, `a compact message of ${len} bytes`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset + off, HEADER_BYTES);
  const mark = dv.getUint8(COMPACT_SKIP), codec = dv.getUint8(COMPACT_SKIP + 1);
  const W = dv.getUint16(COMPACT_SKIP + 2, true), X = dv.getUint32(COMPACT_SKIP + 4, true);
  if (mark !== COMPACT_MARK) throw new WireFormatError(ERR.BAD_MAGIC, 'not a compact header (§11)');
  const s = ctx.spec, fallback = codec === 0;
  if (!fallback && codec !== s.codec) throw new WireFormatError(ERR.CONTEXT_MISMATCH, `compact header names codec ${codec}, this site runs ${s.codec}`);
  dv.setUint32(0, MAGIC, true); dv.setUint8(4, VERSION); dv.setUint8(5, codec);
  dv.setUint8(6, fallback ? 32 : s.bits); dv.setUint8(7, fallback ? 0 : ctx.flags);
  dv.setUint16(8, fallback ? 0 : s.groupSize, true); dv.setUint16(10, W, true);
  dv.setUint32(12, tokens, true); dv.setUint32(16, ctx.features, true); dv.setUint32(20, fallback ? 0 : ctx.outliers.length, true);
  dv.setUint32(24, X, true); dv.setUint32(28, len + COMPACT_SKIP, true);
  return len + COMPACT_SKIP;
}
