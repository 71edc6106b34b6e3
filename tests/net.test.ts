// Shards across processes over TCP (bindings/net): shard processes spawned from the CLI on loopback, the root in
// this process. Logits bitwise equal to the in-process pool with the same codec and TP degree, shards identical,
// faults (a killed peer, a stalled peer, reconnect), refusals (bad secret, other model, no secret off loopback),
// the frame decoder under random input, and a run in network namespaces joined by tbf-shaped veth links.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Engine } from '../bindings/engine.js';
import { startShardServer } from '../bindings/net/server.js';
import { fuzzDecoder } from '../bindings/net/fuzz.js';
import { modelPath } from '../bindings/models.js';
import type { CommConfig } from '../bindings/tp/allreduce.js';

const root = new URL('..', import.meta.url).pathname;

async function startShard(args: string[] = []): Promise<{ proc: ChildProcess; address: string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'bindings/cli.ts', 'shard', '--listen', '127.0.0.1:0', '--quiet', ...args],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((res, rej) => {
    createInterface({ input: proc.stdout! }).once('line', res);
    proc.once('exit', (c) => rej(new Error(`shard exited (${c}) before listening`)));
  });
  return { proc, address: line.replace(/^listening /, '') };
}
const stop = (p: ChildProcess) => { if (p.exitCode === null) p.kill('SIGKILL'); };
const sameBits = (a: Float32Array, b: Float32Array) => a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
const ids = Array.from({ length: 24 }, (_, i) => 200 + 37 * i);
const COMMS: (CommConfig | null)[] = [null, { mode: 'int4-g32', algorithm: 'all-gather', fraction: 1 / 64 }, { mode: 'int4-g32', algorithm: 'rs-ag', fraction: 1 / 64 }];
/** Entropy-coded messages (wire-format §12) have a length that depends on the data: rs-ag at TP 3 sends them both rounds. */
const EC: CommConfig = { mode: 'rot128-int4-g128-ec', algorithm: 'rs-ag', fraction: 1 / 64 };
/** The same with one step per row (§13, what `best` allocates over). */
const ROW_EC: CommConfig = { mode: 'rot128-int4-row-ec', algorithm: 'rs-ag', fraction: 1 / 64 };

async function logitsFor(e: Engine, comm: CommConfig | null) {
  await e.setComm(comm);
  e.reset();
  const pre = await e.forward(ids, true);         // 24 tokens in batches of 16: a full and a partial batch
  const step = await e.forward([ids[3]]);         // one decode step
  return { pre, step };
}

for (const tp of [2, 3]) {
  test(`TP ${tp} over TCP (${tp - 1} shard process${tp > 2 ? 'es' : ''}): logits bitwise equal to the in-process run, exact and int4-g32 (and -ec, -row-ec at TP 3), shards identical`, async () => {
    const shards = await Promise.all(Array.from({ length: tp - 1 }, () => startShard()));
    let net: Engine | null = null, mem: Engine | null = null;
    try {
      net = await Engine.load('smollm2', { peers: shards.map((s) => s.address), maxBatch: 16, context: 256 });
      mem = await Engine.load('smollm2', { tp, maxBatch: 16, context: 256 });
      assert.equal(net.tp, tp);
      await net.verifyIdentity(true);
      for (const comm of tp === 2 ? COMMS : [...COMMS.slice(0, 2), EC, ROW_EC]) {
        const a = await logitsFor(net, comm), b = await logitsFor(mem, comm), what = comm ? `${comm.mode} ${comm.algorithm}` : 'exact';
        assert.ok(sameBits(a.pre.logits, b.pre.logits), `${what}: prefill logits differ`);
        assert.ok(sameBits(a.step.logits, b.step.logits), `${what}: decode logits differ`);
        assert.equal(a.pre.bytesSent, b.pre.bytesSent, `${what}: the wire carries the same encoded bytes`);
        assert.equal(a.pre.checks, 2 * 2 * net.cfg.layers * tp, `${what}: every site checked`);
        assert.equal(a.pre.mismatches + a.step.mismatches, 0, `${what}: shards diverged`);
      }
    } finally { await net?.close(); await mem?.close(); shards.forEach((s) => stop(s.proc)); }
  });
}

test('TP 2 over TCP with --comm auto: the link measured at connect, a plan from it on every shard, shards bitwise identical', async () => {
  const [shard] = await Promise.all([startShard()]);
  let net: Engine | null = null;
  const notes: string[] = [];
  try {
    net = await Engine.load('smollm2', { peers: [shard.address], maxBatch: 16, context: 256, progress: (m) => notes.push(m) });
    const link = net.link!;
    assert.ok(link && link.rttMs > 0 && link.mbps > 0, 'link measured');
    assert.ok(notes.some((m) => m.startsWith('link: round trip')), 'reported');
    await net.verifyIdentity(true);
    const a = await logitsFor(net, { mode: 'auto:int4-g32', algorithm: 'all-gather', fraction: 1 / 64 });
    assert.match(net.link!.auto!, /^auto: /);
    assert.ok(notes.some((m) => m.startsWith('auto: ')), 'the choice is reported');
    assert.equal(a.pre.checks, 2 * 2 * net.cfg.layers * 2, 'every site checked');
    assert.equal(a.pre.mismatches + a.step.mismatches, 0, 'shards diverged');
    assert.ok(link.roundMs !== undefined && link.roundMs >= 0, 'a data-path round measured');
    // a plan forcing three bands (1 row exact, 2–8 rows int8-g32, 9+ rows int4-g32) keeps the shards identical too,
    // and each message goes in its band's codec
    const autoBands = [{ minRows: 1, mode: 'exact', algorithm: 'all-gather' as const }, { minRows: 2, mode: 'int8-g32', algorithm: 'all-gather' as const },
      { minRows: 9, mode: 'int4-g32', algorithm: 'all-gather' as const }];
    const b = await logitsFor(net, { mode: 'auto:int4-g32', algorithm: 'all-gather', fraction: 1 / 64, autoBands });
    assert.equal(b.pre.mismatches + b.step.mismatches, 0, 'shards diverged (forced plan)');
    const mixed = (8 * b.pre.bytesSent) / b.pre.valuesSent; // 16 rows at 5.007 bits + 8 rows at 9.007: 6.34
    assert.ok(Math.abs(mixed - (16 * 5.007 + 8 * 9.007) / 24) < 0.02, `prefill: the full batch in int4-g32, the partial one in int8-g32 (${mixed} bits/value)`);
    assert.equal(b.step.bytesSent / b.step.valuesSent, 4, 'decode step (1 row) exact');
    const c = await logitsFor(net, { mode: 'auto:int4-g32', algorithm: 'all-gather', fraction: 1 / 64, autoBands: autoBands.map((x) => ({ ...x, minRows: x.minRows === 9 ? 17 : x.minRows })) });
    const bits = (8 * c.pre.bytesSent) / c.pre.valuesSent;
    assert.ok(Math.abs(bits - 9.007) < 0.02, `prefill (16 and 8 rows) in int8-g32: ${bits} bits/value`);
    assert.equal(c.pre.mismatches + c.step.mismatches, 0, 'shards diverged (int8-g32 band)');
  } finally { await net?.close(); stop(shard.proc); }
});

test('a killed peer fails the call within 5 s naming it; after it restarts on its port the root serves again', async () => {
  const [s1, s2] = await Promise.all([startShard(), startShard()]);
  let s2b: ChildProcess | null = null, net: Engine | null = null;
  try {
    net = await Engine.load('smollm2', { peers: [s1.address, s2.address], maxBatch: 16, context: 256 });
    const ref = await net.forward(ids, true);
    stop(s2.proc);
    net.reset();
    const t0 = Date.now();
    await assert.rejects(net.forward(ids, true), (e: Error) => e.message.includes(s2.address) && /disconnected|lost|refused|not connected/.test(e.message));
    assert.ok(Date.now() - t0 < 5000, `failed after ${Date.now() - t0} ms`);
    // still down: the next call fails fast too, naming it
    await assert.rejects(net.forward(ids, true), (e: Error) => e.message.includes(s2.address));
    s2b = (await startShard(['--listen', s2.address])).proc; // same port (the later --listen wins)
    net.reset();
    const again = await net.forward(ids, true);
    assert.ok(sameBits(again.logits, ref.logits), 'logits after the reconnect differ');
  } finally { await net?.close(); stop(s1.proc); stop(s2.proc); if (s2b) stop(s2b); }
});

test('a stalled peer fails the call within the fence deadline, naming it', async () => {
  const s1 = await startShard();
  let net: Engine | null = null;
  try {
    net = await Engine.load('smollm2', { peers: [s1.address], maxBatch: 16, context: 256, fenceMs: 2000 });
    const stall = net.pool.call(1, { op: 'stall', ms: 4000 }).catch((e: Error) => e);
    const t0 = Date.now();
    await assert.rejects(net.forward(ids), (e: Error) => e.message.includes(s1.address) && /sent nothing/.test(e.message));
    assert.ok(Date.now() - t0 < 5000, `failed after ${Date.now() - t0} ms`);
    await stall;
    net.reset();
    await net.forward(ids); // recovers once the peer answers again
  } finally { await net?.close(); stop(s1.proc); }
});

test('refused: a bad secret (nothing sent back), another model (hash named), no secret off loopback', async () => {
  const withSecret = await startShard(['--secret', 'right']);
  const gemma = await startShard(['--model', 'gemma3']);
  try {
    await assert.rejects(Engine.load('smollm2', { peers: [withSecret.address], peerSecret: 'wrong', maxBatch: 16, context: 256 }),
      /closed the connection during authentication/);
    await assert.rejects(Engine.load('smollm2', { peers: [withSecret.address], maxBatch: 16, context: 256 }), /authentication/);
    await assert.rejects(Engine.load('smollm2', { peers: [gemma.address], maxBatch: 16, context: 256 }), /model mismatch: .*SHA-256/);
    await assert.rejects(startShardServer({ listen: '0.0.0.0:0', model: await modelPath('smollm2') }), /needs a shared secret/);
  } finally { stop(withSecret.proc); stop(gemma.proc); }
});

test('frame decoder: 20 000 random and mutated streams never crash and never allocate past the cap', () => {
  const r = fuzzDecoder(20_000, 7);
  assert.equal(r.crashes, 0, r.firstCrash ?? '');
  assert.ok(r.rejected > 0 && r.accepted > 0, JSON.stringify(r));
});

test('network namespaces: 2 processes on a 100 Mbit/s tbf-shaped veth link, exact vs int4-g32 bitwise equal to in-process, shards identical, a killed peer named', (t) => {
  const r = spawnSync('bash', ['scripts/net-ns.sh', '--rate', '100mbit', '--shards', '1', '--', process.execPath, '--import', 'tsx', 'scripts/net-check.ts'],
    { cwd: root, encoding: 'utf8', timeout: 60_000 });
  if (r.status === 77) { t.skip(`network namespaces unavailable here: ${r.stderr.trim()}`); return; }
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /ok exact/);
  assert.match(r.stdout, /ok int4-g32/);
  assert.match(r.stdout, /ok killed peer named/);
});

test('TP 2 over TCP with the root\'s frames sent by its event loop (LOWBIT_TP_NET_DIRECT=0) and the shard\'s written by its worker: logits bitwise equal to in-process', async () => {
  const shard = await startShard();
  let net: Engine | null = null, mem: Engine | null = null;
  const before = process.env.LOWBIT_TP_NET_DIRECT;
  try {
    process.env.LOWBIT_TP_NET_DIRECT = '0';
    net = await Engine.load('smollm2', { peers: [shard.address], maxBatch: 16, context: 256, fenceMs: 5000 });
    if (before === undefined) delete process.env.LOWBIT_TP_NET_DIRECT; else process.env.LOWBIT_TP_NET_DIRECT = before;
    mem = await Engine.load('smollm2', { tp: 2, maxBatch: 16, context: 256 });
    await net.verifyIdentity(true);
    for (const comm of COMMS.slice(0, 2)) {
      const a = await logitsFor(net, comm), b = await logitsFor(mem, comm);
      assert.ok(sameBits(a.pre.logits, b.pre.logits) && sameBits(a.step.logits, b.step.logits), `${comm?.mode ?? 'exact'}: logits differ`);
      assert.equal(a.pre.mismatches + a.step.mismatches, 0, 'shards diverged');
    }
    // the root's shard 0 really went through its loop (the pool's private host of shard 0)
    const st = (net.pool as unknown as { host0: { linkPort: { stats(): { direct: number; handed: number } } } }).host0.linkPort.stats();
    assert.ok(st.direct === 0 && st.handed > 0, JSON.stringify(st));
  } finally {
    if (before === undefined) delete process.env.LOWBIT_TP_NET_DIRECT; else process.env.LOWBIT_TP_NET_DIRECT = before;
    await net?.close(); await mem?.close(); stop(shard.proc);
  }
});
