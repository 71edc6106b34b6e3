// The link between shards: the only way they exchange data. A shard never reads a peer's memory; it copies the
// bytes it wants to send into the link and copies what it receives back into its own memory.
//
//   round r:  send(to | 'all', bytes)…   fence()   recv(from, kind, dst)…      (every shard runs the same rounds)
//
// One interface, several transports: SharedLink (threads of one process: a SharedArrayBuffer of message slots,
// a barrier as the fence) here; a socket transport only has to honour the same contract. Rounds alternate between
// two slot sets (by parity), so one fence per round suffices: a shard writes round r + 2's messages only after it
// has passed fence r + 1, which every peer reaches only after it has read round r.
import { abortPool, Barrier, PoolAborted } from './barrier.js';

export interface Link {
  readonly rank: number;
  readonly size: number;
  /** Largest message to all peers, and to one peer. */
  readonly capAll: number;
  readonly capOne: number;
  /** Queue `bytes` (copied at once) for every peer, or for peer `to`, in the current round. */
  send(to: number | 'all', bytes: Uint8Array): void;
  /** End the round: returns once every peer has sent this round's messages; throws on abort or deadline. */
  fence(): void;
  /** Copy what `from` sent in the last fenced round (its message to all, or the one addressed to me) into `dst`. */
  recv(from: number, kind: 'all' | 'one', dst: Uint8Array): number;
  /** Make every peer's next or pending fence fail (a shard died, or the caller gave up). */
  abort(): void;
}

export const CTRL_BYTES = 256; // abort flag and barrier words (tp/barrier.ts), each on its own cache line
const HEAD = 64;               // per slot: the message length (u32), padded to a cache line

/** Geometry of a SharedLink, computed by the engine and sent to every shard with the buffer. */
export interface SharedLinkSpec { buffer: SharedArrayBuffer; size: number; capAll: number; capOne: number }

export function sharedLinkBytes(size: number, capAll: number, capOne: number): number {
  const a = align64(capAll + HEAD), o = align64(capOne + HEAD);
  return CTRL_BYTES + 2 * size * a + 2 * size * size * o;
}

export function createSharedLink(size: number, capAll: number, capOne: number): SharedLinkSpec {
  return { buffer: new SharedArrayBuffer(sharedLinkBytes(size, capAll, capOne)), size, capAll, capOne };
}

export class SharedLink implements Link {
  private round = 0;
  private u8: Uint8Array;
  private dv: DataView;
  private barrier: Barrier;
  private ctrl: Int32Array;
  readonly size: number;
  readonly capAll: number;
  readonly capOne: number;
  private slotAll: number;
  private slotOne: number;

  constructor(spec: SharedLinkSpec, readonly rank: number, timeoutMs: number) {
    ({ size: this.size, capAll: this.capAll, capOne: this.capOne } = spec);
    this.u8 = new Uint8Array(spec.buffer);
    this.dv = new DataView(spec.buffer);
    this.ctrl = new Int32Array(spec.buffer, 0, CTRL_BYTES / 4);
    this.barrier = new Barrier(this.ctrl, this.size, timeoutMs);
    this.slotAll = align64(this.capAll + HEAD);
    this.slotOne = align64(this.capOne + HEAD);
  }

  // [ctrl][parity][from] all-slots, then [parity][from][to] one-slots
  private at(parity: number, from: number, kind: 'all' | 'one', to = 0): number {
    const S = this.size;
    if (kind === 'all') return CTRL_BYTES + (parity * S + from) * this.slotAll;
    return CTRL_BYTES + 2 * S * this.slotAll + ((parity * S + from) * S + to) * this.slotOne;
  }

  send(to: number | 'all', bytes: Uint8Array): void {
    const kind = to === 'all' ? 'all' : 'one', cap = to === 'all' ? this.capAll : this.capOne;
    if (bytes.length > cap) throw new Error(`link: message of ${bytes.length} bytes exceeds the ${kind === 'all' ? 'broadcast' : 'point-to-point'} slot of ${cap}`);
    if (to !== 'all' && (to < 0 || to >= this.size || to === this.rank)) throw new Error(`link: no peer ${to}`);
    const p = this.at(this.round & 1, this.rank, kind, to === 'all' ? 0 : to);
    this.dv.setUint32(p, bytes.length, true);
    this.u8.set(bytes, p + HEAD);
  }

  fence(): void {
    this.barrier.wait(); // its atomics order the plain slot writes before it against the reads after it
    this.round++;
  }

  recv(from: number, kind: 'all' | 'one', dst: Uint8Array): number {
    if (from < 0 || from >= this.size || from === this.rank) throw new Error(`link: no peer ${from}`);
    const p = this.at((this.round - 1) & 1, from, kind, this.rank), n = this.dv.getUint32(p, true);
    if (n > (kind === 'all' ? this.capAll : this.capOne) || n > dst.length) throw new Error(`link: message of ${n} bytes from shard ${from} does not fit`);
    dst.set(this.u8.subarray(p + HEAD, p + HEAD + n));
    return n;
  }

  abort(): void { abortPool(this.ctrl); }
}

/** Raise the abort flag of a link from outside any shard (the pool does, when a worker dies). */
export function abortSharedLink(spec: SharedLinkSpec): void { abortPool(new Int32Array(spec.buffer, 0, CTRL_BYTES / 4)); }

export { PoolAborted };
const align64 = (x: number) => Math.ceil(x / 64) * 64;
