// The root's pool of networked shards, with the surface of tp/pool.ts's ShardPool (call / all / close): shard 0 runs
// here in a worker thread (its link a SocketLink like everyone's), shards 1… in the processes at `peers`, driven over
// one control connection each. Faults: a control connection that closes fails every pending call at once, naming
// the peer; a stalled or cut-off peer makes the others' fences fail within fenceMs (default 5 s), naming it; any
// call still unanswered after callTimeoutMs fails too. The pool then stays broken until the next call, which first
// recovers: it redials the peers that went away (reloading only a shard that lost its state, e.g. a restarted
// process), starts a new session (epoch) on every shard — link counters zeroed, mesh redialled — and replays the
// last communication settings. The healthy shards keep their weights. (Their KV caches are whatever the failed
// call left: a caller re-runs its sequence from position 0 after a failure.)
import { deserialize, serialize } from 'node:v8';
import { ModelSource } from '../gguf/source.js';
import { KernelFlavor } from '../kernels.js';
import { linkCaps } from '../tp/memory.js';
import type { ShardInit } from '../tp/shard.js';
import type { Request } from '../tp/worker.js';
import { Conn, dialHandshake, parseAddress } from './conn.js';
import { FrameType, PROTOCOL_VERSION } from './frame.js';
import { NetInit, planHash, ShardHost } from './host.js';
import { modelSha256 } from './model-hash.js';
import { CONTROL_BYTES, ControlRequest } from './server.js';
import { rendezvousOf } from './rendezvous.js';
import { AutoPlan, autoPlan, describePlan, LinkInfo, predict } from '../tp/cost.js';
import { autoCodec } from '../calibrate/plan.js';

export interface RemotePoolOptions {
  peers: string[]; secret?: string; flavor: KernelFlavor;
  callTimeoutMs?: number; fenceMs?: number; loadStallMs?: number;
  onProgress?: (shard: number, done: number, total: number) => void;
  /** One-line notes: the link measured at connect, what `auto` chose. */
  onNote?: (line: string) => void;
  /** Skip the link measurement at connect (then `auto` keeps the in-memory policy). */
  measureLink?: boolean;
}
type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout>; shard: number; arm: () => ReturnType<typeof setTimeout>; onProgress?: (d: number, t: number) => void };

export class RemotePool {
  private ctrl: (Conn | null)[];
  private pending = new Map<number, Pending>();
  private nextId = 1;
  private broken: Error | null = null;
  private closed = false;
  private epoch = 1;
  private replay = new Map<string, Request>(); // last 'comm' and 'verify', re-sent after a recovery
  private names: string[];
  readonly size: number;
  /** The link measured at connect (root ↔ each peer: the largest round trip, the smallest bandwidth), or null. */
  link: (LinkInfo & { peers: LinkInfo[] }) | null = null;
  /** What `auto` chose from the link (set by the last 'comm' request with an auto mode), or null. */
  autoPlan: AutoPlan | null = null;
  private rendezvous: ReturnType<typeof rendezvousOf> = undefined;

  private constructor(private host0: ShardHost, private o: RemotePoolOptions, private inits: NetInit[], private source: ModelSource,
                      private module: WebAssembly.Module) {
    this.size = o.peers.length + 1;
    this.ctrl = new Array(this.size).fill(null);
    this.names = inits[0].names;
  }

  static async start(init: Omit<ShardInit, 'shard' | 'barrierTimeoutMs' | 'link'>, o: RemotePoolOptions): Promise<RemotePool> {
    if (init.source.kind !== 'path') throw new Error('shards over the network need the model as a file path (each host opens its own copy)');
    const S = init.plans.length;
    if (S !== o.peers.length + 1) throw new Error(`TP ${S} needs ${S - 1} peers, got ${o.peers.length} (--peers)`);
    const maxBatch = init.memory.maxBatch, caps = linkCaps(init.cfg, S, maxBatch);
    const modelSha = await modelSha256(init.source.path);
    const names = ['shard 0 (root)', ...o.peers.map((p, i) => `shard ${i + 1} (${p})`)];
    const base = { flavor: o.flavor, shared: init.shared, cfg: init.cfg, plans: init.plans, memory: init.memory, quantizedDecode: init.quantizedDecode, caps };
    const ph = planHash(base);
    const inits = init.plans.map((_, rank): NetInit => ({ ...base, epoch: 1, rank, names, fenceMs: o.fenceMs ?? 5000, modelSha, planHash: ph }));
    const pool = new RemotePool(await ShardHost.create(), o, inits, init.source, init.module);
    // peers from a launch (net/rendezvous.ts): the rendezvous lives as long as this pool (its close ends the shards)
    pool.rendezvous = rendezvousOf(o.peers);
    try {
      await Promise.all(o.peers.map((_, i) => pool.dial(i + 1)));
      await Promise.all(inits.map((ni, s) => pool.load(s, ni)));
      await pool.mesh();
      if (o.measureLink !== false) {
        pool.link = await pool.measureLink();
        pool.link.roundMs = await pool.measureRound(pool.link);
        o.onNote?.(`link: round trip ${pool.link.rttMs.toFixed(3)} ms, ${pool.link.mbps.toFixed(0)} Mbit/s (slowest of ${S - 1} peer${S > 2 ? 's' : ''}); an all-reduce round on the data path ${pool.link.roundMs.toFixed(3)} ms`);
      }
    } catch (e) { await pool.rendezvous?.close(`the root failed: ${(e as Error).message}`); await pool.close(); throw e; }
    return pool;
  }

  private async dial(s: number): Promise<void> {
    const { host, port } = parseAddress(this.o.peers[s - 1]);
    const { conn } = await dialHandshake(host, port, this.names[s], this.o.secret ?? '', { role: 'control', version: PROTOCOL_VERSION, modelSha: this.inits[0].modelSha, rank: s });
    conn.decoder.maxPayload = CONTROL_BYTES;
    conn.decoder.allowed = (t) => t === FrameType.Reply;
    conn.onFrame = (f) => this.settle(s, deserialize(f.payload));
    conn.onClose = (e) => { if (this.ctrl[s] === conn) { this.ctrl[s] = null; this.fail(new Error(`${this.names[s]} disconnected (${e.message})`)); } };
    this.ctrl[s] = conn;
  }

  private async load(s: number, ni: NetInit): Promise<void> {
    const progress = (d: number, t: number) => this.o.onProgress?.(s, d, t);
    if (s === 0) await this.host0.load(ni, this.source, this.module, progress);
    else await this.send(s, { op: 'load', init: ni }, this.o.loadStallMs ?? 120_000, progress);
  }

  private async mesh(): Promise<void> {
    const addrs = ['', ...this.o.peers];
    await Promise.all(this.inits.map((_, s) => s === 0 ? this.host0.mesh(this.epoch, addrs, this.o.secret ?? '') : this.send(s, { op: 'mesh', epoch: this.epoch, addrs })));
  }

  /**
   * Round trip (median of 7 empty echoes) and bandwidth (a timed burst each way, sized for ~40 ms, 256 KiB–4 MiB)
   * between the root and each peer, over its control connection (the same hosts and route as the mesh). ≤ ~0.5 s.
   */
  private async measureLink(): Promise<LinkInfo & { peers: LinkInfo[] }> {
    const peers: LinkInfo[] = [];
    for (let s = 1; s < this.size; s++) {
      const time = async (payload: number, reply: number) => {
        const t = performance.now();
        await this.send(s, { op: 'echo', payload: new Uint8Array(payload), reply }, 10_000);
        return performance.now() - t;
      };
      const rtts: number[] = [];
      for (let i = 0; i < 7; i++) rtts.push(await time(0, 0));
      const rttMs = rtts.sort((a, b) => a - b)[3];
      const mbpsOf = (bytes: number, ms: number) => (8 * bytes) / (Math.max(ms - rttMs, 1e-3) * 1e3);
      let B = 256 << 10;
      const probe = mbpsOf(B, await time(B, 0));
      B = Math.min(4 << 20, Math.max(256 << 10, Math.round((probe * 1e3 * 40) / 8)));
      const up = mbpsOf(B, await time(B, 0)), down = mbpsOf(B, await time(0, B));
      peers.push({ rttMs, mbps: Math.min(up, down) });
    }
    return { rttMs: Math.max(...peers.map((p) => p.rttMs)), mbps: Math.min(...peers.map((p) => p.mbps)), peers };
  }

  /**
   * The fixed cost of one round on the shards' own data path (tp/cost.ts LinkInfo.roundMs): every shard runs 1-row
   * exact all-reduces back to back (the comm settings are not made yet, so the reduce is exact), 4 × 16 to warm up, then
   * 9 × 16 (one machine gave means of 0.15–1.4 ms under load); the median of the slowest shard's means, less what the
   * cost model gives those 1-row messages for bytes and adds. About 13 × 16 rounds: ~20 ms on loopback.
   */
  private async measureRound(link: LinkInfo): Promise<number> {
    const means: number[] = [];
    for (let i = 0; i < 13; i++) {
      const ms = Math.max(...await this.allNow<number>({ op: 'benchReduce', M: 1, reps: 16 }, 10_000));
      if (i >= 4) means.push(ms); // the first rounds after loading run cold (up to 3× the steady cost on machine A)
    }
    const own = predict({ S: this.size, M: 1, E: this.inits[0].cfg.hidden, mode: 'exact', algorithm: 'all-gather', link: { ...link, roundMs: 0 } }).ms;
    return Math.max(0, means.sort((a, b) => a - b)[4] - own);
  }

  /** `auto` over the network: the root's plan (tp/cost.ts) from the measured link goes to every shard with the request. */
  private planComm(req: Request): Request {
    if (req.op !== 'comm' || !req.config?.mode.startsWith('auto') || !this.link || req.config.autoBands !== undefined) return req;
    const i = this.inits[0], codec = autoCodec(req.config.mode);
    const plan = autoPlan(this.size, i.cfg.hidden, i.memory.maxBatch, codec, this.link, req.config.fraction);
    if (JSON.stringify(plan) !== JSON.stringify(this.autoPlan)) this.o.onNote?.(`${describePlan(plan)} (predicted from the link)`);
    this.autoPlan = plan;
    return { op: 'comm', config: { ...req.config, autoBands: plan.bands } };
  }

  /** A control request to shard s ≥ 1 with a deadline (extended by each progress note while loading). */
  private send<T>(s: number, req: ControlRequest, timeoutMs = this.o.callTimeoutMs ?? 120_000, onProgress?: (d: number, t: number) => void): Promise<T> {
    const c = this.ctrl[s];
    if (!c) return Promise.reject(new Error(`${this.names[s]} is not connected`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const arm = () => setTimeout(() => this.fail(new Error(`${this.names[s]} did not answer "${req.op}" within ${timeoutMs} ms`)), timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer: arm(), shard: s, arm, onProgress });
      c.send(FrameType.Request, 0, 0, serialize({ id, req }));
    });
  }

  private settle(s: number, r: { id: number; ok?: boolean; value?: unknown; error?: string; progress?: [number, number] }): void {
    const p = this.pending.get(r.id);
    if (!p) return;
    if (r.progress) { clearTimeout(p.timer); p.timer = p.arm(); p.onProgress?.(...r.progress); return; }
    this.pending.delete(r.id);
    clearTimeout(p.timer);
    if (r.ok) p.resolve(r.value); else p.reject(new Error(`${this.names[s]}: ${r.error}`));
  }

  /** The session is broken: every pending call fails with `e`; shard 0's fence stops at once. */
  private fail(e: Error): void {
    if (this.closed) return;
    this.broken ??= e;
    this.host0.abortLink();
    for (const p of this.pending.values()) { clearTimeout(p.timer); p.reject(e); }
    this.pending.clear();
  }

  /** Redial who went away, reload who lost its shard, start a new session everywhere, replay the settings. */
  private async recover(): Promise<void> {
    const why = this.broken!;
    try {
      for (let s = 1; s < this.size; s++) if (!this.ctrl[s]) await this.dial(s);
      this.epoch++;
      for (const ni of this.inits) ni.epoch = this.epoch;
      await Promise.all(this.inits.map(async (ni, s) => {
        if (s === 0) return this.host0.reset(this.epoch);
        const st = await this.send<{ loaded: boolean; planHash: string | null; rank: number }>(s, { op: 'status' });
        if (st.loaded && st.planHash === ni.planHash && st.rank === s) await this.send(s, { op: 'reset', epoch: this.epoch });
        else await this.load(s, ni);
      }));
      await this.mesh();
      this.broken = null;
      for (const req of this.replay.values()) await this.allNow(req);
    } catch (e) {
      this.broken = why;
      throw new Error(`shards not recovered after "${why.message}": ${(e as Error).message}`);
    }
  }

  private recovering: Promise<void> | null = null;
  private async ready(): Promise<void> {
    if (this.closed) throw new Error('pool closed');
    if (!this.broken) return;
    this.recovering ??= this.recover().finally(() => { this.recovering = null; });
    await this.recovering;
  }

  async call<T = unknown>(shard: number, req: Request, timeoutMs?: number): Promise<T> {
    await this.ready();
    return this.callNow<T>(shard, req, timeoutMs);
  }

  private callNow<T>(shard: number, req: Request, timeoutMs?: number): Promise<T> {
    if (this.broken) return Promise.reject(this.broken);
    req = this.planComm(req);
    if (req.op === 'comm' || req.op === 'verify') this.replay.set(req.op, req);
    if (shard > 0) return this.send<T>(shard, req, timeoutMs);
    return new Promise<T>((resolve, reject) => {
      const t = timeoutMs ?? this.o.callTimeoutMs ?? 120_000;
      const timer = setTimeout(() => this.fail(new Error(`shard 0 did not answer "${req.op}" within ${t} ms`)), t);
      const id = this.nextId++;
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer, shard: 0, arm: () => timer });
      this.host0.request<T>(req).then((v) => this.settle(0, { id, ok: true, value: v }), (e: Error) => {
        this.settle(0, { id, ok: false, error: e.message });
        this.fail(new Error(`shard 0 (root): ${e.message}`));
      });
    });
  }

  private allNow<T>(req: Request | ((s: number) => Request), timeoutMs?: number): Promise<T[]> {
    const calls = Array.from({ length: this.size }, (_, s) => this.callNow<T>(s, typeof req === 'function' ? req(s) : req, timeoutMs));
    // the first failure fails the session (its error names the shard); the rest are the same failure seen elsewhere
    return Promise.all(calls.map((c) => c.catch((e: Error) => { this.fail(e); throw this.broken ?? e; })));
  }

  /** The same request to every shard; any failure fails the whole call (and the session, until the next call). */
  async all<T = unknown>(req: Request | ((s: number) => Request), timeoutMs?: number): Promise<T[]> {
    await this.ready();
    return this.allNow<T>(req, timeoutMs);
  }

  /** Test hook, as ShardPool's: here only shard 0's worker can be killed; remote shards are killed as processes. */
  kill(shard: number): void { if (shard === 0) void this.host0.close(); }

  async close(): Promise<void> {
    if (this.closed) return;
    this.fail(new Error('pool closed'));
    this.closed = true;
    for (const c of this.ctrl) if (c) { c.onClose = () => {}; c.close(new Error('closed')); }
    await this.rendezvous?.close('done');
    await this.host0.close();
  }
}
