// A shard process: `lowbit-tp shard --listen HOST:PORT --model FILE`. It listens for the root's control connection
// and its peers' mesh connections, loads the slice the root assigns (from its own copy of the model, whose SHA-256
// the handshake compares), and answers the same requests as a worker of the in-process pool. The root may go and
// come back: the loaded shard stays, so a reconnecting root does not reload healthy shards.
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

export interface ShardServerOptions { listen: string; model: string; secret?: string; say?: (m: string) => void }
export interface ShardServer { address: string; modelSha: string; close(): Promise<void> }

export async function startShardServer(o: ShardServerOptions): Promise<ShardServer> {
  const say = o.say ?? (() => {});
  const { host: bindHost, port } = parseAddress(o.listen);
  const secret = o.secret ?? '';
  if (!secret && !isLoopback(bindHost)) throw new Error(`listening on ${bindHost} (not loopback) needs a shared secret: --secret S or LOWBIT_TP_SECRET`);
  const modelSha = await modelSha256(o.model);
  say(`model ${o.model} (SHA-256 ${modelSha.slice(0, 16)}…)`);
  let host: ShardHost | null = null, control: Conn | null = null, loading: Promise<unknown> | null = null;

  const check = (h: Hello): string | null => {
    if (h.modelSha !== modelSha) return `model mismatch: this shard has ${o.model} with SHA-256 ${modelSha.slice(0, 16)}…, the root's model is ${String(h.modelSha).slice(0, 16)}…`;
    if (h.role === 'control') return null;
    if (h.role !== 'mesh') return `unknown role ${h.role}`;
    const ni = host?.init;
    if (!ni) return 'this shard is not loaded yet';
    if (h.planHash !== ni.planHash) return 'shard plan differs from this shard\'s';
    if (h.epoch !== host!.epoch) return `session ${h.epoch}, this shard is in session ${host!.epoch}`;
    if (!Number.isInteger(h.rank) || h.rank! < 0 || h.rank! >= ni.rank) return `rank ${h.rank} may not dial shard ${ni.rank}`;
    return null;
  };

  const handle = async (req: ControlRequest, progress: (d: number, t: number) => void): Promise<unknown> => {
    switch (req.op) {
      case 'echo': return new Uint8Array(Math.min(Math.max(0, req.reply ?? 0) | 0, 1 << 24));
      case 'status': return { loaded: !!host?.init, planHash: host?.init?.planHash ?? null, rank: host?.rank ?? -1, epoch: host?.epoch ?? 0 };
      case 'load': {
        const ni = req.init;
        if (ni.modelSha !== modelSha) throw new Error('model mismatch');
        if (planHash(ni) !== ni.planHash) throw new Error('plan hash does not match the plan');
        if (host?.init?.planHash === ni.planHash && host.rank === ni.rank) { await host.reset(ni.epoch); return { bytes: -1, reused: true }; }
        await host?.close();
        host = await ShardHost.create();
        const module = await loadKernelModule(ni.flavor);
        say(`loading shard ${ni.rank} of ${ni.plans.length}`);
        const r = await host.load(ni, { kind: 'path', path: o.model }, module, progress);
        say(`shard ${ni.rank} loaded (${(r.bytes / 2 ** 20).toFixed(0)} MiB)`);
        return r;
      }
      case 'mesh': if (!host) throw new Error('not loaded'); await host.mesh(req.epoch, req.addrs, secret); return undefined;
      case 'reset': if (!host) throw new Error('not loaded'); await host.reset(req.epoch); return undefined;
      default: if (!host) throw new Error(`shard not loaded (request "${req.op}")`); return host.request(req);
    }
  };

  const serveControl = (conn: Conn) => {
    if (control) { control.onClose = () => {}; control.close(new Error('replaced by a new root connection')); }
    control = conn;
    say('root connected');
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
      // requests run in order (the worker's are queued there too); 'load' and 'mesh' may overlap nothing
      const run = async () => {
        try { reply({ id: m.id, ok: true, value: await handle(m.req, progress) }); } catch (e) {
          reply({ id: m.id, ok: false, error: e instanceof Error ? e.message : String(e) });
        }
      };
      loading = (loading ?? Promise.resolve()).then(run);
    };
    conn.onClose = (e) => { if (control === conn) { control = null; say(`root gone: ${e.message}`); } };
  };

  const server = net.createServer((socket) => {
    socket.on('error', () => {}); // a reset during the handshake is that peer's problem
    acceptHandshake(socket, secret, check, { version: 1, modelSha }).then(({ conn, hello }) => {
      if (hello.role === 'control') serveControl(conn);
      else host!.attachPeer(hello.rank!, conn);
    }, (e: Error) => say(e.message));
  });
  await new Promise<void>((res, rej) => { server.once('error', rej); server.listen(port, bindHost, () => res()); });
  const a = server.address() as net.AddressInfo;
  const address = `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  say(`shard listening on ${address}${secret ? ' (secret required)' : ' (loopback, no secret)'}`);
  return {
    address, modelSha,
    async close() {
      server.close();
      control?.close(new Error('shutting down'));
      await host?.close();
    },
  };
}
