// torch.distributed-style launch (bindings/net/launch.ts, rendezvous.ts): shard processes started with RANK /
// WORLD_SIZE / MASTER_ADDR / MASTER_PORT (or mpirun's OMPI_COMM_WORLD_*) find the root themselves. Logits bitwise
// equal to the in-process pool at the same TP and codec (2 and 3 processes), the same `run` command on every rank,
// a shard restarted mid-job, two shards in one process (--shards), and every launch mistake failing fast and named —
// each test bounded in time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { Engine } from '../bindings/engine.js';
import { resolveLaunch, Launch } from '../bindings/net/launch.js';
import { hostRendezvous, Rendezvous } from '../bindings/net/rendezvous.js';
import { modelSha256 } from '../bindings/net/model-hash.js';
import { modelPath } from '../bindings/models.js';

const root = new URL('..', import.meta.url).pathname;
const T = { timeout: 90_000 };
// a clean environment: no launch or peers leaking in from the shell that runs the tests
const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(RANK|WORLD_SIZE|MASTER_|OMPI_COMM_WORLD_|PMI_|LOWBIT_TP_(PEERS|LISTEN|SECRET|JOIN))/.test(k)));

interface Proc { proc: ChildProcess; out: () => string; err: () => string; exit: Promise<number | null> }
/** `lowbit-tp <cmd>` as its own process, with these launch variables. */
function start(env: Record<string, string>, args: string[] = [], cmd = 'shard'): Proc {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'bindings/cli.ts', cmd, '--quiet', ...args], { cwd: root, env: { ...baseEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  proc.stdout!.on('data', (d) => { out += d; });
  proc.stderr!.on('data', (d) => { err += d; });
  const exit = new Promise<number | null>((res) => proc.once('exit', (c) => res(c)));
  return { proc, out: () => out, err: () => err, exit };
}
const stop = (p: Proc) => { if (p.proc.exitCode === null) p.proc.kill('SIGKILL'); };
/** The exit code within ms, or a failure saying the process did not exit. */
async function exited(p: Proc, ms: number): Promise<number | null> {
  const t = new Promise<'hung'>((res) => setTimeout(() => res('hung'), ms).unref());
  const c = await Promise.race([p.exit, t]);
  assert.notEqual(c, 'hung', `process did not exit within ${ms} ms; stderr: ${p.err()}`);
  return c as number | null;
}
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((res) => s.listen(0, '127.0.0.1', () => res()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((res) => s.close(res));
  return port;
}
const env = (rank: number, world: number, port: number | string, extra: Record<string, string> = {}) =>
  ({ RANK: String(rank), WORLD_SIZE: String(world), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), ...extra });
/** Rank 0's rendezvous, in this process, from the same variables a launcher sets. */
async function rootAt(world: number, port = 0, extra: Record<string, string> = {}): Promise<{ rdzv: Rendezvous; launch: Launch; port: number }> {
  const launch = resolveLaunch({}, env(0, world, port, extra))!;
  const rdzv = await hostRendezvous({ launch, secret: extra.LOWBIT_TP_SECRET, modelSha: await modelSha256(await modelPath('smollm2')) });
  return { rdzv, launch, port: Number(rdzv.address.split(':').pop()) };
}
const sameBits = (a: Float32Array, b: Float32Array) => a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
const ids = Array.from({ length: 24 }, (_, i) => 200 + 37 * i);
async function logits(e: Engine, mode: string | null) {
  await e.setComm(mode ? { mode, algorithm: 'rs-ag', fraction: 1 / 64 } : null);
  e.reset();
  return [(await e.forward(ids, true)).logits, (await e.forward([ids[3]])).logits];
}
async function assertSameAsInProcess(netEngine: Engine, tp: number) {
  const mem = await Engine.load('smollm2', { tp, maxBatch: 16, context: 256 });
  try {
    await netEngine.verifyIdentity(true);
    for (const mode of [null, 'int4-g32']) {
      const [a, b] = [await logits(netEngine, mode), await logits(mem, mode)];
      assert.ok(sameBits(a[0], b[0]) && sameBits(a[1], b[1]), `${mode ?? 'exact'}: logits over the launch differ from the in-process run`);
    }
  } finally { await mem.close(); }
}

test('resolveLaunch: torchrun, mpirun and flag conventions, and each mistake named', () => {
  assert.equal(resolveLaunch({}, {}), null, 'no launch: one process');
  assert.equal(resolveLaunch({}, { RANK: '0', WORLD_SIZE: '1' }), null, 'world size 1: one process');
  const t = resolveLaunch({}, { RANK: '2', WORLD_SIZE: '3', MASTER_ADDR: 'h0', MASTER_PORT: '29500' })!;
  assert.deepEqual([t.rank, t.worldSize, t.master, t.joinTimeoutMs], [2, 3, 'h0:29500', 300_000]);
  const m = resolveLaunch({ master: '10.0.0.1:7000', 'join-timeout': '5' }, { OMPI_COMM_WORLD_RANK: '1', OMPI_COMM_WORLD_SIZE: '4' })!;
  assert.deepEqual([m.rank, m.worldSize, m.master, m.joinTimeoutMs], [1, 4, '10.0.0.1:7000', 5000]);
  assert.equal(resolveLaunch({ rank: '3', 'world-size': '5' }, { RANK: '1', WORLD_SIZE: '2', MASTER_ADDR: '::1', MASTER_PORT: '9' })!.master, '[::1]:9', 'flags win; IPv6 bracketed');
  assert.throws(() => resolveLaunch({}, env(2, 2, 1)), /rank 2 \(RANK\) is not below the world size 2/);
  assert.throws(() => resolveLaunch({}, { WORLD_SIZE: '2', MASTER_ADDR: 'h', MASTER_PORT: '1' }), /no rank: set RANK/);
  assert.throws(() => resolveLaunch({}, { RANK: '1', WORLD_SIZE: '2', MASTER_ADDR: 'h' }), /MASTER_PORT is not set/);
  assert.throws(() => resolveLaunch({ rank: '1' }, {}), /need --world-size/);
  assert.throws(() => resolveLaunch({}, { RANK: 'one', WORLD_SIZE: '2', MASTER_ADDR: 'h', MASTER_PORT: '1' }), /RANK must be a whole number/);
});

test('launch by environment, 2 processes on loopback: logits bitwise equal to in-process TP 2 (exact, int4-g32); the shard exits 0 with the root', T, async () => {
  const { rdzv, port } = await rootAt(2);
  const s1 = start(env(1, 2, port));
  let e: Engine | null = null;
  try {
    const peers = await rdzv.ready;
    e = await Engine.load('smollm2', { peers, maxBatch: 16, context: 256 });
    assert.equal(e.tp, 2);
    await assertSameAsInProcess(e, 2);
    await e.close(); e = null;
    assert.equal(await exited(s1, 5000), 0, 'the shard ends with the job');
  } finally { await e?.close(); await rdzv.close(); stop(s1); }
});

test('launch of 3 processes started before the root (torchrun and mpirun variables, --master flag at the root): bitwise equal to in-process TP 3; a restarted shard re-registers and the next call recovers', T, async () => {
  const port = await freePort();
  const s1 = start(env(1, 3, port));
  let s2 = start({ OMPI_COMM_WORLD_RANK: '2', OMPI_COMM_WORLD_SIZE: '3', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) });
  await new Promise((r) => setTimeout(r, 1500)); // the shards dial a root that is not there yet, and keep trying
  const launch = resolveLaunch({ rank: '0', 'world-size': '3', master: `127.0.0.1:${port}` }, {})!;
  const rdzv = await hostRendezvous({ launch, modelSha: await modelSha256(await modelPath('smollm2')) });
  let e: Engine | null = null;
  try {
    const peers = await rdzv.ready;
    e = await Engine.load('smollm2', { peers, maxBatch: 16, context: 256 });
    assert.equal(e.tp, 3);
    await assertSameAsInProcess(e, 3);
    const ref = (await logits(e, null))[0];
    const before = peers[1];
    stop(s2);
    await exited(s2, 5000);
    e.reset();
    await assert.rejects(e.forward(ids, true), (err: Error) => err.message.includes(before));
    s2 = start(env(2, 3, port));                  // a launcher restarts it: a new process on a new port
    for (let i = 0; peers[1] === before && i < 100; i++) await new Promise((r) => setTimeout(r, 100));
    assert.notEqual(peers[1], before, 'the restarted rank 2 registered its new address');
    e.reset();
    assert.ok(sameBits((await e.forward(ids, true)).logits, ref), 'logits after the restart differ');
  } finally { await e?.close(); await rdzv.close(); stop(s1); stop(s2); }
});

test('the same `run` command on every rank (RANK 0 root, RANK 1 shard) prints the same text as in-process --tp 2', T, async () => {
  const port = await freePort(), args = ['--prompt', 'The capital of France is', '--max-tokens', '8'];
  const r1 = start(env(1, 2, port), args, 'run'), r0 = start(env(0, 2, port), args, 'run');
  const solo = start({}, [...args, '--tp', '2'], 'run');
  try {
    assert.equal(await exited(r0, 60_000), 0, r0.err());
    assert.equal(await exited(r1, 10_000), 0, r1.err());
    assert.equal(await exited(solo, 60_000), 0, solo.err());
    const text = (p: Proc) => p.out().split('\n\n|')[0];
    assert.ok(text(r0).length > args[1].length, `no text generated: ${r0.out()}`);
    assert.equal(text(r0), text(solo));
    assert.match(r0.out(), /\| 2 \| exact/, 'TP 2 from the world size');
  } finally { [r0, r1, solo].forEach(stop); }
});

test('several shards in one process (--shards 2, each on its own worker thread): behind --peers A,A and as ranks 1 and 2 of a launch, TP 3 bitwise equal to in-process', T, async () => {
  const host = start({}, ['--listen', '127.0.0.1:0', '--shards', '2']);
  let e: Engine | null = null;
  try {
    for (let i = 0; !host.out().startsWith('listening') && i < 300; i++) await new Promise((r) => setTimeout(r, 50));
    const a = host.out().split('\n')[0].replace(/^listening /, '');
    e = await Engine.load('smollm2', { peers: [a, a], maxBatch: 16, context: 256 });
    await assertSameAsInProcess(e, 3);
  } finally { await e?.close(); e = null; stop(host); }
  const { rdzv, port } = await rootAt(3);
  const pair = start(env(1, 3, port), ['--shards', '2']);
  try {
    const peers = await rdzv.ready;
    assert.equal(peers[0], peers[1], 'ranks 1 and 2 registered the same process');
    e = await Engine.load('smollm2', { peers, maxBatch: 16, context: 256 });
    await assertSameAsInProcess(e, 3);
    await e.close(); e = null;
    assert.equal(await exited(pair, 5000), 0, 'the process ends with the job');
  } finally { await e?.close(); await rdzv.close(); stop(pair); }
});

test('launch mistakes fail at once, named on both sides: world size mismatch, duplicate rank', T, async () => {
  const a = await rootAt(2);
  const wrong = start(env(1, 3, a.port));
  try {
    await assert.rejects(a.rdzv.ready, /world size mismatch: rank 1 .* world size 3, the root \(rank 0\) with 2/);
    assert.equal(await exited(wrong, 10_000), 1);
    assert.match(wrong.err(), /world size mismatch/);
  } finally { await a.rdzv.close(); stop(wrong); }
  const b = await rootAt(3);
  const twins = [start(env(1, 3, b.port)), start(env(1, 3, b.port))];
  try {
    await assert.rejects(b.rdzv.ready, /rank 1 registered twice: from 127\.0\.0\.1:\d+ and from 127\.0\.0\.1:\d+/);
    for (const p of twins) assert.equal(await exited(p, 10_000), 1, 'both end: one refused, one told the root gave up');
    assert.ok(twins.some((p) => /refused the connection: rank 1 registered twice/.test(p.err())), twins.map((p) => p.err()).join('\n'));
  } finally { await b.rdzv.close(); twins.forEach(stop); }
});

test('a rank that never registers fails the root at the deadline naming it and how to start it; the registered shard exits 1', T, async () => {
  const { rdzv, port } = await rootAt(3, 0, { LOWBIT_TP_JOIN_TIMEOUT: '3' });
  const s2 = start(env(2, 3, port));
  try {
    const t0 = Date.now();
    await assert.rejects(rdzv.ready, new RegExp(`rank 1 of world size 3 did not register .* within 3 s \\(registered: 2\\); start it with RANK=1 WORLD_SIZE=3 MASTER_ADDR=127.0.0.1 MASTER_PORT=${port}`));
    assert.ok(Date.now() - t0 < 4500, `gave up after ${Date.now() - t0} ms`);
    assert.equal(await exited(s2, 5000), 1);
    assert.match(s2.err(), /the root gave up: rank 1 .* did not register/);
  } finally { await rdzv.close(); stop(s2); }
});

test('shard-side mistakes: rank ≥ world size, rank 0 as a shard, a root that never answers, a wrong secret, no secret off loopback', T, async () => {
  const port = await freePort();
  const tooHigh = start(env(2, 2, port)), zero = start(env(0, 2, port)), alone = start(env(1, 2, port, { LOWBIT_TP_JOIN_TIMEOUT: '1.5' }));
  const spill = start(env(2, 3, port), ['--shards', '2']);
  try {
    assert.equal(await exited(spill, 10_000), 1);
    assert.match(spill.err(), /--shards 2 from rank 2 would host ranks 2…3, beyond the world size 3/);
    assert.equal(await exited(tooHigh, 10_000), 1);
    assert.match(tooHigh.err(), /rank 2 \(RANK\) is not below the world size 2/);
    assert.equal(await exited(zero, 10_000), 1);
    assert.match(zero.err(), /rank 0 is the root: start it with lowbit-tp run\|eval\|serve/);
    assert.equal(await exited(alone, 10_000), 1);
    assert.match(alone.err(), /rank 1: the root \(rank 0\) at 127\.0\.0\.1:\d+ did not answer within 1\.5 s .*ECONNREFUSED/);
  } finally { [tooHigh, zero, alone, spill].forEach(stop); }
  const { rdzv, port: p2 } = await rootAt(2, 0, { LOWBIT_TP_SECRET: 'right' });
  const bad = start(env(1, 2, p2, { LOWBIT_TP_SECRET: 'wrong' }));
  try {
    assert.equal(await exited(bad, 10_000), 1, 'refused at once, not retried');
    assert.match(bad.err(), /closed the connection during authentication \(wrong or missing --secret\?\)/);
  } finally { await rdzv.close(); stop(bad); }
  const launch = resolveLaunch({}, { ...env(0, 2, 0), MASTER_ADDR: '0.0.0.0' })!;
  await assert.rejects(hostRendezvous({ launch, modelSha: 'x' }), /not on loopback: it needs a shared secret/);
  const open = start({ ...env(1, 2, 1), MASTER_ADDR: '10.255.255.1' });
  try {
    assert.equal(await exited(open, 10_000), 1);
    assert.match(open.err(), /needs a shared secret/, 'a launched shard off loopback listens on every interface: secret required');
  } finally { stop(open); }
});

test('network namespaces, 3 processes launched by RANK / WORLD_SIZE / MASTER_ADDR=10.9.0.1 with a secret over 100 Mbit/s veths: shards on every interface found at their namespace addresses, text equal to in-process --tp 3', T, async (t) => {
  const args = ['--prompt', 'The capital of France is', '--max-tokens', '6', '--comm', 'int4-g32'];
  const r = spawnSync('bash', ['scripts/net-ns.sh', '--launch', '--rate', '100mbit', '--shards', '2', '--', process.execPath, '--import', 'tsx', 'bindings/cli.ts', 'run', ...args],
    { cwd: root, encoding: 'utf8', timeout: 60_000, env: baseEnv });
  if (r.status === 77) { t.skip(`network namespaces unavailable here: ${r.stderr.trim()}`); return; }
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /rank [12] registered from 10\.9\.0\.[23]:\d+, shard at 10\.9\.0\.[23]:\d+/);
  assert.match(r.stderr, /secret required/);
  const solo = start({}, [...args, '--tp', '3'], 'run');
  try {
    assert.equal(await exited(solo, 60_000), 0, solo.err());
    assert.equal(r.stdout.split('\n\n|')[0], solo.out().split('\n\n|')[0]);
  } finally { stop(solo); }
});
