// Wire frames between shard processes: [u32 length][u8 type][u32 round][u16 from][payload], little-endian, where
// `length` counts the bytes after itself (7 + payload). Raw TCP (node:net) rather than WebSocket: one dependency
// less, no per-frame masking of every payload byte (ws clients must XOR-mask), Node and Deno both ship node:net,
// and browsers can't host a shard anyway (they can't listen). A data frame's payload is exactly the encoded
// blocks the in-memory link carries (tp/link.ts) plus an 8-byte split header, so the codecs' bytes are the wire's.
//
// The decoder is the only code that reads bytes from a peer before they are trusted: a frame's length is checked
// against the connection's cap (set from the plan's link caps once the peer is known) before anything is
// allocated; an unknown type or a short header is an error for that connection, never for the process.
export const PROTOCOL_VERSION = 1;
export const HEADER = 11;        // u32 length + u8 type + u32 round + u16 from
const INNER = HEADER - 4;

export enum FrameType {
  Challenge = 1, // server → client: u16 version, 32-byte nonce
  Auth = 2,      // client → server: HMAC(secret, 'client' | server nonce) [32], client nonce [32], hello (JSON)
  Welcome = 3,   // server → client: HMAC(secret, 'server' | client nonce) [32], info (JSON)
  Refuse = 4,    // server → client, after authentication only: why (UTF-8)
  Request = 5,   // root → shard: a control request (v8 serialization; control path, never per all-reduce)
  Reply = 6,     // shard → root: a reply or a progress note
  Data = 7,      // shard ↔ shard: one round's messages from `from` (payload: see socket-link.ts)
}
const MAX_TYPE = 7;

export class FrameError extends Error {
  constructor(m: string) { super(m); this.name = 'FrameError'; }
}

export interface Frame { type: FrameType; round: number; from: number; payload: Uint8Array }

/** The 11 header bytes of a frame whose payload is n bytes. */
export function frameHeader(type: FrameType, round: number, from: number, n: number): Uint8Array {
  const out = new Uint8Array(HEADER), dv = new DataView(out.buffer);
  dv.setUint32(0, INNER + n, true); dv.setUint8(4, type); dv.setUint32(5, round >>> 0, true); dv.setUint16(9, from, true);
  return out;
}

/** One frame's bytes (the payload parts are concatenated after the header). */
export function encodeFrame(type: FrameType, round: number, from: number, ...parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(HEADER + n), dv = new DataView(out.buffer);
  dv.setUint32(0, INNER + n, true); dv.setUint8(4, type); dv.setUint32(5, round >>> 0, true); dv.setUint16(9, from, true);
  let at = HEADER;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/**
 * The payload length of the frame whose 11 header bytes are at `at` in `dv`, or a FrameError if its length, type or
 * size is wrong. The only check of a header: the decoder below and the worker's own reads (peer-reader.ts) use it.
 */
export function checkHeader(dv: DataView, at: number, maxPayload: number, allowed: (t: FrameType) => boolean): number {
  const len = dv.getUint32(at, true), type = dv.getUint8(at + 4);
  if (len < INNER) throw new FrameError(`frame length ${len} shorter than its header`);
  if (type < 1 || type > MAX_TYPE) throw new FrameError(`unknown frame type ${type}`);
  if (!allowed(type)) throw new FrameError(`frame type ${type} not allowed in this state`);
  const n = len - INNER;
  if (n > maxPayload) throw new FrameError(`frame of ${n} bytes exceeds the cap of ${maxPayload}`);
  return n;
}

/**
 * Streaming decoder: push() the chunks a socket delivers, get whole frames back. `maxPayload` may change as the
 * connection's state does (tiny before authentication, the plan's caps after). A payload is a view into a chunk
 * when the frame lies in one chunk (the caller copies what it keeps), else a fresh buffer of the checked length.
 */
export class FrameDecoder {
  private chunks: Uint8Array[] = [];
  private have = 0;
  private head = new Uint8Array(HEADER);
  private failed: FrameError | null = null;

  constructor(public maxPayload: number, public allowed: (t: FrameType) => boolean = () => true) {}

  /** Bytes held of a frame not yet complete (0: the stream so far ended on a frame boundary). */
  get buffered(): number { return this.have; }

  push(chunk: Uint8Array): Frame[] {
    if (this.failed) throw this.failed;
    if (chunk.length) { this.chunks.push(chunk); this.have += chunk.length; }
    const out: Frame[] = [];
    try {
      while (this.have >= HEADER) {
        this.peek(this.head, HEADER);
        const dv = new DataView(this.head.buffer), n = checkHeader(dv, 0, this.maxPayload, this.allowed);
        if (this.have < HEADER + n) break;
        this.take(HEADER);
        out.push({ type: dv.getUint8(4), round: dv.getUint32(5, true), from: dv.getUint16(9, true), payload: this.take(n) });
      }
    } catch (e) {
      this.failed = e instanceof FrameError ? e : new FrameError(String(e));
      this.chunks = []; this.have = 0;
      throw this.failed;
    }
    return out;
  }

  /** Copy the first n buffered bytes into dst without consuming them. */
  private peek(dst: Uint8Array, n: number): void {
    let at = 0;
    for (const c of this.chunks) {
      const k = Math.min(c.length, n - at);
      dst.set(c.subarray(0, k), at); at += k;
      if (at === n) return;
    }
  }

  /** Consume n bytes: a view when they lie in the first chunk, else a copy. */
  private take(n: number): Uint8Array {
    this.have -= n;
    const c0 = this.chunks[0];
    if (n === 0) return new Uint8Array(0);
    if (c0.length >= n) {
      const v = c0.subarray(0, n);
      if (c0.length === n) this.chunks.shift(); else this.chunks[0] = c0.subarray(n);
      return v;
    }
    const out = new Uint8Array(n);
    for (let at = 0; at < n;) {
      const c = this.chunks[0], k = Math.min(c.length, n - at);
      out.set(c.subarray(0, k), at); at += k;
      if (k === c.length) this.chunks.shift(); else this.chunks[0] = c.subarray(k);
    }
    return out;
  }
}
