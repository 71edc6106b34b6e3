// Worker-thread entry of a shard (Node worker_threads; the same messages serve Web Workers in Deno and browsers).
import { Shard, ShardInit } from './shard.js';

export type Request =
  | { op: 'init'; init: ShardInit }
  | { op: 'forward'; M: number; pos0: number; logitsFrom: number }
  | { op: 'comm'; config: Parameters<Shard['configureComm']>[0] }
  | { op: 'observe'; momentum?: number }
  | { op: 'verify'; on: boolean }
  | { op: 'poison'; poison: { site: number; index: number; value: number } | null }
  | { op: 'observed' }
  | { op: 'stall'; ms: number }    // test hook: block this shard (fault tests)
  | { op: 'benchReduce'; M: number; reps: number };
export type Reply = { id: number; ok: true; value?: unknown } | { id: number; ok: false; error: string };

interface Port { postMessage(m: unknown): void; on?(ev: 'message', f: (m: unknown) => void): void }

/** One request against the shard this thread owns (also used in-process by tp/local.ts). */
export function dispatch(state: { shard: Shard | null }, req: Request): unknown {
  const shard = state.shard;
  switch (req.op) {
    case 'init': state.shard = new Shard(req.init); return undefined;
    case 'forward': return shard!.forward(req.M, req.pos0, req.logitsFrom);
    case 'comm': shard!.configureComm(req.config); return undefined;
    case 'observe': shard!.comm.startObserving(req.momentum); return undefined;
    case 'verify': shard!.comm.verify = req.on; return undefined;
    case 'poison': shard!.comm.poison = req.poison; return undefined;
    case 'observed': { const v = shard!.comm.observed?.map((o) => ({ partial: o.partial.toJSON(), sum: o.sum.toJSON() })); shard!.comm.observed = null; return v; }
    case 'benchReduce': return shard!.benchReduce(req.M, req.reps);
    case 'stall': { const until = Date.now() + req.ms; while (Date.now() < until) { /* busy: a hung shard */ } return undefined; }
  }
}

export function serve(port: Port, onMessage: (f: (m: { id: number; req: Request }) => void) => void): void {
  const state = { shard: null as Shard | null };
  onMessage(({ id, req }) => {
    try {
      const value = dispatch(state, req);
      port.postMessage({ id, ok: true, value } satisfies Reply);
    } catch (e) {
      port.postMessage({ id, ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) } satisfies Reply);
    }
  });
}

// Entry: a Web Worker (Deno, browsers) installs its handler before any await, so no early message is lost;
// a Node worker_threads file finds its parentPort. Imported in-process (tp/local.ts), neither applies.
const inWebWorker = typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined';
if (inWebWorker) {
  const w = self as unknown as { postMessage(m: unknown): void; onmessage: ((e: { data: unknown }) => void) | null };
  serve(w, (f) => { w.onmessage = (e) => f(e.data as { id: number; req: Request }); });
} else if (typeof globalThis.process?.versions?.node === 'string') {
  const { parentPort } = await import('node:worker_threads');
  if (parentPort) serve(parentPort, (f) => parentPort.on('message', f));
}
