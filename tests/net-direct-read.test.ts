// The socket link's two ends (bindings/net: socket-link.ts in a worker, link-port.ts here) against a raw socket. A
// frame the kernel will not take at once goes out through the event loop. With the worker reading its peers' sockets
// itself (LOWBIT_TP_NET_DIRECT=read, peer-reader.ts): frames read directly arrive byte-exact; a frame cut by a pause
// longer than the spin is handed back to the event loop with the bytes read so far and completed there, after which
// the worker reads again; a malformed frame or an end of stream fails the fence naming the peer and closes the
// connection; over TCP at TP 2 the logits stay bitwise equal to the in-process run, and a stalled or killed peer is
// still named within the deadline.
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { spawn, ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import * as net from 'node:net';
import { Worker } from 'node:worker_threads';
import { Engine } from '../bindings/engine.js';
import { Conn } from '../bindings/net/conn.js';
import { encodeFrame, FrameDecoder, FrameType } from '../bindings/net/frame.js';
import { createSocketLink, SPLIT } from '../bindings/net/link-layout.js';
import { LinkPort } from '../bindings/net/link-port.js';

const root = new URL('..', import.meta.url).pathname;
const PEER = 'shard 1 (test peer)';

/**
 * Rank 0 in a worker (its SocketLink, this thread's LinkPort with `direct`), rank 1 the test's raw socket `peer`. Round
 * r = 1…rounds, the worker sends size(r) patterned bytes to all and (r, 7) to rank 1, fences and reports what rank 1 sent to all
 * or the fence's error (result(r)); rank 1 checks every frame and answers with setAnswer's function.
 */
async function pair(o: { spinUs: number; direct: { write: boolean; read: boolean }; rounds: number; capAll?: number; size?: (r: number) => number }) {
  const capAll = o.capAll ?? 4096, size = o.size ?? (() => 1000);
  const spec = { ...createSocketLink(2, 0, capAll, 64, ['shard 0', PEER], 10_000), read: o.direct.read, spinUs: o.spinUs };
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise((r) => client.once('connect', r));
  const peer = await accepted;
  const lp = new LinkPort(spec, o.direct);
  const conn = new Conn(client, PEER, lp.maxPayload());
  conn.decoder.allowed = (t) => t === FrameType.Data;
  const closed = new Promise<Error>((r) => { conn.onClose = (e) => { lp.lost(1); r(e); }; });
  conn.onFrame = (f) => lp.deliver(1, f.round, f.payload);
  lp.attach(1, conn);
  const worker = new Worker(`(async () => {
    const { register } = await import('tsx/esm/api'); register();
    const { workerData, parentPort } = require('node:worker_threads');
    const { SocketLink } = await import(${JSON.stringify(new URL('../bindings/net/socket-link.ts', import.meta.url).href)});
    const link = new SocketLink(workerData.spec), size = ${size.toString()};
    for (let r = 1; r <= ${o.rounds}; r++) {
      const m = new Uint8Array(size(r)); for (let i = 0; i < m.length; i++) m[i] = (i * 31 + r) & 255;
      link.send('all', m); link.send(1, Uint8Array.of(r, 7));
      try { link.fence(); } catch (e) { parentPort.postMessage({ r, error: e.message }); return; }
      const got = new Uint8Array(64), k = link.recv(1, 'all', got);
      parentPort.postMessage({ r, got: [...got.subarray(0, k)] });
    }
  })().catch((e) => { throw e; });`, { eval: true, workerData: { spec } });
  const results: { r: number; got?: number[]; error?: string }[] = [];
  const waiters: (() => void)[] = [];
  worker.on('message', (m) => { results.push(m); waiters.splice(0).forEach((w) => w()); });
  const result = async (r: number) => {
    while (!results.some((x) => x.r === r)) await new Promise<void>((res) => waiters.push(res));
    return results.find((x) => x.r === r)!;
  };
  const dec = new FrameDecoder(SPLIT + capAll + 64);
  const rounds: number[] = [];
  let answer: (r: number) => void = () => {};
  peer.on('data', (chunk: Buffer) => {
    for (const f of dec.push(chunk)) {
      assert.equal(f.type, FrameType.Data); assert.equal(f.from, 0);
      const v = new DataView(f.payload.buffer, f.payload.byteOffset, f.payload.length), nAll = v.getUint32(0, true);
      assert.equal(nAll, size(f.round)); assert.equal(v.getUint32(4, true), 2);
      for (let i = 0; i < nAll; i++) if (f.payload[SPLIT + i] !== ((i * 31 + f.round) & 255)) assert.fail(`round ${f.round}: byte ${i} differs`);
      assert.deepEqual([...f.payload.subarray(SPLIT + nAll)], [f.round, 7]);
      rounds.push(f.round);
      answer(f.round);
    }
  });
  const frame = (r: number) => encodeFrame(FrameType.Data, r, 1, Uint8Array.of(3, 0, 0, 0, 0, 0, 0, 0), Uint8Array.of(r, 42, r ^ 255));
  const done = async () => { await worker.terminate(); conn.close(new Error('done')); peer.destroy(); server.close(); lp.stop(); };
  return { lp, peer, conn, closed, result, frame, done, rounds, setAnswer: (f: (r: number) => void) => { answer = f; } };
}
const BOTH = { write: true, read: true };

/**
 * Bytes the kernel cannot hold for a peer that reads nothing: the largest send and receive buffers Linux autotunes a
 * TCP socket to (tcp_wmem / tcp_rmem maxima; 4 + 32 MiB on some machines, where a fixed 8 MiB frame went through at
 * once), and 8 MiB more.
 */
function beyondSocketBuffers(): number {
  const max = (f: string) => Number(readFileSync(f, 'utf8').trim().split(/\s+/)[2]);
  try { return max('/proc/sys/net/ipv4/tcp_wmem') + max('/proc/sys/net/ipv4/tcp_rmem') + (8 << 20); } catch { return 64 << 20; }
}

test('socket link: a frame the kernel will not take at once goes out whole through the event loop, then direct writes resume; bytes exact', async () => {
  const BIG = beyondSocketBuffers();
  // size() runs in the worker from its source text, so the number goes in literally
  const size = new Function('r', `return r === 2 ? ${BIG} : 1000;`) as (r: number) => number;
  const p = await pair({ spinUs: 100, direct: { write: true, read: false }, rounds: 3, capAll: BIG, size });
  try {
    p.peer.pause(); // rank 1 reads nothing yet: the kernel's buffers fill, the worker's write comes up short
    // answer after a pause, so the loop has finished its writes before the worker's next round
    p.setAnswer((r) => setTimeout(() => p.peer.write(p.frame(r)), 100));
    await new Promise((r) => setTimeout(r, 300));
    p.peer.resume();
    for (const r of [1, 2, 3]) assert.deepEqual((await p.result(r)).got, [r, 42, r ^ 255], `round ${r}`);
    assert.deepEqual(p.rounds, [1, 2, 3]);
    const st = p.lp.stats();
    assert.equal(st.handed, 1, `one frame handed to the loop: ${JSON.stringify(st)}`);
    assert.equal(st.partial, 1, `after a short write: ${JSON.stringify(st)}`);
    assert.equal(st.direct, 2, `rounds 1 and 3 written by the worker: ${JSON.stringify(st)}`);
    assert.equal(st.read, 0, `the loop read them (reads not on): ${JSON.stringify(st)}`);
  } finally { await p.done(); }
});

test('direct read: frames read by the worker byte-exact; a frame cut by a pause is finished by the event loop, then the worker reads again', async () => {
  const p = await pair({ spinUs: 50_000, direct: BOTH, rounds: 3 });
  try {
    p.setAnswer((r) => {
      const b = p.frame(r);
      if (r !== 2) { p.peer.write(b); return; }
      // round 2: 5 bytes of the header now, the rest after the worker's 50 ms spin is over
      p.peer.write(b.subarray(0, 5));
      setTimeout(() => p.peer.write(b.subarray(5)), 300);
    });
    for (const r of [1, 2, 3]) assert.deepEqual((await p.result(r)).got, [r, 42, r ^ 255], `round ${r}`);
    const st = p.lp.stats();
    assert.equal(st.read, 2, `rounds 1 and 3 read by the worker: ${JSON.stringify(st)}`);
    assert.equal(st.back, 1, `round 2 handed back to the loop: ${JSON.stringify(st)}`);
    assert.equal(st.direct, 3, `all written by the worker: ${JSON.stringify(st)}`);
  } finally { await p.done(); }
});

test('direct read: a malformed frame fails the fence naming the peer and closes the connection', async () => {
  const p = await pair({ spinUs: 50_000, direct: BOTH, rounds: 3 });
  try {
    p.setAnswer((r) => p.peer.write(r === 1 ? p.frame(r) : encodeFrame(FrameType.Request, r, 1, Uint8Array.of(1, 2, 3))));
    assert.deepEqual((await p.result(1)).got, [1, 42, 254]);
    const e = await p.result(2);
    assert.match(e.error ?? '', new RegExp(`${PEER.replace(/[()]/g, '\\$&')}: malformed frame: frame type 5 not allowed`));
    assert.match((await p.closed).message, /malformed/);
    assert.ok(p.conn.isClosed);
  } finally { await p.done(); }
});

test('direct read: a peer that ends its stream fails the fence naming it', async () => {
  const p = await pair({ spinUs: 50_000, direct: BOTH, rounds: 3 });
  try {
    p.setAnswer((r) => { if (r === 1) p.peer.write(p.frame(r)); else p.peer.end(); });
    assert.deepEqual((await p.result(1)).got, [1, 42, 254]);
    assert.match((await p.result(2)).error ?? '', /link to shard 1 \(test peer\) lost \(disconnected\)/);
    await p.closed;
  } finally { await p.done(); }
});

async function startShard(): Promise<{ proc: ChildProcess; address: string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'bindings/cli.ts', 'shard', '--listen', '127.0.0.1:0', '--quiet'],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((res, rej) => {
    createInterface({ input: proc.stdout! }).once('line', res);
    proc.once('exit', (c) => rej(new Error(`shard exited (${c}) before listening`)));
  });
  return { proc, address: line.replace(/^listening /, '') };
}
const sameBits = (a: Float32Array, b: Float32Array) => a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

test('TP 2 over TCP with both workers reading their sockets (LOWBIT_TP_NET_DIRECT=read): logits bitwise equal to in-process, a stalled then a killed peer named in time', async () => {
  const before = process.env.LOWBIT_TP_NET_DIRECT;
  process.env.LOWBIT_TP_NET_DIRECT = 'read'; // the shard process inherits it
  let net2: Engine | null = null, mem: Engine | null = null, shard: { proc: ChildProcess; address: string } | null = null;
  try {
    shard = await startShard();
    net2 = await Engine.load('smollm2', { peers: [shard.address], maxBatch: 16, context: 256, fenceMs: 2000 });
    mem = await Engine.load('smollm2', { tp: 2, maxBatch: 16, context: 256 });
    await net2.verifyIdentity(true);
    const ids = Array.from({ length: 24 }, (_, i) => 200 + 37 * i);
    for (const comm of [null, { mode: 'int4-g32', algorithm: 'all-gather' as const, fraction: 1 / 64 }]) {
      const run = async (e: Engine) => { await e.setComm(comm); e.reset(); const pre = await e.forward(ids, true); return { pre, step: await e.forward([ids[3]]) }; };
      const a = await run(net2), b = await run(mem), what = comm?.mode ?? 'exact';
      assert.ok(sameBits(a.pre.logits, b.pre.logits) && sameBits(a.step.logits, b.step.logits), `${what}: logits differ`);
      assert.equal(a.pre.mismatches + a.step.mismatches, 0, `${what}: shards diverged`);
    }
    const st = (net2.pool as unknown as { host0: { linkPort: LinkPort } }).host0.linkPort.stats();
    assert.ok(st.read > 0, `the root's worker read frames itself: ${JSON.stringify(st)}`);
    // stalled: the fence gives the reading back to the loop and still fails at its deadline, naming the peer
    const stall = net2.pool.call(1, { op: 'stall', ms: 4000 }).catch((e: Error) => e);
    let t0 = Date.now();
    await assert.rejects(net2.forward(ids), (e: Error) => e.message.includes(shard!.address) && /sent nothing/.test(e.message));
    assert.ok(Date.now() - t0 < 5000, `stalled: failed after ${Date.now() - t0} ms`);
    await stall;
    net2.reset();
    await net2.forward(ids);
    // killed
    shard.proc.kill('SIGKILL');
    net2.reset();
    t0 = Date.now();
    await assert.rejects(net2.forward(ids, true), (e: Error) => e.message.includes(shard!.address));
    assert.ok(Date.now() - t0 < 5000, `killed: failed after ${Date.now() - t0} ms`);
  } finally {
    if (before === undefined) delete process.env.LOWBIT_TP_NET_DIRECT; else process.env.LOWBIT_TP_NET_DIRECT = before;
    await net2?.close(); await mem?.close(); if (shard && shard.proc.exitCode === null) shard.proc.kill('SIGKILL');
  }
});
