// A minimal GGUF writer: small files for tests (to parse, truncate, corrupt) and synthetic models for benchmarks.
import { typeInfo } from './types.js';
export type Kv = [string, 'u32' | 'f32' | 'str' | 'strs' | 'i32s', number | string | string[] | number[]];
export interface TensorSpec { name: string; dims: number[]; type: number; data: Uint8Array }

export function writeGguf(kvs: Kv[], tensors: TensorSpec[], align = 32): Uint8Array {
  const parts: number[] = [];
  const u32 = (v: number) => { parts.push(v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255); };
  const u64 = (v: number) => { u32(v); u32(0); };
  const str = (s: string) => { const b = new TextEncoder().encode(s); u64(b.length); parts.push(...b); };
  u32(0x46554747); u32(3); u64(tensors.length); u64(kvs.length);
  for (const [k, t, v] of kvs) {
    str(k);
    if (t === 'u32') { u32(4); u32(v as number); }
    else if (t === 'f32') { u32(6); const f = new Float32Array([v as number]); parts.push(...new Uint8Array(f.buffer)); }
    else if (t === 'str') { u32(8); str(v as string); }
    else if (t === 'strs') { u32(9); u32(8); u64((v as string[]).length); for (const s of v as string[]) str(s); }
    else { u32(9); u32(5); u64((v as number[]).length); for (const n of v as number[]) u32(n); }
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    str(t.name); u32(t.dims.length); for (const d of t.dims) u64(d); u32(t.type);
    offsets.push(offset); u64(offset);
    offset = Math.ceil((offset + t.data.length) / align) * align;
  }
  while (parts.length % align) parts.push(0);
  const head = parts.length;
  const end = tensors.reduce((m, t, i) => Math.max(m, offsets[i] + t.data.length), 0); // no padding after the last tensor
  const out = new Uint8Array(head + end);
  out.set(parts);
  tensors.forEach((t, i) => out.set(t.data, head + offsets[i]));
  return out;
}

// ---- Streaming: the header alone, for files too large to hold in memory (synthetic multi-GB models) ----

/** Header metadata: the types writeGguf takes, plus booleans and u64s. */
export type HeaderKv = Kv | [string, 'bool', boolean] | [string, 'u64', number];
export interface TensorPlan { name: string; dims: number[]; type: number }
export interface GgufHeader {
  header: Uint8Array;   // magic … tensor infos, zero-padded to `align`: tensor data starts right after it
  offsets: number[];    // each tensor's offset from the start of the data section (multiples of `align`)
  sizes: number[];      // each tensor's data bytes
  dataBytes: number;    // end of the last tensor's data (no padding after it), from the data section's start
  fileBytes: number;    // header.length + dataBytes
}

/** Bytes of a tensor of `dims` and ggml `type`. */
export function tensorDataBytes(dims: number[], type: number): number {
  const t = typeInfo(type), n = dims.reduce((a, b) => a * b, 1);
  if (dims[0] % t.blockSize) throw new Error(`row of ${dims[0]} is not a multiple of the ${t.name} block (${t.blockSize})`);
  return (n / t.blockSize) * t.blockBytes;
}

/**
 * The GGUF v3 header for `tensors` laid out in order, each aligned to `align`: the caller writes `header`, then each
 * tensor's bytes at header.length + offsets[i] (zeros between). Offsets are full u64s (files may exceed 4 GiB).
 */
export function ggufHeader(kvs: HeaderKv[], tensors: TensorPlan[], align = 32): GgufHeader {
  let buf = new Uint8Array(1 << 16), dv = new DataView(buf.buffer), n = 0;
  const room = (k: number) => {
    if (n + k <= buf.length) return;
    const b = new Uint8Array(Math.max(buf.length * 2, n + k)); b.set(buf.subarray(0, n)); buf = b; dv = new DataView(buf.buffer);
  };
  const enc = new TextEncoder();
  const u32 = (v: number) => { room(4); dv.setUint32(n, v, true); n += 4; };
  const u64 = (v: number) => { room(8); dv.setBigUint64(n, BigInt(v), true); n += 8; };
  const str = (s: string) => { const b = enc.encode(s); u64(b.length); room(b.length); buf.set(b, n); n += b.length; };
  u32(0x46554747); u32(3); u64(tensors.length); u64(kvs.length);
  for (const [k, t, v] of kvs) {
    str(k);
    if (t === 'u32') { u32(4); u32(v as number); }
    else if (t === 'f32') { u32(6); room(4); dv.setFloat32(n, v as number, true); n += 4; }
    else if (t === 'bool') { u32(7); room(1); buf[n++] = v ? 1 : 0; }
    else if (t === 'u64') { u32(10); u64(v as number); }
    else if (t === 'str') { u32(8); str(v as string); }
    else if (t === 'strs') { u32(9); u32(8); u64((v as string[]).length); for (const s of v as string[]) str(s); }
    else { u32(9); u32(5); u64((v as number[]).length); for (const x of v as number[]) u32(x); }
  }
  const offsets: number[] = [], sizes: number[] = [];
  let offset = 0, dataBytes = 0;
  for (const t of tensors) {
    const size = tensorDataBytes(t.dims, t.type);
    str(t.name); u32(t.dims.length); for (const d of t.dims) u64(d); u32(t.type); u64(offset);
    offsets.push(offset); sizes.push(size);
    dataBytes = offset + size;
    offset = Math.ceil(dataBytes / align) * align;
  }
  const head = Math.ceil(n / align) * align;
  room(head - n);
  const header = buf.slice(0, head); // bytes past n are still zero
  return { header, offsets, sizes, dataBytes, fileBytes: head + dataBytes };
}
