// A pool of shard workers. Every call has a deadline; a worker that errors, exits or stalls fails every pending
// call within that bound, raises the abort flag (so shards blocked in barriers stop too) and closes the pool.
import { abortPool } from './barrier.js';
import { CTRL_INTS } from './memory.js';
import type { Reply, Request } from './worker.js';
import type { ShardInit } from './shard.js';

interface WorkerLike {
  postMessage(m: unknown): void;
  terminate(): unknown;
  on(ev: 'message' | 'error' | 'exit', f: (x: never) => void): void;
}

export interface PoolOptions { callTimeoutMs?: number; barrierTimeoutMs?: number }

/** Web Workers (Deno, browsers): module workers; a dead one shows up through the call deadlines. */
function webWorker(url: URL): WorkerLike {
  const W = (globalThis as unknown as { Worker: new (u: URL, o: { type: 'module' }) => {
    postMessage(m: unknown): void; terminate(): void; onmessage: ((e: { data: unknown }) => void) | null;
    onerror: ((e: { message: string; preventDefault(): void }) => void) | null } }).Worker;
  const w = new W(url, { type: 'module' });
  return {
    postMessage: (m) => w.postMessage(m),
    terminate: () => w.terminate(),
    on(ev, f) {
      const cb = f as (x: unknown) => void;
      if (ev === 'message') w.onmessage = (e) => cb(e.data);
      else if (ev === 'error') w.onerror = (e) => { e.preventDefault(); cb(new Error(e.message)); };
    },
  };
}

async function spawn(): Promise<WorkerLike> {
  const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';
  if (isDeno || typeof globalThis.process?.versions?.node !== 'string') return webWorker(new URL('./worker.js', import.meta.url));
  const { Worker } = await import('node:worker_threads');
  // From TypeScript sources (tests, tsx) the worker registers the tsx loader itself; the package runs compiled .js.
  const fromSource = import.meta.url.endsWith('.ts');
  return new Worker(new URL(fromSource ? './worker-tsx.mjs' : './worker.js', import.meta.url), { execArgv: [] }) as unknown as WorkerLike;
}

export class ShardPool {
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  private nextId = 1;
  private dead: Error | null = null;
  private ctrl: Int32Array;

  private constructor(private workers: WorkerLike[], memory: WebAssembly.Memory, ctrlPtr: number, private callTimeoutMs: number) {
    this.ctrl = new Int32Array(memory.buffer, ctrlPtr, CTRL_INTS);
    workers.forEach((w, s) => {
      w.on('message', (r: Reply) => this.settle(r));
      w.on('error', (e: Error) => this.fail(new Error(`shard ${s} crashed: ${e.message}`)));
      w.on('exit', (code: number) => this.fail(new Error(`shard ${s} exited (code ${code})`)));
    });
  }

  static async start(init: Omit<ShardInit, 'shard' | 'barrierTimeoutMs'>, opts: PoolOptions = {}): Promise<ShardPool> {
    const S = init.map.shards.length;
    const workers = await Promise.all(Array.from({ length: S }, spawn));
    const pool = new ShardPool(workers, init.memory, init.map.ctrl, opts.callTimeoutMs ?? 120_000);
    await Promise.all(workers.map((_, s) => pool.call(s, { op: 'init', init: { ...init, shard: s, barrierTimeoutMs: opts.barrierTimeoutMs ?? 30_000 } })));
    return pool;
  }

  get size(): number { return this.workers.length; }

  call<T = unknown>(shard: number, req: Request, timeoutMs = this.callTimeoutMs): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new Error(`shard ${shard} did not answer "${req.op}" within ${timeoutMs} ms`)), timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.workers[shard].postMessage({ id, req });
    });
  }

  /** The same request to every shard; any failure fails the whole call and closes the pool. */
  all<T = unknown>(req: Request | ((s: number) => Request), timeoutMs?: number): Promise<T[]> {
    return Promise.all(this.workers.map((_, s) => this.call<T>(s, typeof req === 'function' ? req(s) : req, timeoutMs)));
  }

  private settle(r: Reply): void {
    const p = this.pending.get(r.id);
    if (!p) return;
    this.pending.delete(r.id);
    clearTimeout(p.timer);
    if (r.ok) p.resolve(r.value);
    else { p.reject(new Error(r.error)); this.fail(new Error(`a shard failed: ${r.error}`)); }
  }

  private fail(e: Error): void {
    if (this.dead) return;
    this.dead = e;
    abortPool(this.ctrl);
    for (const p of this.pending.values()) { clearTimeout(p.timer); p.reject(e); }
    this.pending.clear();
    for (const w of this.workers) void w.terminate();
  }

  /** Test hook: terminate one worker as if it died. */
  kill(shard: number): void { void this.workers[shard].terminate(); }

  async close(): Promise<void> {
    if (!this.dead) this.dead = new Error('pool closed');
    for (const p of this.pending.values()) { clearTimeout(p.timer); p.reject(this.dead); }
    this.pending.clear();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
