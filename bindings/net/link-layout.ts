// The SharedArrayBuffer that a networked shard's worker (SocketLink, socket-link.ts) and its process's event loop
// (LinkPort, link-port.ts) share: the control words, two outboxes, two inboxes per peer and one read-staging area per
// peer, and the check every incoming Data frame passes before it lands in an inbox, whichever thread read it.
//   Data payload: [u32 bytes to all][u32 bytes to this peer][to-all bytes][to-this-peer bytes]
import { FrameType, frameHeader, HEADER } from './frame.js';

// Int32 words of the control block: OUT is the worker's doorbell for the loop (something handed over); per peer p
// (up to 64): IN[p] its last round received; FD[p] its socket's descriptor or −1; LOCK[p] 0 free / 1 worker / 2 loop;
// BACKLOG[p] the loop has bytes for p (the worker hands over instead of writing); HAND/SKIP[p][parity] the round
// handed to the loop and how many of its frame's bytes the worker already wrote; RD[p] who reads p's socket (RD_LOOP,
// RD_WORKER, or RD_BACK: the worker gave it back and the loop has not taken it yet); HAVE[p] bytes of an incomplete
// frame in p's staging area; DEAD[p] why the worker gave up on p's connection (DEAD_EOF, DEAD_ERROR, DEAD_MALFORMED)
// for the loop to close it. Counters (LinkPort.stats()): frames the worker wrote whole, handed over, handed over after
// a short write, read itself, and read-backs (the worker gave reading back to the loop).
export const ABORT = 0, OUT = 1, GEN = 2, DIRECT_N = 3, HANDED_N = 4, PARTIAL_N = 5, READ_N = 6, BACK_N = 7;
export const IN0 = 16, FD0 = 80, LOCK0 = 144, BACKLOG0 = 208, HAND0 = 272, SKIP0 = 400, RD0 = 528, HAVE0 = 592, DEAD0 = 656;
const CTRL = 720 * 4;
export const RD_LOOP = 0, RD_WORKER = 1, RD_BACK = 2;
export const DEAD_EOF = 1, DEAD_ERROR = 2, DEAD_MALFORMED = 3;
export const SPLIT = 8;                         // the payload's two lengths
const align64 = (x: number) => Math.ceil(x / 64) * 64;

export interface SocketLinkSpec {
  buffer: SharedArrayBuffer; size: number; rank: number; capAll: number; capOne: number;
  /** Peer names for errors ("shard 1 (10.0.0.2:7000)"). */
  names: string[];
  /** A fence waits at most this long for a peer's frame (default 5 s). */
  fenceMs: number;
  /** Whether the worker may read its peers' sockets itself (LOWBIT_TP_NET_DIRECT=read; the LinkPort grants it per socket). */
  read: boolean;
  /** How long the worker polls a socket it reads, in a fence, before it gives the reading back to the loop (µs). */
  spinUs: number;
}

function geometry(size: number, capAll: number, capOne: number) {
  const head = align64(4 + 4 * size), outOne = align64(capOne), outbox = head + align64(capAll) + size * outOne; // head: allLen, oneLen[peer]
  const inbox = align64(SPLIT + capAll + capOne), stage = align64(HEADER + SPLIT + capAll + capOne); // stage: one whole frame
  return { head, outOne, outbox, inbox, stage, bytes: CTRL + 2 * outbox + 2 * size * inbox + size * stage };
}

/**
 * LOWBIT_TP_NET_DIRECT: unset (or anything else), the worker writes its frames into the sockets itself and the loop
 * reads; `read`, the worker also reads the sockets itself during its fences (peer-reader.ts; not the default: slower
 * on the shared 2-core machine, docs/results/net-overhead.md); 0, the loop does both (the path before either existed).
 */
export function envDirect(): { write: boolean; read: boolean } {
  let v: string | undefined;
  try { v = globalThis.process?.env?.LOWBIT_TP_NET_DIRECT; } catch { /* Deno without --allow-env */ }
  return { write: v !== '0', read: v === 'read' };
}
/** LOWBIT_TP_NET_SPIN_US: how long the worker polls a socket it reads before the loop waits on it instead (µs). */
export const SPIN_US = 100;
function envSpinUs(): number {
  let v: string | undefined;
  try { v = globalThis.process?.env?.LOWBIT_TP_NET_SPIN_US; } catch { /* Deno without --allow-env */ }
  const n = Number(v);
  return v && Number.isFinite(n) && n >= 0 ? n : SPIN_US;
}

export function createSocketLink(size: number, rank: number, capAll: number, capOne: number, names: string[], fenceMs = 5000): SocketLinkSpec {
  if (size > 64) throw new Error('a socket link joins at most 64 shards');
  return { buffer: new SharedArrayBuffer(geometry(size, capAll, capOne).bytes), size, rank, capAll, capOne, names, fenceMs, read: envDirect().read, spinUs: envSpinUs() };
}

export class LinkAborted extends Error {
  constructor(m: string) { super(m); this.name = 'LinkAborted'; }
}

/** Where things are in the buffer (both ends use it). */
export class Layout {
  readonly ctrl: Int32Array;
  readonly u8: Uint8Array;
  readonly dv: DataView;
  readonly g: ReturnType<typeof geometry>;
  constructor(readonly spec: SocketLinkSpec) {
    this.ctrl = new Int32Array(spec.buffer, 0, CTRL / 4);
    this.u8 = new Uint8Array(spec.buffer);
    this.dv = new DataView(spec.buffer);
    this.g = geometry(spec.size, spec.capAll, spec.capOne);
  }
  outbox(parity: number): number { return CTRL + parity * this.g.outbox; }
  outAll(parity: number): number { return this.outbox(parity) + this.g.head; }
  outOne(parity: number, to: number): number { return this.outAll(parity) + align64(this.spec.capAll) + to * this.g.outOne; }
  inbox(from: number, parity: number): number { return CTRL + 2 * this.g.outbox + (from * 2 + parity) * this.g.inbox; }
  stage(from: number): number { return CTRL + 2 * this.g.outbox + 2 * this.spec.size * this.g.inbox + from * this.g.stage; }
  /** Largest Data payload a peer may send. */
  maxPayload(): number { return SPLIT + this.spec.capAll + this.spec.capOne; }
  /** Round r's Data frame to peer q, as [frame header + split header, to-all bytes, to-q bytes] (views into the outbox). */
  frame(r: number, q: number): Uint8Array[] {
    const p = (r - 1) & 1, box = this.outbox(p), nAll = this.dv.getUint32(box, true), nOne = this.dv.getUint32(box + 4 + 4 * q, true);
    const head = new Uint8Array(HEADER + SPLIT), hv = new DataView(head.buffer);
    head.set(frameHeader(FrameType.Data, r, this.spec.rank, SPLIT + nAll + nOne));
    hv.setUint32(HEADER, nAll, true); hv.setUint32(HEADER + 4, nOne, true);
    return [head, this.u8.subarray(this.outAll(p), this.outAll(p) + nAll), this.u8.subarray(this.outOne(p, q), this.outOne(p, q) + nOne)];
  }

  /**
   * A Data frame of `round` (1-based) from peer `from`, its payload `payload` (a view anywhere): checked, copied into
   * the inbox of its parity, published (IN[from]), the waiting worker woken. Throws if it is out of order or malformed
   * (the reader closes that connection). Both readers use it, so a frame passes the same checks whoever read it.
   */
  deliver(from: number, round: number, payload: Uint8Array): void {
    const S = this.spec, c = this.ctrl;
    if (from >= S.size || from === S.rank) throw new Error(`data frame from unknown shard ${from}`);
    const expect = Atomics.load(c, IN0 + from) + 1;
    if (round !== expect) throw new Error(`data frame for round ${round} from shard ${from}, expected round ${expect}`);
    if (payload.length < SPLIT) throw new Error('data frame shorter than its split header');
    const pv = new DataView(payload.buffer, payload.byteOffset, payload.length);
    const nAll = pv.getUint32(0, true), nOne = pv.getUint32(4, true);
    if (nAll > S.capAll || nOne > S.capOne || SPLIT + nAll + nOne !== payload.length) throw new Error(`data frame from shard ${from}: lengths ${nAll} + ${nOne} do not match its ${payload.length} bytes or the caps`);
    this.u8.set(payload, this.inbox(from, (round - 1) & 1));
    Atomics.store(c, IN0 + from, round);
    Atomics.add(c, GEN, 1);
    Atomics.notify(c, GEN);
  }
}

/** Parts from byte `skip` on (views). */
export function after(parts: Uint8Array[], skip: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const x of parts) {
    if (skip >= x.length) { skip -= x.length; continue; }
    out.push(skip ? x.subarray(skip) : x); skip = 0;
  }
  return out;
}
export const total = (parts: Uint8Array[]) => parts.reduce((a, x) => a + x.length, 0);
