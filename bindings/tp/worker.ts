// Worker-thread entry of a shard (Node worker_threads; the same messages serve Web Workers in Deno and browsers).
import { Shard, ShardInit } from './shard.js';

export type Request =
  | { op: 'init'; init: ShardInit }
  | { op: 'forward'; tokens: Int32Array; pos0: number; logitsFrom: number }
  | { op: 'comm'; config: Parameters<Shard['configureComm']>[0] }
  | { op: 'observe'; momentum?: number }
  | { op: 'verify'; on: boolean }
  | { op: 'poison'; poison: { site: number; index: number; value: number } | null }
  | { op: 'observed' }
  | { op: 'stall'; ms: number }    // test hook: block this shard (fault tests)
  | { op: 'benchReduce'; M: number; reps: number };
/** A reply settles call `id`; a progress note (loading) only tells the caller the shard is alive and how far it got. */
export type Reply = { id: number; ok: true; value?: unknown } | { id: number; ok: false; error: string } | { id: number; progress: [number, number] };

export interface Port { postMessage(m: unknown, transfer?: Transferable[]): void }

/** One request against the shard this thread owns (also used in-process by tp/local.ts). */
export async function dispatch(state: { shard: Shard | null }, req: Request, progress?: (done: number, total: number) => void): Promise<unknown> {
  if (req.op === 'init') { state.shard = await Shard.create(req.init, progress); return { bytes: state.shard.bytes }; }
  const shard = state.shard;
  if (!shard) throw new Error(`shard not initialised (request "${req.op}")`);
  switch (req.op) {
    case 'forward': return shard.forward(req.tokens, req.pos0, req.logitsFrom);
    case 'comm': shard.configureComm(req.config); return undefined;
    case 'observe': shard.comm.startObserving(req.momentum); return undefined;
    case 'verify': shard.comm.verify = req.on; return undefined;
    case 'poison': shard.comm.poison = req.poison; return undefined;
    case 'observed': { const v = shard.comm.observed?.map((o) => ({ partial: o.partial.toJSON(), sum: o.sum.toJSON() })); shard.comm.observed = null; return v; }
    case 'benchReduce': return shard.benchReduce(req.M, req.reps);
    case 'stall': { const until = Date.now() + req.ms; while (Date.now() < until) { /* busy: a hung shard */ } return undefined; }
  }
}

/** Answers requests one at a time, in order (even across an async init), with progress notes while loading. */
export function serve<R>(port: Port, onMessage: (f: (m: { id: number; req: R }) => void) => void,
                         handle: (req: R, progress: (done: number, total: number) => void) => Promise<unknown>): void {
  let queue = Promise.resolve();
  onMessage(({ id, req }) => {
    queue = queue.then(async () => {
      let last = 0;
      const progress = (done: number, total: number) => {
        const now = Date.now();
        if (now - last > 200 || done === total) { last = now; port.postMessage({ id, progress: [done, total] } satisfies Reply); }
      };
      try {
        const value = await handle(req, progress);
        const logits = (value as { logits?: Float32Array | null } | undefined)?.logits;
        port.postMessage({ id, ok: true, value } satisfies Reply, logits ? [logits.buffer as ArrayBuffer] : []);
      } catch (e) {
        port.postMessage({ id, ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) } satisfies Reply);
      }
    });
  });
}

/** The shard this thread owns, answering the pool's requests. */
function serveShard(port: Port, onMessage: (f: (m: { id: number; req: Request }) => void) => void): void {
  const state = { shard: null as Shard | null };
  serve<Request>(port, onMessage, (req, progress) => dispatch(state, req, progress));
}

// Entry: a Web Worker (Deno, browsers) installs its handler before any await, so no early message is lost;
// a Node worker_threads file finds its parentPort. Imported in-process (tp/local.ts), neither applies.
const inWebWorker = typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined';
if (inWebWorker) {
  const w = self as unknown as { postMessage(m: unknown, t?: Transferable[]): void; onmessage: ((e: { data: unknown }) => void) | null };
  serveShard(w, (f) => { w.onmessage = (e) => f(e.data as { id: number; req: Request }); });
} else if (typeof globalThis.process?.versions?.node === 'string') {
  const { parentPort } = await import('node:worker_threads');
  if (parentPort) serveShard(parentPort as unknown as Port, (f) => parentPort.on('message', f));
}
