// A barrier over shared memory for the shards of one pool: spin briefly, then Atomics.wait in slices, with a
// deadline. Any shard (or the main thread) can raise the abort flag; every waiter then fails at once.
export const ABORT = 0, COUNT = 16, GEN = 32; // Int32 indices, each on its own 64-byte line

export class PoolAborted extends Error {
  constructor(why: string) { super(why); this.name = 'PoolAborted'; }
}

export class Barrier {
  constructor(private ctrl: Int32Array, private parties: number, private timeoutMs: number, private spins = 2000) {}

  wait(): void {
    const c = this.ctrl;
    const gen = Atomics.load(c, GEN);
    if (Atomics.load(c, ABORT) !== 0) throw new PoolAborted('pool aborted by another shard');
    if (Atomics.add(c, COUNT, 1) === this.parties - 1) {
      Atomics.store(c, COUNT, 0);
      Atomics.add(c, GEN, 1);
      Atomics.notify(c, GEN);
      return;
    }
    for (let i = 0; i < this.spins; i++) if (Atomics.load(c, GEN) !== gen) return;
    const deadline = Date.now() + this.timeoutMs;
    while (Atomics.load(c, GEN) === gen) {
      if (Atomics.load(c, ABORT) !== 0) throw new PoolAborted('pool aborted by another shard');
      const left = deadline - Date.now();
      if (left <= 0) {
        abortPool(c);
        throw new PoolAborted(`barrier timed out after ${this.timeoutMs} ms: a shard died or stalled`);
      }
      Atomics.wait(c, GEN, gen, Math.min(left, 50));
    }
  }
}

export function abortPool(ctrl: Int32Array): void {
  Atomics.store(ctrl, ABORT, 1);
  Atomics.notify(ctrl, GEN);
}
