// A minimal GGUF writer: small files for tests (to parse, truncate, corrupt) and synthetic models for benchmarks.
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
