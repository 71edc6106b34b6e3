// One shard in the calling thread, for runtimes without threads (edge runtimes such as workerd) or TP 1 by
// choice: the same requests as a worker pool, answered in-process.
import { dispatch, Request } from './worker.js';
import type { Shard, ShardInit } from './shard.js';

export class LocalPool {
  private state = { shard: null as Shard | null };
  private closed = false;
  readonly size = 1;

  static async start(init: Omit<ShardInit, 'shard' | 'barrierTimeoutMs' | 'link'>, onProgress?: (shard: number, done: number, total: number) => void): Promise<LocalPool> {
    const p = new LocalPool();
    await dispatch(p.state, { op: 'init', init: { ...init, shard: 0, barrierTimeoutMs: 0, link: null } }, (d, t) => onProgress?.(0, d, t));
    return p;
  }
  async call<T = unknown>(_shard: number, req: Request): Promise<T> {
    if (this.closed) throw new Error('pool closed');
    return await dispatch(this.state, req) as T;
  }
  async all<T = unknown>(req: Request | ((s: number) => Request)): Promise<T[]> {
    return [await this.call<T>(0, typeof req === 'function' ? req(0) : req)];
  }
  kill(): void { this.closed = true; }
  async close(): Promise<void> { this.closed = true; this.state.shard = null; }
}
