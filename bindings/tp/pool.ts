// A pool of shard workers, one per shard, each owning its own memory; they talk only through the link. Every call
// has a deadline (a loading shard extends it with each progress note); a worker that errors, exits or stalls fails
// every pending call within that bound, raises the link's abort flag (so shards blocked in a fence stop too) and
// closes the pool.
import { abortSharedLink, SharedLinkSpec } from './link.js';
import type { Reply, Request } from './worker.js';
import type { ShardInit } from './shard.js';

interface WorkerLike {
  postMessage(m: unknown): void;
  terminate(): unknown;
  on(ev: 'message' | 'error' | 'exit', f: (x: never) => void): void;
}

export interface PoolOptions {
  callTimeoutMs?: number; barrierTimeoutMs?: number;
  /** Loading: no progress note from a shard for this long fails the load (default 120 s). */
  loadStallMs?: number;
  onProgress?: (shard: number, done: number, total: number) => void;
}

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
  const w = new Worker(new URL(fromSource ? './worker-tsx.mjs' : './worker.js', import.meta.url), { execArgv: [] });
  w.unref(); // an engine nobody closed must not keep the process alive; pending calls hold their own timers
  return w as unknown as WorkerLike;
}

export class ShardPool {
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout>;
                                       shard: number; arm: () => ReturnType<typeof setTimeout> }>();
  private nextId = 1;
  private dead: Error | null = null;
  private onProgress?: PoolOptions['onProgress'];

  private constructor(private workers: WorkerLike[], private link: SharedLinkSpec, private callTimeoutMs: number) {
    workers.forEach((w, s) => {
      w.on('message', (r: Reply) => this.settle(r));
      w.on('error', (e: Error) => this.fail(new Error(`shard ${s} crashed: ${e.message}`)));
      w.on('exit', (code: number) => this.fail(new Error(`shard ${s} exited (code ${code})`)));
    });
  }

  /** One worker per shard of `init.plans`; each loads its own slice of the model from `init.source`. */
  static async start(init: Omit<ShardInit, 'shard' | 'barrierTimeoutMs' | 'link'>, link: SharedLinkSpec, opts: PoolOptions = {}): Promise<ShardPool> {
    const S = init.plans.length;
    const workers = await Promise.all(Array.from({ length: S }, spawn));
    const pool = new ShardPool(workers, link, opts.callTimeoutMs ?? 120_000);
    pool.onProgress = opts.onProgress;
    try {
      await Promise.all(workers.map((_, s) => pool.call(s, { op: 'init', init: { ...init, shard: s, link, barrierTimeoutMs: opts.barrierTimeoutMs ?? 30_000 } },
        opts.loadStallMs ?? 120_000)));
    } catch (e) { await pool.close(); throw e; }
    return pool;
  }

  get size(): number { return this.workers.length; }

  call<T = unknown>(shard: number, req: Request, timeoutMs = this.callTimeoutMs): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const arm = () => setTimeout(() => this.fail(new Error(`shard ${shard} did not answer "${req.op}" within ${timeoutMs} ms`)), timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer: arm(), shard, arm });
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
    if ('progress' in r) { clearTimeout(p.timer); p.timer = p.arm(); this.onProgress?.(p.shard, ...r.progress); return; }
    this.pending.delete(r.id);
    clearTimeout(p.timer);
    if (r.ok) p.resolve(r.value);
    else { p.reject(new Error(r.error)); this.fail(new Error(`a shard failed: ${r.error}`)); }
  }

  private fail(e: Error): void {
    if (this.dead) return;
    this.dead = e;
    abortSharedLink(this.link);
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
