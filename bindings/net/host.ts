// One networked shard in this process: its worker thread (the Shard and its SocketLink), the LinkPort that serves the
// link's sockets on the event loop, and the mesh connections to its peers (one per peer pair: the lower rank dials
// the higher).
// The shard server (a shard process) holds one; the root holds one for shard 0.
import { createHash } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import { ModelConfig } from '../model/config.js';
import { ModelSource } from '../gguf/source.js';
import { KernelFlavor } from '../kernels.js';
import { MemoryOptions } from '../tp/memory.js';
import { ShardPlan } from '../tp/plan.js';
import type { Reply } from '../tp/worker.js';
import { Conn, dialHandshake, Hello, parseAddress } from './conn.js';
import { FrameType } from './frame.js';
import { createSocketLink, SocketLinkSpec } from './link-layout.js';
import { LinkPort } from './link-port.js';
import type { NetRequest } from './worker.js';

/** What the root sends each shard: everything but the model bytes and the kernel module (each host has its own). */
export interface NetInit {
  epoch: number; rank: number; flavor: KernelFlavor; shared: boolean; cfg: ModelConfig; plans: ShardPlan[];
  memory: MemoryOptions; quantizedDecode: boolean; caps: { all: number; one: number }; names: string[]; fenceMs: number;
  modelSha: string; planHash: string;
}

/** The plan's identity: two shards agree on it or refuse to join. */
export function planHash(i: Pick<NetInit, 'flavor' | 'cfg' | 'plans' | 'memory' | 'quantizedDecode' | 'caps'>): string {
  return createHash('sha256').update(JSON.stringify([i.flavor, i.cfg, i.plans, i.memory, i.quantizedDecode, i.caps])).digest('hex');
}

async function spawnWorker(): Promise<{ worker: Worker; port: import('node:worker_threads').MessagePort }> {
  const { Worker, MessageChannel } = await import('node:worker_threads');
  const fromSource = import.meta.url.endsWith('.ts');
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(new URL(fromSource ? './worker-tsx.mjs' : './worker.js', import.meta.url), { execArgv: [], workerData: { port: port2 }, transferList: [port2] });
  worker.unref(); port1.unref();
  return { worker, port: port1 };
}

export class ShardHost {
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; progress?: (d: number, t: number) => void }>();
  private nextId = 1;
  private dead: Error | null = null;
  private linkPort: LinkPort | null = null;
  private peers: (Conn | null)[] = [];
  private waiters: (() => void)[] = [];
  init: NetInit | null = null;
  epoch = 0;

  private constructor(private worker: Worker, private port: import('node:worker_threads').MessagePort) {
    port.on('message', (r: Reply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      if ('progress' in r) { p.progress?.(...r.progress); return; }
      this.pending.delete(r.id);
      if (r.ok) p.resolve(r.value); else p.reject(new Error(r.error));
    });
    const die = (e: Error) => { this.dead = e; for (const p of this.pending.values()) p.reject(e); this.pending.clear(); };
    worker.on('error', (e) => die(new Error(`shard worker crashed: ${e.message}`)));
    worker.on('exit', (code) => die(new Error(`shard worker exited (code ${code})`)));
  }

  static async create(): Promise<ShardHost> {
    const { worker, port } = await spawnWorker();
    return new ShardHost(worker, port);
  }

  get rank(): number { return this.init?.rank ?? -1; }
  get loaded(): boolean { return this.init !== null; }

  /** A request to the shard's worker (in order; `progress` hears the loading notes). */
  request<T = unknown>(req: NetRequest, progress?: (d: number, t: number) => void): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, progress });
      this.port.postMessage({ id, req });
    });
  }

  /** Load this shard's slice of the model into the worker's own memory. */
  async load(ni: NetInit, source: ModelSource, module: WebAssembly.Module, progress?: (d: number, t: number) => void): Promise<{ bytes: number }> {
    const S = ni.plans.length;
    let spec: SocketLinkSpec | null = null;
    this.linkPort?.stop();
    this.linkPort = null;
    if (S > 1) {
      spec = createSocketLink(S, ni.rank, ni.caps.all, ni.caps.one, ni.names, ni.fenceMs);
      this.linkPort = new LinkPort(spec);
    }
    const { rank: _r, epoch: _e, caps: _c, names: _n, fenceMs: _f, modelSha: _m, planHash: _p, flavor: _fl, ...rest } = ni;
    const value = await this.request<{ bytes: number }>({ op: 'netInit', init: { ...rest, source, module, shard: ni.rank }, link: spec }, progress);
    this.init = ni; this.epoch = ni.epoch;
    return value;
  }

  /** A peer's authenticated mesh connection (from either side) joins the link. */
  attachPeer(rank: number, conn: Conn): void {
    const lp = this.linkPort;
    if (!lp || !this.init) { conn.close(new Error('mesh connection before init')); return; }
    this.peers[rank]?.close(new Error('replaced'));
    this.peers[rank] = conn;
    conn.decoder.maxPayload = lp.maxPayload();
    conn.decoder.allowed = (t) => t === FrameType.Data;
    conn.onFrame = (f) => {
      if (f.from !== rank) throw new Error(`data frame claims to be from shard ${f.from}`);
      lp.deliver(rank, f.round, f.payload);
    };
    conn.onClose = () => { if (this.peers[rank] === conn) { this.peers[rank] = null; lp.lost(rank); } };
    lp.attach(rank, conn);
    for (const w of this.waiters.splice(0)) w();
  }

  /** Join the mesh of session `epoch`: dial every higher rank, wait for every lower one to dial in. */
  async mesh(epoch: number, addrs: string[], secret: string, timeoutMs = 10_000): Promise<void> {
    const ni = this.init;
    if (!ni) throw new Error('mesh before init');
    if (epoch !== this.epoch) throw new Error(`mesh for session ${epoch}, this shard is in session ${this.epoch}`);
    const S = ni.plans.length, me = ni.rank;
    const hello: Hello = { role: 'mesh', version: 1, modelSha: ni.modelSha, rank: me, epoch, planHash: ni.planHash };
    await Promise.all(Array.from({ length: S - me - 1 }, async (_, i) => {
      const q = me + 1 + i, { host, port } = parseAddress(addrs[q]);
      const { conn } = await dialHandshake(host, port, ni.names[q], secret, { ...hello, to: q });
      this.attachPeer(q, conn);
    }));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const missing = Array.from({ length: me }, (_, q) => q).filter((q) => !this.peers[q] || this.peers[q]!.isClosed);
      if (!missing.length) return;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`shard ${me}: ${missing.map((q) => ni.names[q]).join(', ')} did not connect within ${timeoutMs} ms`);
      await new Promise<void>((res) => { const t = setTimeout(res, Math.min(left, 200)); this.waiters.push(() => { clearTimeout(t); res(); }); });
    }
  }

  /** Start session `epoch`: drop the mesh, zero the link on both ends (the worker is idle: requests run in order). */
  async reset(epoch: number): Promise<void> {
    for (const c of this.peers) if (c) { c.onClose = () => {}; c.close(new Error('session reset')); }
    this.peers = [];
    await this.request({ op: 'linkReset' });
    this.linkPort?.reset();
    this.epoch = epoch;
    if (this.init) this.init = { ...this.init, epoch };
  }

  /** Make the worker's pending fence fail now (the root gave up on this session). */
  abortLink(): void { this.linkPort?.lost(-2); }

  async close(): Promise<void> {
    for (const c of this.peers) if (c) { c.onClose = () => {}; c.close(new Error('closed')); }
    this.linkPort?.stop();
    this.dead ??= new Error('shard closed');
    await this.worker.terminate();
  }
}
