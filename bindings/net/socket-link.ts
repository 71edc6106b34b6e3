// The Link (tp/link.ts) of a shard whose peers are in other processes: its worker's end. The shard computes
// synchronously in a worker thread; the sockets live on its process's event loop (LinkPort, link-port.ts). They meet
// in one SharedArrayBuffer (link-layout.ts):
//   send()   copy into the outbox of this round's parity
//   fence()  write one Data frame per peer straight into that peer's socket (writev on its file descriptor,
//            non-blocking); then, for the peers whose sockets this thread reads (only with LOWBIT_TP_NET_DIRECT=read:
//            peer-reader.ts), poll them itself for up to spinUs and deliver their frames into the inboxes; else (or
//            after that) Atomics.wait until the loop has put every peer's frame of this round in its inbox (IN[p]), or
//            the deadline / abort
// What the worker could not write at once (EAGAIN or a short write) it hands to the loop (HAND), which writes the
// rest, and every later frame to that peer, until its queue is empty again (BACKLOG); so does every frame where there
// is no descriptor (not Unix, or LOWBIT_TP_NET_DIRECT=0). The direct write saves the worker → event loop wake-up on
// every round (scripts/net-overhead.ts); the direct read would save the loop's read and its wake-up of the worker, but
// costs a spinning core and a hand-back when the peer is late, which made it slower on 2 shared cores. The
// descriptor is only used under LOCK[p], and the loop revokes it (FD[p] = −1, under the lock) before the socket
// closes, so the worker never writes to or reads from a closed or reused descriptor; the loop never writes while the
// worker's frame is incomplete, and the worker never writes while the loop has bytes queued for that peer.
// Rounds alternate between two outboxes and two inboxes per peer, as in SharedLink: a peer sends round r + 2 only
// after its fence r + 1, which needs our round r + 1 frame, which we publish only after we finished reading round r.
// One Data frame per peer per round, even an empty one: it is what the peer's fence waits for.
import { writevSync } from 'node:fs';
import { Link } from '../tp/link.js';
import {
  ABORT, after, BACKLOG0, DIRECT_N, FD0, GEN, HAND0, HANDED_N, IN0, Layout, LinkAborted, LOCK0, OUT, PARTIAL_N, SKIP0, SocketLinkSpec, SPLIT, total,
} from './link-layout.js';
import { PeerReader } from './peer-reader.js';

/** The worker's end: implements the Link contract over the shared buffer. */
export class SocketLink implements Link {
  private round = 0;
  private L: Layout;
  private reader: PeerReader;
  readonly rank: number;
  readonly size: number;
  readonly capAll: number;
  readonly capOne: number;

  constructor(readonly spec: SocketLinkSpec) {
    this.L = new Layout(spec);
    this.reader = new PeerReader(this.L);
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
    const deadline = Date.now() + this.spec.fenceMs, reads = this.spec.read, spinMs = this.spec.spinUs / 1000;
    let until = reads ? performance.now() + spinMs : 0;
    for (let spin = 0; ; spin++) {
      const gen = Atomics.load(c, GEN);
      let missing = -1, own = 0, got = 0;
      for (let q = 0; q < this.size; q++) {
        if (q === this.rank || Atomics.load(c, IN0 + q) >= r) continue;
        if (reads && this.reader.owns(q)) { own++; got += this.reader.poll(q); if (Atomics.load(c, IN0 + q) >= r) continue; }
        if (missing < 0) missing = q;
      }
      if (missing < 0) break;
      this.check();
      if (own) {
        // this thread reads those sockets: keep polling while bytes come in or for spinUs, then let the loop wait on
        // them (epoll) and wake us, so a peer that is slow this round costs no more spinning
        const now = performance.now();
        if (got) until = now + spinMs;
        if (now < until) { if (Date.now() > deadline) this.late(missing, r); continue; }
        if (this.reader.giveBack(r)) { Atomics.add(c, OUT, 1); Atomics.notify(c, OUT); }
        continue;
      }
      if (spin < 200) continue;
      const left = deadline - Date.now();
      if (left <= 0) this.late(missing, r);
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

  private late(missing: number, r: number): never {
    Atomics.store(this.L.ctrl, ABORT, -2);
    throw new LinkAborted(`${this.spec.names[missing]} sent nothing for round ${r} within ${this.spec.fenceMs} ms (stalled, dead or cut off)`);
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

