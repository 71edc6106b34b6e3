// The rendezvous of a launch (net/launch.ts). The root (rank 0) listens at MASTER_ADDR:MASTER_PORT; each shard
// process, once its own shard server listens, dials it — retrying until the root is up, since a launcher starts all
// ranks at once — and registers: rank, world size, model hash and the address its server listens on, sent after the
// same HMAC challenge–response as every other connection (conn.ts), so an impostor gets nothing. When ranks 1…W−1
// are in, the root holds what --peers would have given it, in rank order, and goes on exactly as with --peers.
// Launch mistakes fail at once on both sides, named: a duplicate rank, another world size, another model, rank 0
// twice; a rank that never shows up fails the root at the deadline, naming it and how to start it.
// A registration stays open for the whole job. The shard exits when it closes — so launchers that wait for every
// rank (mpirun, a job's pod) see the job end with the root — and the root's reason travels with the close. A shard
// that restarts mid-job registers again: its new address replaces the old one in the list the pool redials.
import * as net from 'node:net';
import { acceptHandshake, Conn, dialHandshake, HandshakeRefused, Hello, isLoopback, parseAddress } from './conn.js';
import { FrameType, PROTOCOL_VERSION } from './frame.js';
import { Launch, launchEnv } from './launch.js';
import { modelSha256 } from './model-hash.js';

export interface Rendezvous {
  /** Where the root listens (the real port when MASTER_PORT was 0). */
  readonly address: string;
  /** Shard addresses by rank (index r − 1 for rank r): updated in place when a restarted shard registers again. */
  readonly peers: string[];
  /** Resolves with `peers` once every rank registered; rejects on a launch mistake or at the deadline. */
  readonly ready: Promise<string[]>;
  /** Say goodbye to every shard (they exit: 0 for 'done', else 1 with the reason) and stop listening. */
  close(reason?: string): Promise<void>;
}

// The address list travels from the command line through run / eval / serve to the pool as a plain string[] (the
// same path as --peers); the pool finds its rendezvous here, to close it when it closes.
const owners = new WeakMap<string[], Rendezvous>();
export const rendezvousOf = (peers: string[] | undefined): Rendezvous | undefined => (peers ? owners.get(peers) : undefined);

const utf8 = (s: string) => new TextEncoder().encode(s);
const ranks = (rs: number[]) => (rs.length === 1 ? `rank ${rs[0]}` : `ranks ${rs.join(', ')}`);
const bracket = (h: string) => (h.includes(':') ? `[${h}]` : h);

export interface RendezvousOptions { launch: Launch; secret?: string; modelSha: string; say?: (m: string) => void }

/** Rank 0: listen at the master address and collect the registrations of ranks 1…W−1. */
export async function hostRendezvous(o: RendezvousOptions): Promise<Rendezvous> {
  const say = o.say ?? (() => {}), secret = o.secret ?? '';
  const { worldSize: W, master, joinTimeoutMs } = o.launch;
  const { host, port } = parseAddress(master);
  // The master address is where the shards dial; the root takes it on every interface (as torch's TCPStore does),
  // since that address may be one the root's host is reached by rather than one of its own (NAT, a service name).
  const bind = isLoopback(host) ? host : host.includes(':') ? '::' : '0.0.0.0';
  if (!secret && !isLoopback(bind)) throw new Error(`the root's rendezvous at ${master} is not on loopback: it needs a shared secret (--secret S or LOWBIT_TP_SECRET, the same on every rank)`);
  const regs: ({ conn: Conn; from: string } | null)[] = new Array(W).fill(null);
  const peers: string[] = new Array(W - 1).fill('');
  let joined = false, closed = false, fatal: Error | null = null, wake = () => {};

  const server = net.createServer((socket) => {
    socket.on('error', () => {}); // a reset during the handshake is that peer's problem
    const from = `${bracket((socket.remoteAddress ?? '?').replace(/^::ffff:/, ''))}:${socket.remotePort}`;
    let address = '';
    const check = (h: Hello): string | null => {
      if (h.role !== 'register') return `this is the root's rendezvous port (MASTER_PORT), for shards started with RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT; a ${h.role} connection goes to a shard's --listen address`;
      const r = h.rank!;
      let why: string | null = null;
      try {
        const l = parseAddress(String(h.listen));
        const wildcard = ['0.0.0.0', '::', ''].includes(l.host);
        address = `${bracket(wildcard ? (socket.remoteAddress ?? '').replace(/^::ffff:/, '') : l.host)}:${l.port}`;
      } catch (e) { why = `rank ${r} at ${from} registered an unusable address: ${(e as Error).message}`; }
      if (why) { /* already set */ }
      else if (h.modelSha !== o.modelSha) why = `model mismatch: rank ${r} at ${from} has a GGUF with SHA-256 ${String(h.modelSha).slice(0, 16)}…, the root's is ${o.modelSha.slice(0, 16)}…`;
      else if (h.worldSize !== W) why = `world size mismatch: rank ${r} at ${from} was started with world size ${h.worldSize}, the root (rank 0) with ${W}`;
      else if (!Number.isInteger(r) || r < 1 || r >= W) why = r === 0 ? `rank 0 is the root, but ${from} registered as rank 0 too` : `rank ${r} (from ${from}) is not one of 1…${W - 1} (world size ${W})`;
      else if (regs[r] && !regs[r]!.conn.isClosed) why = `rank ${r} registered twice: from ${regs[r]!.from} and from ${from}`;
      if (why) {
        say(`rendezvous: refused ${from}: ${why}\n`);
        if (!joined) { fatal ??= new Error(why); wake(); } // before the job starts, a launch mistake ends it
      }
      return why;
    };
    acceptHandshake(socket, secret, check, { worldSize: W }).then(({ conn, hello }) => {
      const r = hello.rank!;
      if (closed) { conn.close(new Error('rendezvous closed')); return; }
      conn.socket.setKeepAlive(true, 10_000);
      conn.decoder.allowed = () => false; // a shard sends nothing more here: anything is a protocol error
      regs[r] = { conn, from };
      peers[r - 1] = address;
      conn.onClose = () => {
        if (regs[r]?.conn !== conn) return;
        regs[r] = null;
        say(`rendezvous: rank ${r} (${address}) left${joined ? '' : ' before the job started'}\n`);
        wake();
      };
      const n = regs.filter(Boolean).length;
      say(`rendezvous: rank ${r} registered from ${from}, shard at ${address}${joined ? ' (again: the next call reconnects to it)' : ` (${n} of ${W - 1})`}\n`);
      wake();
    }, (e: Error) => say(`rendezvous: ${e.message}\n`));
  });
  await new Promise<void>((res, rej) => { server.once('error', rej); server.listen(port, bind, () => res()); });
  const a = server.address() as net.AddressInfo;
  const address = `${bracket(isLoopback(host) ? a.address : host)}:${a.port}`;
  say(`rendezvous: rank 0 of ${W} waiting at ${address} (${bind === host ? bind : `all interfaces`}${secret ? ', secret required' : ', loopback, no secret'}) for ranks 1…${W - 1}\n`);

  const close = async (reason = 'done') => {
    if (closed) return;
    closed = true;
    owners.delete(peers);
    server.close();
    for (const reg of regs) {
      if (!reg || reg.conn.isClosed) continue;
      const c = reg.conn;
      c.onClose = () => {};
      c.send(FrameType.Reply, 0, 0, utf8(reason.slice(0, 2000)));
      c.socket.end();           // flushes the reason, then FIN; the shard closes its end and exits
      c.socket.unref();
      setTimeout(() => c.socket.destroy(), 2000).unref();
    }
  };

  const ready = (async () => {
    const deadline = Date.now() + joinTimeoutMs;
    let noted = Date.now();
    for (;;) {
      if (fatal) throw fatal;
      if (closed) throw new Error('rendezvous closed');
      const missing = Array.from({ length: W - 1 }, (_, i) => i + 1).filter((r) => !regs[r]);
      if (!missing.length) break;
      const left = deadline - Date.now();
      if (left <= 0) {
        const have = Array.from({ length: W - 1 }, (_, i) => i + 1).filter((r) => regs[r]);
        throw new Error(`${ranks(missing)} of world size ${W} did not register with the root at ${address} within ${joinTimeoutMs / 1000} s ` +
          `(registered: ${have.length ? have.join(', ') : 'none'}); start ${missing.length > 1 ? 'each' : 'it'} with ${launchEnv({ worldSize: W, master: address }, missing.length > 1 ? 'r' : missing[0])}` +
          `${secret ? ' and the same secret' : ''}`);
      }
      if (Date.now() - noted >= 5000) {
        noted = Date.now();
        say(`rendezvous: waiting for ${ranks(missing)} of ${W} (${W - 1 - missing.length} registered, ${Math.ceil(left / 1000)} s left)\n`);
      }
      await new Promise<void>((res) => { const t = setTimeout(res, Math.min(left, 1000)); wake = () => { clearTimeout(t); res(); }; });
    }
    joined = true;
    say(`rendezvous: all ${W - 1} shard${W > 2 ? 's' : ''} registered\n`);
    return peers;
  })();
  ready.catch((e: Error) => close(`the root gave up: ${e.message}`));
  const rdzv: Rendezvous = { address, peers, ready, close };
  owners.set(peers, rdzv);
  return rdzv;
}

/** Rank 0 in one step: host the rendezvous for this model file and wait for every rank; the addresses, by rank. */
export async function launchPeers(launch: Launch, o: { model: string; secret?: string; say?: (m: string) => void }): Promise<string[]> {
  const r = await hostRendezvous({ launch, secret: o.secret, modelSha: await modelSha256(o.model), say: o.say });
  return r.ready;
}

export interface Joined {
  /** Settles when the root closes the registration: done (the job ended normally) or why not. */
  ended: Promise<{ done: boolean; why: string }>;
  close(): void;
}

/** Rank ≥ 1: register this shard server's address with the root, retrying until it answers or the deadline. */
export async function joinRoot(o: { launch: Launch; listen: string; secret?: string; modelSha: string; say?: (m: string) => void; signal?: AbortSignal }): Promise<Joined> {
  const say = o.say ?? (() => {});
  const { rank, worldSize, master, joinTimeoutMs } = o.launch;
  const { host, port } = parseAddress(master);
  const hello: Hello = { role: 'register', version: PROTOCOL_VERSION, modelSha: o.modelSha, rank, worldSize, listen: o.listen };
  const name = `the root (rank 0) at ${master}`, deadline = Date.now() + joinTimeoutMs;
  let wait = 100, noted = Date.now(), last = '';
  for (;;) {
    if (o.signal?.aborted) throw new Error(`rank ${rank}: stopped before the root answered`);
    try {
      const { conn } = await dialHandshake(host, port, name, o.secret ?? '', hello, Math.max(100, Math.min(5000, deadline - Date.now())));
      conn.socket.setKeepAlive(true, 10_000);
      conn.decoder.allowed = (t) => t === FrameType.Reply;
      let reason = '';
      const ended = new Promise<{ done: boolean; why: string }>((res) => {
        conn.onFrame = (f) => { reason = new TextDecoder().decode(f.payload); };
        conn.onClose = (e) => res(reason ? { done: reason === 'done', why: reason === 'done' ? 'the root finished' : reason } : { done: false, why: `lost the root: ${e.message}` });
      });
      return { ended, close: () => conn.close(new Error('closed')) };
    } catch (e) {
      // refused (a launch mistake) or no common secret: trying again cannot help
      if (e instanceof HandshakeRefused) throw new Error(`rank ${rank}: ${e.message}`);
      last = (e as Error).message;
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`rank ${rank}: ${name} did not answer within ${joinTimeoutMs / 1000} s (last: ${last}); is rank 0 started, with the same MASTER_ADDR / MASTER_PORT?`);
    if (Date.now() - noted >= 5000) { noted = Date.now(); say(`rank ${rank}: waiting for ${name} (${last}; ${Math.ceil(left / 1000)} s left)`); }
    await new Promise<void>((res) => {
      const t = setTimeout(res, Math.min(wait, left));
      o.signal?.addEventListener('abort', () => { clearTimeout(t); res(); }, { once: true });
    });
    wait = Math.min(2000, wait * 1.5);
  }
}
