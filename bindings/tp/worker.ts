// Worker-thread entry of a shard (Node worker_threads; the same messages serve Web Workers in Deno and browsers).
import { Shard, ShardInit } from './shard.js';

export type Request =
  | { op: 'init'; init: ShardInit }
  | { op: 'forward'; M: number; pos0: number; logitsFrom: number }
  | { op: 'comm'; config: Parameters<Shard['configureComm']>[0] }
  | { op: 'observe' }
  | { op: 'verify'; on: boolean }
  | { op: 'observed' }
  | { op: 'stall'; ms: number }    // test hook: block this shard (fault tests)
  | { op: 'benchReduce'; M: number; reps: number };
export type Reply = { id: number; ok: true; value?: unknown } | { id: number; ok: false; error: string };

interface Port { postMessage(m: unknown): void; on?(ev: 'message', f: (m: unknown) => void): void }

export function serve(port: Port, onMessage: (f: (m: { id: number; req: Request }) => void) => void): void {
  let shard: Shard | null = null;
  onMessage(({ id, req }) => {
    try {
      let value: unknown;
      switch (req.op) {
        case 'init': shard = new Shard(req.init); break;
        case 'forward': value = shard!.forward(req.M, req.pos0, req.logitsFrom); break;
        case 'comm': shard!.configureComm(req.config); break;
        case 'observe': shard!.comm.startObserving(); break;
        case 'verify': shard!.comm.verify = req.on; break;
        case 'observed': value = shard!.comm.observed?.map((o) => ({ partial: o.partial.toJSON(), sum: o.sum.toJSON() })); shard!.comm.observed = null; break;
        case 'benchReduce': value = shard!.benchReduce(req.M, req.reps); break;
        case 'stall': { const until = Date.now() + req.ms; while (Date.now() < until) { /* busy: a hung shard */ } break; }
      }
      port.postMessage({ id, ok: true, value } satisfies Reply);
    } catch (e) {
      port.postMessage({ id, ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) } satisfies Reply);
    }
  });
}

// Node: started as a worker_threads file.
const { parentPort } = await import('node:worker_threads').catch(() => ({ parentPort: null }));
if (parentPort) serve(parentPort, (f) => parentPort.on('message', f));
else if (typeof self !== 'undefined' && typeof (self as unknown as { postMessage?: unknown }).postMessage === 'function') {
  const w = self as unknown as { postMessage(m: unknown): void; onmessage: ((e: { data: unknown }) => void) | null };
  serve(w, (f) => { w.onmessage = (e) => f(e.data as { id: number; req: Request }); });
}
