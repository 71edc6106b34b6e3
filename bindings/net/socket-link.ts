// The Link (tp/link.ts) of a shard whose peers are in other processes. The shard computes synchronously in a worker
// thread; the sockets live on its process's event loop. They meet in one SharedArrayBuffer:
//   worker  send(): copy into the outbox of this round's parity    fence(): write one Data frame per peer straight
//           into that peer's socket (writev on its file descriptor, non-blocking), then Atomics.wait until every
//           peer's frame of this round is in its inbox (IN[p]), or the deadline / abort
//   loop    LinkPort: on a Data frame, copy it into the inbox of (from, parity), bump IN[from], notify; and send
//           what the worker handed it (HAND): a frame the socket would not take at once (the kernel's buffer full:
//           EAGAIN or a short write; the loop writes the rest, and every later frame to that peer, until its queue
//           is empty again: BACKLOG), or every frame where there is no descriptor (not Unix, or LOWBIT_TP_NET_DIRECT=0)
// The direct write saves the worker → event loop wake-up on every round (measured: scripts/net-overhead.ts). The
// descriptor is only used under LOCK[p], and the loop revokes it (FD[p] = −1, under the lock) before the socket
// closes, so the worker never writes to a closed or reused descriptor; the loop never writes while the worker's
// frame is incomplete, and the worker never writes while the loop has bytes queued for that peer.
// Rounds alternate between two outboxes and two inboxes per peer, as in SharedLink: a peer sends round r + 2 only
// after its fence r + 1, which needs our round r + 1 frame, which we publish only after we finished reading round r.
// One Data frame per peer per round, even an empty one: it is what the peer's fence waits for.
//   Data payload: [u32 bytes to all][u32 bytes to this peer][to-all bytes][to-this-peer bytes]
import { writevSync } from 'node:fs';
import type { Socket } from 'node:net';
import { Link } from '../tp/link.js';
import { FrameType, frameHeader, HEADER } from './frame.js';

// Int32 words of the control block: OUT is the worker's doorbell for the loop (something handed over); per peer p
// (up to 64): IN[p] its last round received; FD[p] its socket's descriptor or −1; LOCK[p] 0 free / 1 worker / 2 loop;
// BACKLOG[p] the loop has bytes for p (the worker hands over instead of writing); HAND/SKIP[p][parity] the round
// handed to the loop and how many of its frame's bytes the worker already wrote. DIRECT_N / HANDED_N / PARTIAL_N count
// the worker's frames written whole, handed over, and handed over after a short write (LinkPort.stats()).
const ABORT = 0, OUT = 1, GEN = 2, DIRECT_N = 3, HANDED_N = 4, PARTIAL_N = 5, IN0 = 16, FD0 = 80, LOCK0 = 144, BACKLOG0 = 208, HAND0 = 272, SKIP0 = 400;
const CTRL = 528 * 4;
export const SPLIT = 8;                         // the payload's two lengths
/** Atomics.waitAsync (ES2024; Node ≥ 16, Deno): typed here since the project's lib is ES2022. */
type AtomicsAsync = { waitAsync(a: Int32Array, i: number, v: number): { async: true; value: Promise<string> } | { async: false; value: string } };
const align64 = (x: number) => Math.ceil(x / 64) * 64;

export interface SocketLinkSpec {
  buffer: SharedArrayBuffer; size: number; rank: number; capAll: number; capOne: number;
  /** Peer names for errors ("shard 1 (10.0.0.2:7000)"). */
  names: string[];
  /** A fence waits at most this long for a peer's frame (default 5 s). */
  fenceMs: number;
}

function geometry(size: number, capAll: number, capOne: number) {
  const head = align64(4 + 4 * size), outOne = align64(capOne), outbox = head + align64(capAll) + size * outOne; // head: allLen, oneLen[peer]
  const inbox = align64(SPLIT + capAll + capOne);
  return { head, outOne, outbox, inbox, bytes: CTRL + 2 * outbox + 2 * size * inbox };
}

export function createSocketLink(size: number, rank: number, capAll: number, capOne: number, names: string[], fenceMs = 5000): SocketLinkSpec {
  if (size > 64) throw new Error('a socket link joins at most 64 shards');
  return { buffer: new SharedArrayBuffer(geometry(size, capAll, capOne).bytes), size, rank, capAll, capOne, names, fenceMs };
}

/** Where things are in the buffer (both ends use it). */
class Layout {
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
  /** Round r's Data frame to peer q, as [frame header + split header, to-all bytes, to-q bytes] (views into the outbox). */
  frame(r: number, q: number): Uint8Array[] {
    const p = (r - 1) & 1, box = this.outbox(p), nAll = this.dv.getUint32(box, true), nOne = this.dv.getUint32(box + 4 + 4 * q, true);
    const head = new Uint8Array(HEADER + SPLIT), hv = new DataView(head.buffer);
    head.set(frameHeader(FrameType.Data, r, this.spec.rank, SPLIT + nAll + nOne));
    hv.setUint32(HEADER, nAll, true); hv.setUint32(HEADER + 4, nOne, true);
    return [head, this.u8.subarray(this.outAll(p), this.outAll(p) + nAll), this.u8.subarray(this.outOne(p, q), this.outOne(p, q) + nOne)];
  }
}

/** Parts from byte `skip` on (views). */
function after(parts: Uint8Array[], skip: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const x of parts) {
    if (skip >= x.length) { skip -= x.length; continue; }
    out.push(skip ? x.subarray(skip) : x); skip = 0;
  }
  return out;
}
const total = (parts: Uint8Array[]) => parts.reduce((a, x) => a + x.length, 0);
/** LOWBIT_TP_NET_DIRECT=0 turns the worker's direct writes off (the loop sends every frame, as before they existed). */
function envDirect(): boolean {
  try { return globalThis.process?.env?.LOWBIT_TP_NET_DIRECT !== '0'; } catch { return true; } // Deno without --allow-env
}

export class LinkAborted extends Error {
  constructor(m: string) { super(m); this.name = 'LinkAborted'; }
}

/** The worker's end: implements the Link contract over the shared buffer. */
export class SocketLink implements Link {
  private round = 0;
  private L: Layout;
  readonly rank: number;
  readonly size: number;
  readonly capAll: number;
  readonly capOne: number;

  constructor(readonly spec: SocketLinkSpec) {
    this.L = new Layout(spec);
    ({ rank: this.rank, size: this.size, capAll: this.capAll, capOne: this.capOne } = spec);
  }

  send(to: number | 'all', bytes: Uint8Array): void {
    const L = this.L, p = this.round & 1, box = L.outbox(p);
    if (to === 'all') {
      if (bytes.length > this.capAll) throw new Error(`link: message of ${bytes.length} bytes exceeds the broadcast cap of ${this.capAll}`);
      L.u8.set(bytes, L.outAll(p)); L.dv.setUint32(box, bytes.length, true);
    } else {
      if (to < 0 || to >= this.size || to === this.rank) throw new Error(`link: no peer ${to}`);
      if (bytes.length > this.capOne) throw new Error(`link: message of ${bytes.length} bytes exceeds the point-to-point cap of ${this.capOne}`);
      L.u8.set(bytes, L.outOne(p, to)); L.dv.setUint32(box + 4 + 4 * to, bytes.length, true);
    }
  }

  fence(): void {
    const c = this.L.ctrl, r = this.round + 1;
    this.check();
    let handed = false;
    for (let q = 0; q < this.size; q++) if (q !== this.rank && !this.write(q, r)) handed = true;
    if (handed) { Atomics.add(c, OUT, 1); Atomics.notify(c, OUT); }
    const deadline = Date.now() + this.spec.fenceMs;
    for (let spin = 0; ; spin++) {
      const gen = Atomics.load(c, GEN);
      let missing = -1;
      for (let q = 0; q < this.size; q++) if (q !== this.rank && Atomics.load(c, IN0 + q) < r) { missing = q; break; }
      if (missing < 0) break;
      this.check();
      if (spin < 200) continue;
      const left = deadline - Date.now();
      if (left <= 0) {
        Atomics.store(c, ABORT, -2);
        throw new LinkAborted(`${this.spec.names[missing]} sent nothing for round ${r} within ${this.spec.fenceMs} ms (stalled, dead or cut off)`);
      }
      Atomics.wait(c, GEN, gen, Math.min(left, 50));
    }
    this.round = r;
    // the outbox of the next round's parity was sent two rounds ago (every peer has answered since): clear it
    const box = this.L.outbox(r & 1);
    for (let i = 0; i <= this.size; i++) this.L.dv.setUint32(box + 4 * i, 0, true);
  }

  /** Round r's frame to peer q straight into its socket; false: (the rest of) it was handed to the event loop. */
  private write(q: number, r: number): boolean {
    const c = this.L.ctrl, p = (r - 1) & 1;
    while (Atomics.compareExchange(c, LOCK0 + q, 0, 1) !== 0) { /* the loop holds it for a few stores */ }
    try {
      let done = 0;
      const fd = Atomics.load(c, FD0 + q);
      if (fd >= 0 && Atomics.load(c, BACKLOG0 + q) === 0) {
        const parts = this.L.frame(r, q), n = total(parts);
        try {
          while (done < n) { const k = writevSync(fd, after(parts, done)); if (k <= 0) break; done += k; }
        } catch { /* EAGAIN (the kernel's buffer is full), or the socket failed: the loop sends the rest, or meets the error */ }
        if (done === n) { c[DIRECT_N]++; return true; }
        if (done > 0) c[PARTIAL_N]++;
        Atomics.store(c, BACKLOG0 + q, 1);
      }
      c[HANDED_N]++;
      Atomics.store(c, SKIP0 + 2 * q + p, done);
      Atomics.store(c, HAND0 + 2 * q + p, r);
      return false;
    } finally { Atomics.store(c, LOCK0 + q, 0); }
  }

  private check(): void {
    const a = Atomics.load(this.L.ctrl, ABORT);
    if (a === 0) return;
    throw new LinkAborted(a > 0 ? `link to ${this.spec.names[a - 1]} lost (disconnected)` : 'link aborted');
  }

  recv(from: number, kind: 'all' | 'one', dst: Uint8Array): number {
    if (from < 0 || from >= this.size || from === this.rank) throw new Error(`link: no peer ${from}`);
    const L = this.L, at = L.inbox(from, (this.round - 1) & 1);
    const nAll = L.dv.getUint32(at, true), nOne = L.dv.getUint32(at + 4, true);
    const [off, n] = kind === 'all' ? [at + SPLIT, nAll] : [at + SPLIT + nAll, nOne];
    if (n > dst.length) throw new Error(`link: message of ${n} bytes from shard ${from} does not fit`);
    dst.set(L.u8.subarray(off, off + n));
    return n;
  }

  abort(): void { Atomics.store(this.L.ctrl, ABORT, -1); Atomics.notify(this.L.ctrl, GEN); }

  /** A new session (after a reconnect): round 0, nothing received, no abort. Called with the LinkPort's reset. */
  reset(): void {
    this.round = 0;
    for (let i = 0; i < 2; i++) new Uint8Array(this.spec.buffer, this.L.outbox(i), this.L.g.head).fill(0);
  }
}

/**
 * The event loop's end. attach(peer, socket) gives it a peer's authenticated mesh socket (the worker may then write
 * to it directly); deliver() takes an incoming Data frame (already length-checked by the decoder against maxPayload()).
 */
export class LinkPort {
  private L: Layout;
  private seen = 0;
  private stopped = false;
  private wgen = 0; // a reset starts a new watcher; the old one sees its generation is over
  private expect: number[];
  private sockets: (Socket | null)[];
  private sent: number[]; // per peer: the last handed round this loop sent

  /** `direct`: let the worker write to the sockets itself (default: unless LOWBIT_TP_NET_DIRECT=0). */
  constructor(readonly spec: SocketLinkSpec, private direct = envDirect()) {
    this.L = new Layout(spec);
    this.expect = new Array(spec.size).fill(1);
    this.sockets = new Array(spec.size).fill(null);
    this.sent = new Array(spec.size).fill(0);
    for (let q = 0; q < spec.size; q++) this.L.ctrl[FD0 + q] = -1;
    this.watch();
  }

  /** Largest Data payload a peer may send. */
  maxPayload(): number { return SPLIT + this.spec.capAll + this.spec.capOne; }

  /** Frames the worker wrote itself, handed to this loop, and handed over after writing part of them (since the start). */
  stats(): { direct: number; handed: number; partial: number } {
    const c = this.L.ctrl;
    return { direct: Atomics.load(c, DIRECT_N), handed: Atomics.load(c, HANDED_N), partial: Atomics.load(c, PARTIAL_N) };
  }

  /** `f` holding peer q's lock (the worker holds it only across a non-blocking write; a dead worker's is taken after 1 s). */
  private locked(q: number, f: () => void): void {
    const c = this.L.ctrl, until = Date.now() + 1000;
    while (Atomics.compareExchange(c, LOCK0 + q, 0, 2) !== 0 && Date.now() < until) { /* spin */ }
    try { f(); } finally { Atomics.store(c, LOCK0 + q, 0); }
  }

  /** Peer q's mesh socket (after the handshake, nothing queued on it): Data frames to q go there. */
  attach(q: number, socket: Socket): void {
    this.detach(q);
    this.sockets[q] = socket;
    // revoke the descriptor before the socket closes it (every close goes through _destroy), so it is never reused under the worker
    const s = socket as unknown as { _destroy(e: Error | null, cb: (e: Error | null) => void): void; _handle?: { fd?: number } };
    const destroy = s._destroy;
    s._destroy = (e, cb) => { if (this.sockets[q] === socket) this.detach(q); destroy.call(socket, e, cb); };
    const fd = s._handle?.fd;
    this.locked(q, () => {
      Atomics.store(this.L.ctrl, FD0 + q, this.direct && typeof fd === 'number' && fd >= 0 && socket.writableLength === 0 ? fd : -1);
      Atomics.store(this.L.ctrl, BACKLOG0 + q, 0);
    });
  }

  /** Peer q's socket is going: the worker stops writing to it. */
  detach(q: number): void {
    if (!this.sockets[q]) return;
    this.sockets[q] = null;
    this.locked(q, () => Atomics.store(this.L.ctrl, FD0 + q, -1));
  }

  private watch(gen = this.wgen): void {
    if (this.stopped || gen !== this.wgen) return;
    const w = (Atomics as unknown as AtomicsAsync).waitAsync(this.L.ctrl, OUT, this.seen);
    const next = () => { if (this.stopped || gen !== this.wgen) return; this.seen = Atomics.load(this.L.ctrl, OUT); this.flush(); this.watch(gen); };
    if (w.async) void w.value.then(next); else queueMicrotask(next);
  }

  /** Send what the worker handed over: per peer at most one round of each parity, oldest first. */
  private flush(): void {
    const c = this.L.ctrl;
    for (let q = 0; q < this.spec.size; q++) {
      if (q === this.spec.rank) continue;
      const rounds = [Atomics.load(c, HAND0 + 2 * q), Atomics.load(c, HAND0 + 2 * q + 1)].filter((r) => r > this.sent[q]).sort((a, b) => a - b);
      for (const r of rounds) {
        const skip = Atomics.load(c, SKIP0 + 2 * q + ((r - 1) & 1));
        const parts = after(this.L.frame(r, q), skip), bytes = new Uint8Array(total(parts)); // a copy: the outbox is reused
        let at = 0;
        for (const x of parts) { bytes.set(x, at); at += x.length; }
        this.sent[q] = r;
        const s = this.sockets[q];
        if (s && !s.destroyed) s.write(bytes, () => this.release(q));
      }
      this.release(q);
    }
  }

  /** Back to the worker's direct writes to q once nothing is queued here for q. */
  private release(q: number): void {
    const c = this.L.ctrl, s = this.sockets[q];
    if (!s || s.writableLength > 0 || Atomics.load(c, BACKLOG0 + q) === 0) return;
    this.locked(q, () => {
      const pending = [0, 1].some((p) => Atomics.load(c, HAND0 + 2 * q + p) > this.sent[q]);
      if (!pending && s.writableLength === 0) Atomics.store(c, BACKLOG0 + q, 0);
    });
  }

  /** A Data frame of `round` (1-based) from peer `from`. Throws (the caller closes that connection) if it is out of order or malformed. */
  deliver(from: number, round: number, payload: Uint8Array): void {
    const L = this.L, S = this.spec;
    if (from >= S.size || from === S.rank) throw new Error(`data frame from unknown shard ${from}`);
    if (round !== this.expect[from]) throw new Error(`data frame for round ${round} from shard ${from}, expected round ${this.expect[from]}`);
    if (payload.length < SPLIT) throw new Error('data frame shorter than its split header');
    const pv = new DataView(payload.buffer, payload.byteOffset, payload.length);
    const nAll = pv.getUint32(0, true), nOne = pv.getUint32(4, true);
    if (nAll > S.capAll || nOne > S.capOne || SPLIT + nAll + nOne !== payload.length) throw new Error(`data frame from shard ${from}: lengths ${nAll} + ${nOne} do not match its ${payload.length} bytes or the caps`);
    L.u8.set(payload, L.inbox(from, (round - 1) & 1));
    this.expect[from] = round + 1;
    Atomics.store(L.ctrl, IN0 + from, round);
    Atomics.add(L.ctrl, GEN, 1);
    Atomics.notify(L.ctrl, GEN);
  }

  /** A peer's connection is gone: the worker's pending and next fences fail naming it. */
  lost(peer: number): void { Atomics.store(this.L.ctrl, ABORT, peer + 1); Atomics.add(this.L.ctrl, GEN, 1); Atomics.notify(this.L.ctrl, GEN); }

  /** A new session: counters back to zero (the worker resets its SocketLink in the same step). */
  reset(): void {
    const c = this.L.ctrl;
    this.seen = 0;
    this.expect.fill(1);
    this.sent.fill(0);
    for (let q = 0; q < this.spec.size; q++) {
      Atomics.store(c, IN0 + q, 0);
      for (let p = 0; p < 2; p++) { Atomics.store(c, HAND0 + 2 * q + p, 0); Atomics.store(c, SKIP0 + 2 * q + p, 0); }
      this.locked(q, () => Atomics.store(c, BACKLOG0 + q, 0));
    }
    Atomics.store(c, OUT, 0);
    Atomics.store(c, ABORT, 0);
    this.wgen++; Atomics.notify(c, OUT); // end the old watcher, start a new one
    this.watch();
  }

  stop(): void { this.stopped = true; Atomics.notify(this.L.ctrl, OUT); }
}
