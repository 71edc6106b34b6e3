// A shard's worker reading its peers' sockets itself during a fence (issue 11; LOWBIT_TP_NET_DIRECT=read), so that a
// round's frame can reach the computing thread without its process's event loop waking, decoding and waking the
// worker in turn (about 50 µs of the 68 µs loopback round: docs/results/net-overhead.md). Not the default: on the
// shared 2-core machine the spinning and the hand-backs cost more than they saved (measured there).
// Who reads a peer's socket is one word, RD[q] (link-layout.ts), and never two threads at once:
//   RD_LOOP    the event loop reads it (libuv's read started), as before the worker read; the worker does not touch it
//   RD_WORKER  the loop stopped libuv reading it, at a frame boundary (link-port.ts: reclaim); only the worker reads
//              it, with non-blocking readSync under the peer's lock, so the loop can revoke the descriptor (FD = −1)
//              before the socket closes
//   RD_BACK    the worker found nothing for SPIN_US and gave the reading back, with the bytes of any incomplete frame
//              left in the peer's staging area (HAVE); the loop feeds those to the connection's decoder first, starts
//              reading, and wakes the worker's fence when the frame is in (the old path: a slow peer costs no spinning)
// The worker reads whole frames into the staging area and passes each through the same checks as the loop's decoder
// (frame.ts checkHeader, then Layout.deliver); a malformed frame, an end of stream or a socket error fails the fence
// naming the peer and tells the loop (DEAD) to close that connection.
import { readSync } from 'node:fs';
import { checkHeader, FrameType, HEADER } from './frame.js';
import {
  ABORT, BACK_N, DEAD0, DEAD_EOF, DEAD_ERROR, DEAD_MALFORMED, FD0, HAVE0, IN0, Layout, LinkAborted, LOCK0, OUT, RD0, RD_BACK, RD_WORKER, READ_N,
} from './link-layout.js';

const dataOnly = (t: FrameType) => t === FrameType.Data;

export class PeerReader {
  constructor(private L: Layout) {}

  /** Whether this thread reads peer q's socket now. */
  owns(q: number): boolean {
    const c = this.L.ctrl;
    return Atomics.load(c, RD0 + q) === RD_WORKER && Atomics.load(c, DEAD0 + q) === 0;
  }

  /**
   * Read what peer q's socket holds now (never blocks) and deliver its whole frames. Returns the bytes read: 0 when
   * nothing has come yet or the socket is not this thread's to read. Throws LinkAborted when the connection ended,
   * failed or sent a malformed frame.
   */
  poll(q: number): number {
    const L = this.L, c = L.ctrl, at = L.stage(q);
    let k = -1, have = 0, err: NodeJS.ErrnoException | null = null;
    while (Atomics.compareExchange(c, LOCK0 + q, 0, 1) !== 0) { /* the loop holds it for a few stores */ }
    try {
      const fd = Atomics.load(c, FD0 + q);
      if (fd < 0 || !this.owns(q)) return 0;
      have = Atomics.load(c, HAVE0 + q);
      const lim = Error.stackTraceLimit;
      Error.stackTraceLimit = 0; // "nothing yet" (EAGAIN) is the usual answer and is thrown: skip capturing a stack (4.4 → 2.8 µs)
      try { k = readSync(fd, L.u8, at + have, L.g.stage - have, null); } catch (e) { err = e as NodeJS.ErrnoException; } finally { Error.stackTraceLimit = lim; }
    } finally { Atomics.store(c, LOCK0 + q, 0); }
    if (err) {
      if (err.code === 'EAGAIN' || err.code === 'EWOULDBLOCK') return 0;
      this.dead(q, DEAD_ERROR, `link to ${this.L.spec.names[q]} lost (${err.code ?? err.message})`);
    }
    if (k === 0) this.dead(q, DEAD_EOF, `link to ${this.L.spec.names[q]} lost (disconnected)`);
    this.frames(q, have + k);
    return k;
  }

  /** Deliver the whole frames among the `have` bytes of q's staging area; keep the rest at its start. */
  private frames(q: number, have: number): void {
    const L = this.L, base = L.stage(q), max = L.maxPayload();
    let at = 0, n = 0;
    try {
      while (have - at >= HEADER) {
        const len = checkHeader(L.dv, base + at, max, dataOnly);
        if (have - at < HEADER + len) break;
        const round = L.dv.getUint32(base + at + 5, true), from = L.dv.getUint16(base + at + 9, true);
        if (from !== q) throw new Error(`data frame claims to be from shard ${from}`);
        L.deliver(q, round, L.u8.subarray(base + at + HEADER, base + at + HEADER + len));
        at += HEADER + len; n++;
      }
    } catch (e) {
      this.dead(q, DEAD_MALFORMED, `${L.spec.names[q]}: malformed frame: ${(e as Error).message}`);
    }
    if (at > 0 && at < have) L.u8.copyWithin(base, base + at, base + have);
    Atomics.store(L.ctrl, HAVE0 + q, have - at);
    if (n) Atomics.add(L.ctrl, READ_N, n);
  }

  /** Give the reading of every peer still missing round r back to the loop; true if any was (ring its doorbell). */
  giveBack(r: number): boolean {
    const c = this.L.ctrl;
    let any = false;
    for (let q = 0; q < this.L.spec.size; q++) {
      if (q === this.L.spec.rank || Atomics.load(c, IN0 + q) >= r) continue;
      if (Atomics.compareExchange(c, RD0 + q, RD_WORKER, RD_BACK) === RD_WORKER) { Atomics.add(c, BACK_N, 1); any = true; }
    }
    return any;
  }

  /** q's connection is over: this fence and the next fail naming it; the loop closes the connection. */
  private dead(q: number, why: number, message: string): never {
    const c = this.L.ctrl;
    Atomics.store(c, DEAD0 + q, why);
    Atomics.store(c, ABORT, q + 1);
    Atomics.add(c, OUT, 1); Atomics.notify(c, OUT);
    throw new LinkAborted(message);
  }
}
