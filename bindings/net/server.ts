// A shard process: `lowbit-tp shard --listen HOST:PORT --model FILE [--shards N]`. It listens for the root's control
// connections and its peers' mesh connections, loads the slices the root assigns (from its own copy of the model,
// whose SHA-256 the handshake compares), and answers the same requests as a worker of the in-process pool. The root
// may go and come back: loaded shards stay, so a reconnecting root does not reload healthy shards.
// With --shards N the process hosts N shards, each on its own worker thread with its own memory (the in-process
// pool's layout), one slot per rank: the root opens one control connection per rank (naming it in its hello) and
// every mesh connection names the rank it is for. Shards of one process reach each other over loopback TCP like any
// other pair, so the bytes and the code path are the same whatever the placement.
import * as net from 'node:net';
import { deserialize, serialize } from 'node:v8';
import { loadKernelModule } from '../kernels.js';
import { Conn, Hello, isLoopback, parseAddress, acceptHandshake } from './conn.js';
import { FrameType } from './frame.js';
import { NetInit, planHash, ShardHost } from './host.js';
import { modelSha256 } from './model-hash.js';
import type { NetRequest } from './worker.js';

export const CONTROL_BYTES = 1 << 28; // cap on a control frame from the authenticated root (a profile, logits)

/** Control requests beyond the worker's own. */
export type ControlRequest = NetRequest
  | { op: 'load'; init: NetInit }
  | { op: 'mesh'; epoch: number; addrs: string[] }
  | { op: 'reset'; epoch: number }
  | { op: 'status' }
  /** Link measurement (the root, at session setup): answers `reply` zero bytes; the request's `payload` is ignored. */
  | { op: 'echo'; payload?: Uint8Array; reply?: number };

export interface ShardServerOptions {
  listen: string; model: string; secret?: string; say?: (m: string) => void;
  /** Shards this process hosts (default 1). */
  shards?: number;
  /** The ranks it hosts, when known in advance (a launch); else the first roots' control connections assign them. */
  ranks?: number[];
}
export interface ShardServer { address: string; modelSha: string; close(): Promise<void> }

/** One hosted shard: its worker (once loaded), the root's control connection for it, its queue of requests. */
interface Slot { rank: number; host: ShardHost | null; control: Conn | null; queue: Promise<unknown> }

export async function startShardServer(o: ShardServerOptions): Promise<ShardServer> {
  const say = o.say ?? (() => {});
  const { host: bindHost, port } = parseAddress(o.listen);
  const secret = o.secret ?? '', capacity = o.ranks?.length ?? o.shards ?? 1;
  if (!(Number.isInteger(capacity) && capacity >= 1 && capacity <= 64)) throw new Error(`--shards must be 1…64, got ${o.shards}`);
  if (!secret && !isLoopback(bindHost)) throw new Error(`listening on ${bindHost} (not loopback) needs a shared secret: --secret S or LOWBIT_TP_SECRET`);
  const modelSha = await modelSha256(o.model);
  say(`model ${o.model} (SHA-256 ${modelSha.slice(0, 16)}…)`);
  const slots: Slot[] = (o.ranks ?? []).map((rank) => ({ rank, host: null, control: null, queue: Promise.resolve() }));
  const fixed = !!o.ranks;
  // One shard (the default): whatever rank the root assigns, as before --shards existed. Several: a slot per rank,
  // fixed by a launch, else taken by the first roots; a slot whose root left may go to another rank.
  const slotFor = (rank: number | undefined, claim: boolean): Slot | string => {
    if (capacity === 1 && !fixed) return slots[0] ??= { rank: rank ?? -1, host: null, control: null, queue: Promise.resolve() };
    const s = slots.find((x) => x.rank === rank);
    if (s) return s;
    const ranks = slots.map((x) => x.rank).join(', ');
    if (!claim || fixed) return `this shard process hosts rank${slots.length > 1 ? 's' : ''} ${ranks}, not rank ${rank}`;
    if (!Number.isInteger(rank)) return 'a root of a process hosting several shards names the rank of each control connection';
    if (slots.length < capacity) { const n: Slot = { rank: rank!, host: null, control: null, queue: Promise.resolve() }; slots.push(n); return n; }
    const free = slots.find((x) => !x.control || x.control.isClosed);
    if (!free) return `this shard process hosts ${capacity} shards (ranks ${ranks}), all in use`;
    void free.host?.close();
    Object.assign(free, { rank, host: null });
    return free;
  };

  const check = (h: Hello): string | null => {
    if (h.modelSha !== modelSha) return `model mismatch: this shard has ${o.model} with SHA-256 ${modelSha.slice(0, 16)}…, the root's model is ${String(h.modelSha).slice(0, 16)}…`;
    if (h.role === 'control') { const s = slotFor(h.rank, true); return typeof s === 'string' ? s : null; }
    if (h.role !== 'mesh') return `unknown role ${h.role}`;
    const s = slotFor(h.to, false);
    if (typeof s === 'string') return s;
    const host = s.host, ni = host?.init;
    if (!host || !ni) return `shard ${s.rank} is not loaded yet`;
    if (h.planHash !== ni.planHash) return 'shard plan differs from this shard\'s';
    if (h.epoch !== host.epoch) return `session ${h.epoch}, this shard is in session ${host.epoch}`;
    if (!Number.isInteger(h.rank) || h.rank! < 0 || h.rank! >= ni.rank) return `rank ${h.rank} may not dial shard ${ni.rank}`;
    return null;
  };

  const handle = async (slot: Slot, req: ControlRequest, progress: (d: number, t: number) => void): Promise<unknown> => {
    const host = slot.host;
    switch (req.op) {
      case 'echo': return new Uint8Array(Math.min(Math.max(0, req.reply ?? 0) | 0, 1 << 24));
      case 'status': return { loaded: !!host?.init, planHash: host?.init?.planHash ?? null, rank: host?.rank ?? -1, epoch: host?.epoch ?? 0 };
      case 'load': {
        const ni = req.init;
        if (ni.modelSha !== modelSha) throw new Error('model mismatch');
        if (planHash(ni) !== ni.planHash) throw new Error('plan hash does not match the plan');
        if ((capacity > 1 || fixed) && ni.rank !== slot.rank) throw new Error(`the control connection for rank ${slot.rank} asked to load rank ${ni.rank}`);
        if (host?.init?.planHash === ni.planHash && host.rank === ni.rank) { await host.reset(ni.epoch); return { bytes: -1, reused: true }; }
        await host?.close();
        slot.host = null;
        const fresh = await ShardHost.create();
        slot.host = fresh;
        slot.rank = ni.rank;
        const module = await loadKernelModule(ni.flavor);
        say(`loading shard ${ni.rank} of ${ni.plans.length}`);
        const r = await fresh.load(ni, { kind: 'path', path: o.model }, module, progress);
        say(`shard ${ni.rank} loaded (${(r.bytes / 2 ** 20).toFixed(0)} MiB)`);
        return r;
      }
      case 'mesh': if (!host) throw new Error('not loaded'); await host.mesh(req.epoch, req.addrs, secret); return undefined;
      case 'reset': if (!host) throw new Error('not loaded'); await host.reset(req.epoch); return undefined;
      default: if (!host) throw new Error(`shard not loaded (request "${req.op}")`); return host.request(req);
    }
  };

  const serveControl = (slot: Slot, conn: Conn) => {
    if (slot.control) { slot.control.onClose = () => {}; slot.control.close(new Error('replaced by a new root connection')); }
    slot.control = conn;
    say(capacity > 1 ? `root connected for rank ${slot.rank}` : 'root connected');
    conn.decoder.maxPayload = CONTROL_BYTES;
    conn.decoder.allowed = (t) => t === FrameType.Request;
    const reply = (r: object) => conn.send(FrameType.Reply, 0, 0, serialize(r));
    conn.onFrame = (f) => {
      let m: { id: number; req: ControlRequest };
      try { m = deserialize(f.payload); } catch { throw new Error('unreadable request'); }
      if (typeof m?.id !== 'number' || typeof m.req?.op !== 'string') throw new Error('malformed request');
      let last = 0;
      const progress = (done: number, total: number) => {
        const now = Date.now();
        if (now - last > 200 || done === total) { last = now; reply({ id: m.id, progress: [done, total] }); }
      };
      // a shard's requests run in order (the worker's are queued there too); 'load' and 'mesh' may overlap nothing
      const run = async () => {
        try { reply({ id: m.id, ok: true, value: await handle(slot, m.req, progress) }); } catch (e) {
          reply({ id: m.id, ok: false, error: e instanceof Error ? e.message : String(e) });
        }
      };
      slot.queue = slot.queue.then(run);
    };
    conn.onClose = (e) => { if (slot.control === conn) { slot.control = null; say(`root gone: ${e.message}`); } };
  };

  const server = net.createServer((socket) => {
    socket.on('error', () => {}); // a reset during the handshake is that peer's problem
    acceptHandshake(socket, secret, check, { version: 1, modelSha }).then(({ conn, hello }) => {
      const slot = slotFor(hello.role === 'control' ? hello.rank : hello.to, false);
      if (typeof slot === 'string' || (hello.role === 'mesh' && !slot.host)) { conn.close(new Error(typeof slot === 'string' ? slot : 'not loaded')); return; }
      if (hello.role === 'control') serveControl(slot, conn);
      else slot.host!.attachPeer(hello.rank!, conn);
    }, (e: Error) => say(e.message));
  });
  await new Promise<void>((res, rej) => { server.once('error', rej); server.listen(port, bindHost, () => res()); });
  const a = server.address() as net.AddressInfo;
  const address = `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  say(`shard${capacity > 1 ? `s (${capacity}${fixed ? `: ranks ${slots.map((x) => x.rank).join(', ')}` : ''})` : ''} listening on ${address}${secret ? ' (secret required)' : ' (loopback, no secret)'}`);
  return {
    address, modelSha,
    async close() {
      server.close();
      for (const s of slots) s.control?.close(new Error('shutting down'));
      await Promise.all(slots.map((s) => s.host?.close()));
    },
  };
}
