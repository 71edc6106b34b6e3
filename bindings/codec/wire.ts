// Header, codec ids, section layout and error codes of docs/wire-format.md, shared by reference and SIMD paths.
export const MAGIC = 0x5054424c;
export const VERSION = 1;
export const HEADER_BYTES = 32;

export const enum CodecId { F32 = 0, BF16 = 1, F16 = 2, IntGroup = 3, IntStatic = 4, OutlierStatic = 5, OutlierGroup = 6, Rotated = 7 }
export const CODEC_NAMES = ['f32', 'bf16', 'f16', 'int-group', 'int-static', 'outlier-static', 'outlier-group', 'rotated'];

export const FLAG_SYMMETRIC = 1;
export const FLAG_INDICES_ON_WIRE = 2;
export const FLAG_OUTLIER_F16 = 4;
/** Static codecs only: outlier-token rows sent raw in bf16 (§10); their count is the header's u16 at offset 10. */
export const FLAG_RAW_ROWS = 16;
/** A row is sent raw when a coded value leaves its calibrated range by more than this many range widths (§10). */
export const ROW_MARGIN = 1;
/** At most ⌈tokens/16⌉ raw rows per block, the first ones in row order (§10). */
export const maxRawRows = (tokens: number): number => Math.ceil(tokens / 16);
/** Codec 7 only: the rotation block R is 128 (else 64). */
export const FLAG_ROT128 = 8;
/** Codec 7 only, 2–4 bits: Lloyd–Max levels for a Gaussian instead of uniform ones (§9, `-lm`; levels.ts). */
export const FLAG_LEVELS = 32;
/** Codec 7 only, 2–6 bits: 2M + 1 uniform levels, zero included, Huffman-coded in one stream per block (§12, `-ec`). */
export const FLAG_ENTROPY = 64;
/** Codec 7 with FLAG_ENTROPY only: one step per row from the row's RMS instead of a scale per group (§13, `-row-ec`). */
export const FLAG_ROW_STEP = 128;

/** Codec 7 (§9): a row of F features is cut into R-blocks, then the rest into descending powers of two. */
export function rotBlocks(F: number, R: number): { start: number; width: number }[] {
  const out: { start: number; width: number }[] = [];
  let a = 0;
  for (; a + R <= F; a += R) out.push({ start: a, width: R });
  for (let w = R >>> 1; w >= 1; w >>>= 1) if (a + w <= F) { out.push({ start: a, width: w }); a += w; }
  return out;
}
/** Scale groups per row of codec 7: each block holds ⌈w/G⌉ groups. */
export function rotGroups(F: number, R: number, G: number): number {
  return rotBlocks(F, R).reduce((s, b) => s + Math.ceil(b.width / G), 0);
}
export const rotBlockOf = (flags: number): number => ((flags & FLAG_ROT128) !== 0 ? 128 : 64);

/** Negative status codes returned by the wasm kernel; the reference throws WireFormatError with the same code. */
export const ERR = {
  BAD_MAGIC: -1, BAD_VERSION: -2, TRUNCATED: -3, CONTEXT_MISMATCH: -4, BAD_OUTLIER_INDEX: -5,
  BAD_EXCEPTION: -6, CAPACITY: -7, BAD_HEADER: -8,
} as const;
const ERR_TEXT: Record<number, string> = {
  [-1]: 'not a lowbit-tp block (bad magic)', [-2]: 'unsupported wire-format version',
  [-3]: 'truncated block: the header promises more bytes than were given',
  [-4]: 'block was encoded with another codec, shape or calibration than this decoder holds',
  [-5]: 'outlier indices out of range or not strictly ascending', [-6]: 'exception list out of range or unsorted',
  [-7]: 'output or scratch buffer too small', [-8]: 'inconsistent header fields',
};

export class WireFormatError extends Error {
  constructor(readonly code: number, detail = '') {
    super(`wire format (docs/wire-format.md): ${ERR_TEXT[code] ?? `error ${code}`}${detail ? `: ${detail}` : ''}`);
    this.name = 'WireFormatError';
  }
}

export interface Header {
  codec: number; bits: number; flags: number; groupSize: number;
  tokens: number; features: number; outliers: number; exceptions: number; totalBytes: number;
  rawRows?: number;   // §10: rows sent raw (flag bit4), the u16 at offset 10
}

export interface Layout {
  coded: number;      // C: coded features per row (§3)
  groups: number;     // groups per row (0 without groups)
  idxOff: number; valOff: number; scaleOff: number; minOff: number; codeOff: number;
  rowCodeBytes: number; excOff: number;
  excEntry: number;   // bytes per exception entry: 8, or 4 + 4R for codec 7's raw blocks (§9)
}
/** §10: the raw-row section follows the exceptions: W × u32 row index, then W × F × bf16. */
export const rawRowBytes = (features: number): number => 4 + 2 * features;

/** Section offsets of §3; every size follows from the header fields. */
export function layoutOf(h: Omit<Header, 'exceptions' | 'totalBytes'>): Layout {
  const { codec, bits, flags, groupSize, tokens, features, outliers } = h;
  const float = codec <= CodecId.F16;
  const coded = codec === CodecId.OutlierStatic ? features - outliers : features;
  const grouped = codec === CodecId.IntGroup || codec === CodecId.OutlierGroup;
  const rot = codec === CodecId.Rotated;
  const groups = rot ? ((flags & FLAG_ROW_STEP) !== 0 ? 1 : rotGroups(features, rotBlockOf(flags), groupSize)) : grouped ? Math.ceil(coded / groupSize) : 0;
  const idxOff = HEADER_BYTES;
  const valOff = idxOff + ((flags & FLAG_INDICES_ON_WIRE) !== 0 ? outliers * 4 : 0);
  const scaleOff = valOff + tokens * outliers * 2;
  const minOff = scaleOff + tokens * groups * 2;
  const codeOff = minOff + ((flags & FLAG_SYMMETRIC) === 0 && !rot ? tokens * groups * 2 : 0);
  // §12: the entropy-coded stream has no fixed size; it starts at codeOff and runs to the end of the block
  const rowCodeBytes = float ? features * (bits >>> 3) : rot && (flags & FLAG_ENTROPY) !== 0 ? 0 : Math.ceil(coded / 8) * bits;
  const excOff = codeOff + tokens * rowCodeBytes;
  const excEntry = rot ? 4 + 4 * rotBlockOf(flags) : 8;
  return { coded, groups, idxOff, valOff, scaleOff, minOff, codeOff, rowCodeBytes, excOff, excEntry };
}

export function writeHeader(dv: DataView, h: Header): void {
  dv.setUint32(0, MAGIC, true); dv.setUint8(4, VERSION); dv.setUint8(5, h.codec); dv.setUint8(6, h.bits);
  dv.setUint8(7, h.flags); dv.setUint16(8, h.groupSize, true); dv.setUint16(10, h.rawRows ?? 0, true);
  dv.setUint32(12, h.tokens, true); dv.setUint32(16, h.features, true); dv.setUint32(20, h.outliers, true);
  dv.setUint32(24, h.exceptions, true); dv.setUint32(28, h.totalBytes, true);
}

export function readHeader(bytes: Uint8Array): Header {
  if (bytes.length < HEADER_BYTES) throw new WireFormatError(ERR.TRUNCATED, `${bytes.length} bytes < header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== MAGIC) throw new WireFormatError(ERR.BAD_MAGIC);
  if (dv.getUint8(4) !== VERSION) throw new WireFormatError(ERR.BAD_VERSION, `version ${dv.getUint8(4)}`);
  return {
    codec: dv.getUint8(5), bits: dv.getUint8(6), flags: dv.getUint8(7), groupSize: dv.getUint16(8, true),
    tokens: dv.getUint32(12, true), features: dv.getUint32(16, true), outliers: dv.getUint32(20, true),
    exceptions: dv.getUint32(24, true), totalBytes: dv.getUint32(28, true), rawRows: dv.getUint16(10, true),
  };
}

/** Exceptions beyond this count make the encoder fall back to f32 (§6). */
export const maxExceptions = (n: number): number => Math.floor(n / 64);
