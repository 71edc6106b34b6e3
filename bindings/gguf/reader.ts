// GGUF reader: header, metadata, tensor infos and data offsets, over bytes already in memory (any runtime).
// Every length is checked against the buffer, so a truncated or malformed file gives an error naming what broke.
// Why not @huggingface/gguf: it is built around ranged fetches of remote files; we need one strict, zero-copy
// parser over an in-memory buffer for Node, Deno, browsers and workers alike, with errors that name the field.
import { GGML_TYPES, typeInfo } from './types.js';

export type MetaValue = number | bigint | boolean | string | MetaValue[];
export interface TensorInfo { name: string; dims: number[]; type: number; offset: number; elements: number; bytes: number }
export interface Gguf {
  version: number;
  metadata: Map<string, MetaValue>;
  tensors: Map<string, TensorInfo>;
  dataOffset: number;
  bytes: Uint8Array;   // the file, or only its header prefix (bindings/gguf/source.ts)
  fileSize: number;
}

export class GgufError extends Error {
  constructor(message: string) { super(`GGUF: ${message}`); this.name = 'GgufError'; }
}

const GGUF_MAGIC = 0x46554747; // "GGUF"
const MAX_COUNT = 1 << 24;

class Cursor {
  pos = 0;
  private dv: DataView;
  private text = new TextDecoder('utf-8', { fatal: false });
  constructor(private bytes: Uint8Array) { this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength); }
  need(n: number, what: string): void {
    if (this.pos + n > this.bytes.length) throw new GgufError(`file truncated while reading ${what} at byte ${this.pos} (needs ${n}, file has ${this.bytes.length})`);
  }
  u8(w: string): number { this.need(1, w); return this.dv.getUint8(this.pos++); }
  i8(w: string): number { this.need(1, w); return this.dv.getInt8(this.pos++); }
  u16(w: string): number { this.need(2, w); const v = this.dv.getUint16(this.pos, true); this.pos += 2; return v; }
  i16(w: string): number { this.need(2, w); const v = this.dv.getInt16(this.pos, true); this.pos += 2; return v; }
  u32(w: string): number { this.need(4, w); const v = this.dv.getUint32(this.pos, true); this.pos += 4; return v; }
  i32(w: string): number { this.need(4, w); const v = this.dv.getInt32(this.pos, true); this.pos += 4; return v; }
  f32(w: string): number { this.need(4, w); const v = this.dv.getFloat32(this.pos, true); this.pos += 4; return v; }
  f64(w: string): number { this.need(8, w); const v = this.dv.getFloat64(this.pos, true); this.pos += 8; return v; }
  u64(w: string): bigint { this.need(8, w); const v = this.dv.getBigUint64(this.pos, true); this.pos += 8; return v; }
  i64(w: string): bigint { this.need(8, w); const v = this.dv.getBigInt64(this.pos, true); this.pos += 8; return v; }
  /** A u64 that must fit a JS number and stay under `max`. */
  size(w: string, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.u64(w);
    if (v > BigInt(max)) throw new GgufError(`${w} is ${v}, beyond the limit ${max}: malformed file`);
    return Number(v);
  }
  str(w: string): string {
    const n = this.size(`${w} length`, this.bytes.length);
    this.need(n, w);
    const s = this.text.decode(this.bytes.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
}

function readValue(c: Cursor, type: number, key: string, depth = 0): MetaValue {
  switch (type) {
    case 0: return c.u8(key); case 1: return c.i8(key); case 2: return c.u16(key); case 3: return c.i16(key);
    case 4: return c.u32(key); case 5: return c.i32(key); case 6: return c.f32(key); case 7: return c.u8(key) !== 0;
    case 8: return c.str(key); case 10: return c.u64(key); case 11: return c.i64(key); case 12: return c.f64(key);
    case 9: {
      if (depth > 2) throw new GgufError(`metadata "${key}": arrays nested too deep`);
      const et = c.u32(`${key} array type`);
      const n = c.size(`${key} array length`, MAX_COUNT * 16);
      const out: MetaValue[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = readValue(c, et, key, depth + 1);
      return out;
    }
    default: throw new GgufError(`metadata "${key}" has unknown value type ${type}`);
  }
}

/** `bytes`: the file, or a prefix holding at least its header (then `fileSize` is the whole file's size). */
export function parseGguf(bytes: Uint8Array, fileSize = bytes.length): Gguf {
  const c = new Cursor(bytes);
  if (bytes.length < 4 || c.u32('magic') !== GGUF_MAGIC) throw new GgufError('not a GGUF file (bad magic)');
  const version = c.u32('version');
  if (version < 2 || version > 3) throw new GgufError(`unsupported GGUF version ${version} (2 and 3 are supported)`);
  const nTensors = c.size('tensor count', MAX_COUNT);
  const nKv = c.size('metadata count', MAX_COUNT);
  const metadata = new Map<string, MetaValue>();
  for (let i = 0; i < nKv; i++) {
    const key = c.str(`metadata key #${i}`);
    metadata.set(key, readValue(c, c.u32(`type of "${key}"`), key));
  }
  const infos: TensorInfo[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = c.str(`tensor name #${i}`);
    const nd = c.u32(`dims of ${name}`);
    if (nd < 1 || nd > 4) throw new GgufError(`tensor ${name} has ${nd} dimensions`);
    const dims: number[] = [];
    for (let d = 0; d < nd; d++) dims.push(c.size(`dim ${d} of ${name}`, 1 << 30));
    const type = c.u32(`type of ${name}`);
    const offset = c.size(`offset of ${name}`, fileSize);
    const t = GGML_TYPES.get(type);
    if (!t) throw new GgufError(`tensor ${name} has unsupported type ${type}`);
    const elements = dims.reduce((a, b) => a * b, 1);
    if (dims[0] % t.blockSize !== 0) throw new GgufError(`tensor ${name}: row of ${dims[0]} is not a multiple of the ${t.name} block (${t.blockSize})`);
    infos.push({ name, dims, type, offset, elements, bytes: (elements / t.blockSize) * t.blockBytes });
  }
  const align = Number(metadata.get('general.alignment') ?? 32);
  if (!Number.isInteger(align) || align < 1 || align > 1 << 16) throw new GgufError(`bad general.alignment ${align}`);
  const dataOffset = Math.ceil(c.pos / align) * align;
  const tensors = new Map<string, TensorInfo>();
  for (const t of infos) {
    if (t.offset % align !== 0) throw new GgufError(`tensor ${t.name} offset ${t.offset} is not aligned to ${align}`);
    const end = dataOffset + t.offset + t.bytes;
    if (end > fileSize) throw new GgufError(`file truncated: tensor ${t.name} ends at byte ${end}, file has ${fileSize}`);
    tensors.set(t.name, t);
  }
  return { version, metadata, tensors, dataOffset, bytes, fileSize };
}

/** Raw bytes of one tensor (a view, no copy). */
export function tensorBytes(g: Gguf, name: string): Uint8Array {
  const t = g.tensors.get(name);
  if (!t) throw new GgufError(`tensor ${name} not found`);
  if (g.dataOffset + t.offset + t.bytes > g.bytes.length) throw new GgufError(`tensor ${name} lies beyond the header prefix in memory: read it with readTensor`);
  return g.bytes.subarray(g.dataOffset + t.offset, g.dataOffset + t.offset + t.bytes);
}

export function meta<T extends MetaValue>(g: Gguf, key: string, fallback?: T): T {
  const v = g.metadata.get(key);
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new GgufError(`metadata key "${key}" missing`);
  }
  return v as T;
}

export const typeName = (type: number): string => typeInfo(type).name;
