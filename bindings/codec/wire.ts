// Header, codec ids, section layout and error codes of docs/wire-format.md, shared by reference and SIMD paths.
export const MAGIC = 0x5054424c;
export const VERSION = 1;
export const HEADER_BYTES = 32;

export const enum CodecId { F32 = 0, BF16 = 1, F16 = 2, IntGroup = 3, IntStatic = 4, OutlierStatic = 5, OutlierGroup = 6 }
export const CODEC_NAMES = ['f32', 'bf16', 'f16', 'int-group', 'int-static', 'outlier-static', 'outlier-group'];

export const FLAG_SYMMETRIC = 1;
export const FLAG_INDICES_ON_WIRE = 2;
export const FLAG_OUTLIER_F16 = 4;

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
}

export interface Layout {
  coded: number;      // C: coded features per row (§3)
  groups: number;     // groups per row (0 without groups)
  idxOff: number; valOff: number; scaleOff: number; minOff: number; codeOff: number;
  rowCodeBytes: number; excOff: number;
}

/** Section offsets of §3; every size follows from the header fields. */
export function layoutOf(h: Omit<Header, 'exceptions' | 'totalBytes'>): Layout {
  const { codec, bits, flags, groupSize, tokens, features, outliers } = h;
  const float = codec <= CodecId.F16;
  const coded = codec === CodecId.OutlierStatic ? features - outliers : features;
  const grouped = codec === CodecId.IntGroup || codec === CodecId.OutlierGroup;
  const groups = grouped ? Math.ceil(coded / groupSize) : 0;
  const idxOff = HEADER_BYTES;
  const valOff = idxOff + ((flags & FLAG_INDICES_ON_WIRE) !== 0 ? outliers * 4 : 0);
  const scaleOff = valOff + tokens * outliers * 2;
  const minOff = scaleOff + tokens * groups * 2;
  const codeOff = minOff + ((flags & FLAG_SYMMETRIC) === 0 ? tokens * groups * 2 : 0);
  const rowCodeBytes = float ? features * (bits >>> 3) : Math.ceil(coded / 8) * bits;
  const excOff = codeOff + tokens * rowCodeBytes;
  return { coded, groups, idxOff, valOff, scaleOff, minOff, codeOff, rowCodeBytes, excOff };
}

export function writeHeader(dv: DataView, h: Header): void {
  dv.setUint32(0, MAGIC, true); dv.setUint8(4, VERSION); dv.setUint8(5, h.codec); dv.setUint8(6, h.bits);
  dv.setUint8(7, h.flags); dv.setUint16(8, h.groupSize, true); dv.setUint16(10, 0, true);
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
    exceptions: dv.getUint32(24, true), totalBytes: dv.getUint32(28, true),
  };
}

/** Exceptions beyond this count make the encoder fall back to f32 (§6). */
export const maxExceptions = (n: number): number => Math.floor(n / 64);
