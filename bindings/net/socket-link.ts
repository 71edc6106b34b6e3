// The Link (tp/link.ts) of a shard whose peers are in other processes. The shard computes synchronously in a worker
// thread; the sockets live on its process's event loop. They meet in one SharedArrayBuffer:
//   worker  send(): copy into the outbox of this round's parity    fence(): publish the round (OUT), notify, then
//           Atomics.wait until every peer's frame of this round is in its inbox (IN[p]), or the deadline / abort
//   loop    LinkPort: on OUT, turn the outbox into one Data frame per peer; on a Data frame, copy it into the
//           inbox of (from, parity), bump IN[from], notify
// Rounds alternate between two outboxes and two inboxes per peer, as in SharedLink: a peer sends round r + 2 only
// after its fence r + 1, which needs our round r + 1 frame, which we publish only after we finished reading round r.
// One Data frame per peer per round, even an empty one: it is what the peer's fence waits for.
//   Data payload: [u32 bytes to all][u32 bytes to this peer][to-all bytes][to-this-peer bytes]
import { Link } from '../tp/link.js';

const ABORT = 0, OUT = 1, GEN = 2, IN0 = 16;   // Int32 words of the control block
const CTRL = 64 * 4 + 256;                      // room for IN[p] of up to 64 peers
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
  const outOne = align64(capOne), outbox = 64 + align64(capAll) + size * outOne; // head: allLen, oneLen[peer]
  const inbox = align64(SPLIT + capAll + capOne);
  return { outOne, outbox, inbox, bytes: CTRL + 2 * outbox + 2 * size * inbox };
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
  outAll(parity: number): number { return this.outbox(parity) + 64; }
  outOne(parity: number, to: number): number { return this.outAll(parity) + align64(this.spec.capAll) + to * this.g.outOne; }
  inbox(from: number, parity: number): number { return CTRL + 2 * this.g.outbox + (from * 2 + parity) * this.g.inbox; }
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
    Atomics.store(c, OUT, r);
    Atomics.notify(c, OUT);
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
    for (let i = 0; i < 2; i++) new Uint8Array(this.spec.buffer, this.L.outbox(i), 64).fill(0);
  }
}

/**
 * The event loop's end. `sendTo(peer, frameParts)` writes to that peer's socket; deliver() takes an incoming Data
 * frame (already length-checked by the decoder against maxPayload()).
 */
export class LinkPort {
  private L: Layout;
  private published = 0;
  private stopped = false;
  private wgen = 0; // a reset starts a new watcher; the old one sees its generation is over
  private expect: number[];

  constructor(readonly spec: SocketLinkSpec, private sendTo: (peer: number, round: number, head: Uint8Array, all: Uint8Array, one: Uint8Array) => void) {
    this.L = new Layout(spec);
    this.expect = new Array(spec.size).fill(1);
    this.watch();
  }

  /** Largest Data payload a peer may send. */
  maxPayload(): number { return SPLIT + this.spec.capAll + this.spec.capOne; }

  private watch(gen = this.wgen): void {
    if (this.stopped || gen !== this.wgen) return;
    const w = (Atomics as unknown as AtomicsAsync).waitAsync(this.L.ctrl, OUT, this.published);
    const next = () => { if (this.stopped || gen !== this.wgen) return; this.flush(); this.watch(gen); };
    if (w.async) void w.value.then(next); else queueMicrotask(next);
  }

  /** Send every round the worker published since the last call. */
  private flush(): void {
    const L = this.L, S = this.spec.size, me = this.spec.rank;
    for (let r = Atomics.load(L.ctrl, OUT); this.published < r;) {
      const round = ++this.published, p = (round - 1) & 1, box = L.outbox(p);
      const nAll = L.dv.getUint32(box, true), all = L.u8.slice(L.outAll(p), L.outAll(p) + nAll);
      for (let q = 0; q < S; q++) {
        if (q === me) continue;
        const nOne = L.dv.getUint32(box + 4 + 4 * q, true);
        const head = new Uint8Array(SPLIT), dv = new DataView(head.buffer);
        dv.setUint32(0, nAll, true); dv.setUint32(4, nOne, true);
        this.sendTo(q, round, head, all, L.u8.slice(L.outOne(p, q), L.outOne(p, q) + nOne));
      }
    }
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
    this.published = 0;
    this.expect.fill(1);
    for (let q = 0; q < this.spec.size; q++) Atomics.store(c, IN0 + q, 0);
    Atomics.store(c, OUT, 0);
    Atomics.store(c, ABORT, 0);
    this.wgen++; Atomics.notify(c, OUT); // end the old watcher, start a new one
    this.watch();
  }

  stop(): void { this.stopped = true; Atomics.notify(this.L.ctrl, OUT); }
}
