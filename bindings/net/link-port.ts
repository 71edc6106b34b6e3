// The event loop's end of a networked shard's link (socket-link.ts has the worker's end, link-layout.ts the buffer
// they share). It holds the peers' mesh connections and, per peer:
//   sending   the worker writes its frames into the sockets itself; the loop writes only what the worker handed it
//             (HAND: a frame the kernel would not take at once, and every later frame to that peer until its queue is
//             empty again; or every frame where there is no descriptor: not Unix, or LOWBIT_TP_NET_DIRECT=0)
//   receiving the loop decodes and delivers the frames; with LOWBIT_TP_NET_DIRECT=read, the worker reads the socket
//             itself while RD = RD_WORKER (peer-reader.ts): the loop stops libuv reading at a frame boundary to give it
//             that (reclaim), and takes it back when the worker gives up waiting (RD_BACK)
import type { Socket } from 'node:net';
import type { Conn } from './conn.js';
import {
  ABORT, after, BACK_N, BACKLOG0, DEAD0, DEAD_EOF, DEAD_MALFORMED, DIRECT_N, envDirect, FD0, GEN, HAND0, HANDED_N, HAVE0, IN0, Layout, LOCK0,
  OUT, PARTIAL_N, RD0, RD_BACK, RD_LOOP, RD_WORKER, READ_N, SKIP0, SocketLinkSpec, total,
} from './link-layout.js';

/** Atomics.waitAsync (ES2024; Node ≥ 16, Deno): typed here since the project's lib is ES2022. */
type AtomicsAsync = { waitAsync(a: Int32Array, i: number, v: number): { async: true; value: Promise<string> } | { async: false; value: string } };
/** libuv's stream handle under a net.Socket (Node internals, as `_handle.fd` for the writes). */
type Handle = { fd?: number; reading?: boolean; readStart(): number; readStop(): number };
const handleOf = (s: Socket) => (s as unknown as { _handle?: Handle | null })._handle ?? null;

/**
 * attach(peer, conn) gives it a peer's authenticated mesh connection (the worker may then write to and read from its
 * socket directly); deliver() takes a Data frame the loop decoded (already length-checked against maxPayload()).
 */
export class LinkPort {
  private L: Layout;
  private seen = 0;
  private stopped = false;
  private wgen = 0; // a reset starts a new watcher; the old one sees its generation is over
  private conns: (Conn | null)[];
  private sent: number[]; // per peer: the last handed round this loop sent

  /** `direct`: let the worker write to / read from the sockets itself (default: LOWBIT_TP_NET_DIRECT, link-layout.ts; reading needs spec.read too). */
  constructor(readonly spec: SocketLinkSpec, private direct = envDirect()) {
    this.direct = { write: direct.write, read: direct.read && spec.read };
    this.L = new Layout(spec);
    this.conns = new Array(spec.size).fill(null);
    this.sent = new Array(spec.size).fill(0);
    for (let q = 0; q < spec.size; q++) this.L.ctrl[FD0 + q] = -1;
    this.watch();
  }

  /** Largest Data payload a peer may send. */
  maxPayload(): number { return this.L.maxPayload(); }

  /**
   * Since the start: frames the worker wrote itself, handed to this loop, handed over after writing part of them,
   * read itself; and how often it gave a socket's reading back to this loop.
   */
  stats(): { direct: number; handed: number; partial: number; read: number; back: number } {
    const c = this.L.ctrl;
    return { direct: Atomics.load(c, DIRECT_N), handed: Atomics.load(c, HANDED_N), partial: Atomics.load(c, PARTIAL_N), read: Atomics.load(c, READ_N), back: Atomics.load(c, BACK_N) };
  }

  /** `f` holding peer q's lock (the worker holds it only across a non-blocking write or read; a dead worker's is taken after 1 s). */
  private locked(q: number, f: () => void): void {
    const c = this.L.ctrl, until = Date.now() + 1000;
    while (Atomics.compareExchange(c, LOCK0 + q, 0, 2) !== 0 && Date.now() < until) { /* spin */ }
    try { f(); } finally { Atomics.store(c, LOCK0 + q, 0); }
  }

  /** Peer q's mesh connection (after the handshake, nothing queued on it): Data frames to and from q go there. */
  attach(q: number, conn: Conn): void {
    this.detach(q);
    this.conns[q] = conn;
    const socket = conn.socket;
    // revoke the descriptor before the socket closes it (every close goes through _destroy), so it is never reused under the worker
    const s = socket as unknown as { _destroy(e: Error | null, cb: (e: Error | null) => void): void };
    const destroy = s._destroy;
    s._destroy = (e, cb) => { if (this.conns[q] === conn) this.detach(q); destroy.call(socket, e, cb); };
    const fd = handleOf(socket)?.fd, c = this.L.ctrl;
    this.locked(q, () => {
      Atomics.store(c, FD0 + q, this.direct.write && typeof fd === 'number' && fd >= 0 && socket.writableLength === 0 ? fd : -1);
      Atomics.store(c, BACKLOG0 + q, 0); Atomics.store(c, RD0 + q, RD_LOOP); Atomics.store(c, HAVE0 + q, 0); Atomics.store(c, DEAD0 + q, 0);
    });
    conn.afterChunk = () => this.reclaim(q, conn);
    this.reclaim(q, conn);
  }

  /** Peer q's socket is going: the worker stops writing to and reading from it. */
  detach(q: number): void {
    if (!this.conns[q]) return;
    this.conns[q] = null;
    this.locked(q, () => { Atomics.store(this.L.ctrl, FD0 + q, -1); Atomics.store(this.L.ctrl, RD0 + q, RD_LOOP); });
  }

  /**
   * Let the worker read q's socket: only at a frame boundary (nothing buffered in the decoder or the stream), by
   * stopping libuv's reading first, so that no byte is read by both threads and none out of order.
   */
  private reclaim(q: number, conn: Conn): void {
    const c = this.L.ctrl, s = conn.socket, h = handleOf(s);
    if (!this.direct.read || this.stopped || this.conns[q] !== conn || conn.isClosed || !h) return;
    if (Atomics.load(c, RD0 + q) !== RD_LOOP || Atomics.load(c, FD0 + q) < 0 || Atomics.load(c, DEAD0 + q) !== 0) return;
    if (h.reading !== true || conn.decoder.buffered > 0 || s.readableLength > 0 || s.isPaused()) return;
    if (h.readStop() !== 0) return;
    // h.reading stays true, so Node's stream does not start libuv reading again by itself (net.js: _read → tryReadStart)
    Atomics.store(c, RD0 + q, RD_WORKER);
  }

  /** The worker gave q's reading back: its bytes of an incomplete frame first, then libuv reads the socket again. */
  private takeBack(q: number): void {
    const c = this.L.ctrl, conn = this.conns[q], at = this.L.stage(q);
    const carry = this.L.u8.slice(at, at + Atomics.load(c, HAVE0 + q));
    Atomics.store(c, HAVE0 + q, 0);
    Atomics.store(c, RD0 + q, RD_LOOP);
    if (!conn || conn.isClosed) return;
    handleOf(conn.socket)?.readStart();
    if (carry.length) conn.receive(carry);
  }

  private watch(gen = this.wgen): void {
    if (this.stopped || gen !== this.wgen) return;
    const w = (Atomics as unknown as AtomicsAsync).waitAsync(this.L.ctrl, OUT, this.seen);
    const next = () => { if (this.stopped || gen !== this.wgen) return; this.seen = Atomics.load(this.L.ctrl, OUT); this.flush(); this.watch(gen); };
    if (w.async) void w.value.then(next); else queueMicrotask(next);
  }

  /** Act on the worker's doorbell: close what it found dead, take back reading it gave up, send what it handed over. */
  private flush(): void {
    const c = this.L.ctrl;
    for (let q = 0; q < this.spec.size; q++) {
      if (q === this.spec.rank) continue;
      const dead = Atomics.load(c, DEAD0 + q), conn = this.conns[q];
      if (dead && conn) conn.close(new Error(`${conn.name} ${dead === DEAD_EOF ? 'disconnected' : dead === DEAD_MALFORMED ? 'sent a malformed frame' : 'failed'} (read by the shard's worker)`));
      else if (Atomics.load(c, RD0 + q) === RD_BACK) this.takeBack(q);
      this.send(q);
    }
  }

  /** Send what the worker handed over for q: at most one round of each parity, oldest first. */
  private send(q: number): void {
    const c = this.L.ctrl;
    const rounds = [Atomics.load(c, HAND0 + 2 * q), Atomics.load(c, HAND0 + 2 * q + 1)].filter((r) => r > this.sent[q]).sort((a, b) => a - b);
    for (const r of rounds) {
      const skip = Atomics.load(c, SKIP0 + 2 * q + ((r - 1) & 1));
      const parts = after(this.L.frame(r, q), skip), bytes = new Uint8Array(total(parts)); // a copy: the outbox is reused
      let at = 0;
      for (const x of parts) { bytes.set(x, at); at += x.length; }
      this.sent[q] = r;
      const s = this.conns[q]?.socket;
      if (s && !s.destroyed) s.write(bytes, () => this.release(q));
    }
    this.release(q);
  }

  /** Back to the worker's direct writes to q once nothing is queued here for q. */
  private release(q: number): void {
    const c = this.L.ctrl, s = this.conns[q]?.socket;
    if (!s || s.writableLength > 0 || Atomics.load(c, BACKLOG0 + q) === 0) return;
    this.locked(q, () => {
      const pending = [0, 1].some((p) => Atomics.load(c, HAND0 + 2 * q + p) > this.sent[q]);
      if (!pending && s.writableLength === 0) Atomics.store(c, BACKLOG0 + q, 0);
    });
  }

  /** A Data frame of `round` (1-based) from peer `from`. Throws (the caller closes that connection) if it is out of order or malformed. */
  deliver(from: number, round: number, payload: Uint8Array): void { this.L.deliver(from, round, payload); }

  /** A peer's connection is gone: the worker's pending and next fences fail naming it. */
  lost(peer: number): void { Atomics.store(this.L.ctrl, ABORT, peer + 1); Atomics.add(this.L.ctrl, GEN, 1); Atomics.notify(this.L.ctrl, GEN); }

  /** A new session: counters back to zero (the worker resets its SocketLink in the same step). */
  reset(): void {
    const c = this.L.ctrl;
    this.seen = 0;
    this.sent.fill(0);
    for (let q = 0; q < this.spec.size; q++) {
      Atomics.store(c, IN0 + q, 0);
      for (let p = 0; p < 2; p++) { Atomics.store(c, HAND0 + 2 * q + p, 0); Atomics.store(c, SKIP0 + 2 * q + p, 0); }
      this.locked(q, () => { Atomics.store(c, BACKLOG0 + q, 0); Atomics.store(c, HAVE0 + q, 0); Atomics.store(c, DEAD0 + q, 0); });
    }
    Atomics.store(c, OUT, 0);
    Atomics.store(c, ABORT, 0);
    this.wgen++; Atomics.notify(c, OUT); // end the old watcher, start a new one
    this.watch();
  }

  stop(): void { this.stopped = true; Atomics.notify(this.L.ctrl, OUT); }
}
