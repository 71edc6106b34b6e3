// Where a GGUF file's bytes come from, read by range: a path (Node, Deno), a Blob/File (browsers, workers) or bytes
// already in memory (tests, edge runtimes). Nobody reads a whole 5–8 GB model into one buffer (ArrayBuffers stop
// short of that): the header is read by growing prefixes, each shard then reads only the tensor rows it owns.
import { Gguf, GgufError, parseGguf } from './reader.js';

/** Plain data, so it crosses to workers with postMessage (a Blob clones by reference; bytes are copied). */
export type ModelSource = { kind: 'path'; path: string } | { kind: 'blob'; blob: Blob } | { kind: 'bytes'; bytes: Uint8Array };

export interface ByteReader {
  size: number;
  /** `length` bytes from `offset` (a fresh buffer the caller may keep). */
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export async function openSource(src: ModelSource): Promise<ByteReader> {
  if (src.kind === 'bytes') {
    const b = src.bytes;
    return { size: b.length, read: async (o, n) => b.subarray(o, o + n), close: async () => {} };
  }
  if (src.kind === 'blob') {
    const b = src.blob;
    return { size: b.size, read: async (o, n) => new Uint8Array(await b.slice(o, o + n).arrayBuffer()), close: async () => {} };
  }
  const fs = await import('node:fs/promises'); // Node and Deno both provide node:fs
  let fh;
  try { fh = await fs.open(src.path, 'r'); } catch (e) { throw new Error(`cannot read model file ${src.path}: ${(e as Error).message}`); }
  const size = (await fh.stat()).size;
  return {
    size,
    async read(offset, length) {
      const out = new Uint8Array(length);
      for (let got = 0; got < length;) { // a read may return fewer bytes than asked (pipes, some file systems)
        const { bytesRead } = await fh.read(out, got, length - got, offset + got);
        if (bytesRead === 0) throw new GgufError(`file truncated: wanted bytes ${offset}…${offset + length}, file has ${size}`);
        got += bytesRead;
      }
      return out;
    },
    close: () => fh.close(),
  };
}

/**
 * The header of a GGUF file (metadata, tensor infos) without its tensor data: prefixes of 4, 16, 64 … MiB are parsed
 * until one holds the whole header; tensor bounds are checked against the file's real size. `g.bytes` then holds
 * only that prefix — read tensor data with `readTensor`.
 */
export async function readGgufHeader(r: ByteReader): Promise<Gguf> {
  for (let n = Math.min(r.size, 4 << 20); ; n = Math.min(r.size, n * 4)) {
    try { return parseGguf(await r.read(0, n), r.size); } catch (e) {
      if (n >= r.size || !(e instanceof GgufError) || !/truncated while reading/.test(e.message)) throw e;
    }
  }
}

/** Bytes [from, to) of tensor `name`'s data (offsets relative to the tensor's first byte). */
export async function readTensor(r: ByteReader, g: Gguf, name: string, from = 0, to?: number): Promise<Uint8Array> {
  const t = g.tensors.get(name);
  if (!t) throw new GgufError(`tensor ${name} not found`);
  const end = to ?? t.bytes;
  if (from < 0 || end > t.bytes || from > end) throw new GgufError(`tensor ${name}: bytes ${from}…${end} outside its ${t.bytes}`);
  return r.read(g.dataOffset + t.offset + from, end - from);
}

/** SHA-256 of the whole file, streamed where the runtime allows it (profiles are bound to the model's hash). */
export async function sha256Source(src: ModelSource): Promise<string> {
  const hex = (d: Uint8Array) => Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
  if (src.kind === 'path') {
    const [{ createHash }, { createReadStream }] = await Promise.all([import('node:crypto'), import('node:fs')]);
    const h = createHash('sha256');
    for await (const chunk of createReadStream(src.path, { highWaterMark: 8 << 20 })) h.update(chunk as Uint8Array);
    return h.digest('hex');
  }
  const bytes = src.kind === 'bytes' ? src.bytes : new Uint8Array(await src.blob.arrayBuffer());
  return hex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>)));
}
