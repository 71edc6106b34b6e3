// Issue 11: where the network layer's per-round and per-token time goes on an unshaped loopback at TP 2.
// One process holds two engines side by side: the in-process pool (TP 2, shared memory) and this process as root +
// one `lowbit-tp shard` child process on 127.0.0.1 (bindings/net). Repeats interleave the two (the order alternates).
// Per repeat and engine:
//   round    ms per 1-row all-reduce (the shards' benchReduce, M = 1, back to back: send + fence + recv)
//   control  ms per control round trip to every shard (a no-op request: the root's path of a forward minus the work)
//   decode   ms per token: an 8-token prompt, then --decode single-token steps (full vocabulary logits back each step)
//   bare     the same steps sent to the pool without asking for logits (the forward and its rounds alone)
// and the overhead = network − in-process (per repeat; median and range over the repeats). At the end, a control round
// trip to shard 1 whose reply is 0 bytes, this model's logits slice, or a 128k vocabulary's (256 KB): what returning
// the logits over the control connection costs.
// --part mech: the bare mechanisms, no model: (a) worker ↔ main wake-ups through a SharedArrayBuffer (the worker's
// Atomics.wait against the main thread's Atomics.waitAsync, as socket-link.ts does), (b) a TCP ping-pong between this
// process's event loop and a child's over loopback (2 KB frames, as a 1-row exact SmolLM2 message).
// Usage:
//   nice -n 10 node --import tsx scripts/net-overhead.ts [--model smollm2] [--repeats 7] [--decode 32] [--reps 200]
//        [--modes exact,int4-g32] [--json FILE (appends one line)] [--label L]
//     (LOWBIT_TP_NET_DIRECT=read in the environment: the shards' workers read their sockets themselves; recorded)
//   nice -n 10 node --import tsx scripts/net-overhead.ts --part mech [--reps 2000]
//   node --import tsx scripts/net-overhead.ts --part summary --json FILE   (per label and mode, over the invocations
//        in FILE: median (min–max) of each invocation's medians; for before/after runs of two checkouts, interleaved)
import { spawn, ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import * as net from 'node:net';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

const arg = (k: string, d: string) => { const i = process.argv.indexOf(`--${k}`); return i > 0 ? process.argv[i + 1] : d; };
const part = arg('part', 'model'), model = arg('model', 'smollm2'), repeats = Number(arg('repeats', '7'));
const decode = Number(arg('decode', '32')), reps = Number(arg('reps', part === 'mech' ? '2000' : '200'));
const modes = arg('modes', 'exact').split(','), label = arg('label', ''), json = arg('json', '');
const root = fileURLToPath(new URL('..', import.meta.url));
const log = (s: string) => console.error(s);
interface Stat { median: number; min: number; max: number }
const stat = (xs: number[]): Stat => { const s = [...xs].sort((a, b) => a - b); return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1] }; };
const f = (s: Stat, d = 3) => `${s.median.toFixed(d)} (${s.min.toFixed(d)}–${s.max.toFixed(d)})`;

function child(args: string[]): Promise<{ proc: ChildProcess; line: string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  process.on('exit', () => { if (proc.exitCode === null) proc.kill('SIGKILL'); });
  return new Promise((res, rej) => {
    createInterface({ input: proc.stdout! }).once('line', (line) => res({ proc, line }));
    proc.once('exit', (c) => rej(new Error(`child exited (${c}) before its first line`)));
  });
}

if (part === 'summary') {
  const { readFileSync } = await import('node:fs');
  const runs = readFileSync(json, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((r) => r.part === 'model');
  const groups = new Map<string, { median: number }[][]>();
  const keys = [['round', 'inproc'], ['round', 'net'], ['round', 'diff'], ['control', 'diff'], ['decode', 'inproc'], ['decode', 'net'], ['decode', 'diff'], ['bare', 'diff']];
  for (const run of runs) for (const r of run.results) {
    const k = `${run.label}\t${r.mode}\t${r.rounds}`;
    if (!groups.has(k)) groups.set(k, keys.map(() => []));
    keys.forEach(([a, b], i) => groups.get(k)![i].push(r[a][b]));
  }
  console.log(`${runs.length} invocations in ${json}; per label and mode: median (min–max) over the invocations of each one's median\n`);
  console.log('| label | mode | invocations | round ms in-process | round ms network | Δ round ms | Δ rounds ms/token | Δ control ms | decode ms/token in-process | decode ms/token network | Δ decode ms/token | Δ decode without logits |\n|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const [k, cols] of groups) {
    const [lab, mode, rounds] = k.split('\t'), st = cols.map((c) => stat(c.map((x) => x.median)));
    const tok = stat(cols[2].map((x) => x.median * Number(rounds)));
    console.log(`| ${lab} | ${mode} | ${cols[0].length} | ${f(st[0])} | ${f(st[1])} | ${f(st[2])} | ${f(tok, 2)} | ${f(st[3])} | ${f(st[4], 2)} | ${f(st[5], 2)} | ${f(st[6], 2)} | ${f(st[7], 2)} |`);
  }
  process.exit(0);
}

if (part === 'mech') {
  // (a) worker ↔ main through a SAB: the worker publishes (store + notify), the main thread's waitAsync wakes and
  // answers (store + notify), the worker's Atomics.wait wakes. One iteration = one hop each way.
  const sab = new SharedArrayBuffer(64), c = new Int32Array(sab);
  const w = new Worker(`
    const { workerData, parentPort } = require('node:worker_threads');
    const c = new Int32Array(workerData.sab), reps = workerData.reps, spin = workerData.spin;
    parentPort.once('message', () => {
      const t0 = performance.now();
      for (let i = 1; i <= reps; i++) {
        Atomics.store(c, 0, i); Atomics.notify(c, 0);
        for (let s = 0; Atomics.load(c, 1) < i; s++) if (s >= spin) Atomics.wait(c, 1, i - 1, 1000);
      }
      parentPort.postMessage((performance.now() - t0) / reps);
    });`, { eval: true, workerData: { sab, reps, spin: Number(arg('spin', '200')) } });
  const serveMain = (gotten = 0): void => {
    const wa = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: Promise<string> | string } }).waitAsync(c, 0, gotten);
    const next = () => { const v = Atomics.load(c, 0); Atomics.store(c, 1, v); Atomics.notify(c, 1); if (v < reps) serveMain(v); };
    if (wa.async) void (wa.value as Promise<string>).then(next); else queueMicrotask(next);
  };
  serveMain();
  const hop = await new Promise<number>((res) => { w.once('message', res); w.postMessage('go'); });
  await w.terminate();
  // (b) TCP ping-pong, main thread to main thread, 2 KB each way, TCP_NODELAY
  const echo = `const net = require('node:net'); const s = net.createServer((k) => { k.setNoDelay(true); k.on('data', (d) => k.write(d)); });
    s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;
  const { proc, line } = await child(['-e', echo]);
  const sock = net.connect({ host: '127.0.0.1', port: Number(line) });
  await new Promise((r) => sock.once('connect', r));
  sock.setNoDelay(true);
  const msg = Buffer.alloc(2048, 7);
  const pp = await new Promise<number>((res) => {
    let got = 0, i = 0; const t0 = performance.now();
    sock.on('data', (d) => { got += d.length; if (got < msg.length) return; got = 0; if (++i === reps) res((performance.now() - t0) / reps); else sock.write(msg); });
    sock.write(msg);
  });
  sock.destroy(); proc.kill('SIGKILL');
  console.log(`worker → main (waitAsync) → worker (Atomics.wait): ${(hop * 1000).toFixed(1)} µs per round trip (${reps} reps)`);
  console.log(`TCP loopback ping-pong, 2 KB, event loop ↔ event loop of another process: ${(pp * 1000).toFixed(1)} µs per round trip`);
  if (json) appendFileSync(json, JSON.stringify({ part, label, reps, hopUs: hop * 1000, pingPongUs: pp * 1000 }) + '\n');
  process.exit(0);
}

const { Engine } = await import('../bindings/engine.js');
type E = Awaited<ReturnType<typeof Engine.load>>;
const { proc, line } = await child(['bindings/cli.ts', 'shard', '--listen', '127.0.0.1:0', '--quiet', '--model', model]);
const address = line.replace(/^listening /, '');
const opts = { maxBatch: 16, context: 64 + decode };
const inproc = await Engine.load(model, { tp: 2, ...opts }), netE = await Engine.load(model, { peers: [address], ...opts });
const ids = Array.from({ length: 8 + decode }, (_, i) => (200 + 37 * i) % inproc.cfg.vocab);

const roundMs = async (e: E) => Math.max(...await e.pool.all<number>({ op: 'benchReduce', M: 1, reps }));
async function controlMs(e: E, n = 20): Promise<number> {
  const t = performance.now();
  for (let i = 0; i < n; i++) await e.pool.all({ op: 'observed' });
  return (performance.now() - t) / n;
}
async function decodeMs(e: E): Promise<number> {
  e.reset();
  await e.forward(ids.slice(0, 8));
  const t = performance.now();
  for (let i = 0; i < decode; i++) await e.forward([ids[8 + i]]);
  return (performance.now() - t) / decode;
}
/** The same steps through the pool without asking for logits (logitsFrom = M): the forward alone, no vocabulary. */
async function bareMs(e: E): Promise<number> {
  e.reset();
  await e.forward(ids.slice(0, 8));
  const t = performance.now();
  for (let i = 0; i < decode; i++) await e.pool.all({ op: 'forward', tokens: Int32Array.of(ids[8 + i]), pos0: 8 + i, logitsFrom: 1 });
  return (performance.now() - t) / decode;
}
const results: Record<string, unknown>[] = [];
for (const mode of modes) {
  const comm = mode === 'exact' ? null : { mode, algorithm: 'all-gather' as const, fraction: 1 / 64 };
  await inproc.setComm(comm); await netE.setComm(comm);
  for (const e of [inproc, netE]) { await decodeMs(e); await bareMs(e); await roundMs(e); await controlMs(e, 5); } // warm-up
  const m: Record<string, Record<string, number[]>> = { inproc: { round: [], control: [], decode: [], bare: [] }, net: { round: [], control: [], decode: [], bare: [] } };
  for (let r = 0; r < repeats; r++) {
    for (const k of (r % 2 ? ['net', 'inproc'] : ['inproc', 'net'])) {
      const e = k === 'net' ? netE : inproc;
      m[k].round.push(await roundMs(e)); m[k].control.push(await controlMs(e)); m[k].decode.push(await decodeMs(e)); m[k].bare.push(await bareMs(e));
    }
    log(`  ${mode} rep ${r + 1}: round ${m.inproc.round[r].toFixed(3)} / ${m.net.round[r].toFixed(3)} ms, control ${m.inproc.control[r].toFixed(3)} / ${m.net.control[r].toFixed(3)} ms, decode ${m.inproc.decode[r].toFixed(2)} / ${m.net.decode[r].toFixed(2)} ms/token, no logits ${m.inproc.bare[r].toFixed(2)} / ${m.net.bare[r].toFixed(2)} (in-process / network)`);
  }
  const diff = (x: string) => m.net[x].map((v, i) => v - m.inproc[x][i]);
  const rounds = 2 * inproc.cfg.layers;
  const row = {
    mode, rounds, round: { inproc: stat(m.inproc.round), net: stat(m.net.round), diff: stat(diff('round')) },
    control: { inproc: stat(m.inproc.control), net: stat(m.net.control), diff: stat(diff('control')) },
    decode: { inproc: stat(m.inproc.decode), net: stat(m.net.decode), diff: stat(diff('decode')) },
    bare: { inproc: stat(m.inproc.bare), net: stat(m.net.bare), diff: stat(diff('bare')) }, raw: m,
  };
  results.push(row);
}
// the reply's size: a control round trip to shard 1 answered with 0 bytes, this model's logits slice, a 128k vocabulary's
const echo = async (n: number) => {
  const xs: number[] = [];
  for (let i = 0; i < 30; i++) { const t = performance.now(); await (netE.pool as unknown as { call(s: number, r: object): Promise<unknown> }).call(1, { op: 'echo', reply: n }); xs.push(performance.now() - t); }
  return stat(xs);
};
const slice = 4 * Math.ceil(inproc.cfg.vocab / 2), echoes = { 0: await echo(0), [slice]: await echo(slice), [4 * 64128]: await echo(4 * 64128) };
await netE.close(); await inproc.close(); proc.kill('SIGTERM');
console.log(`\n${model}, TP 2, root + 1 shard process on 127.0.0.1 vs in-process; ${repeats} repeats interleaved; round = benchReduce M = 1 × ${reps}; decode = ${decode} tokens after 8${label ? `; ${label}` : ''}${process.env.LOWBIT_TP_NET_DIRECT ? `; LOWBIT_TP_NET_DIRECT=${process.env.LOWBIT_TP_NET_DIRECT}` : ''}`);
console.log('| mode | round ms in-process | round ms network | Δ round × rounds/token | control ms in-process | control ms network | decode ms/token in-process | decode ms/token network | Δ decode ms/token (per repeat) | Δ decode without logits |\n|---|---|---|---|---|---|---|---|---|---|');
for (const r of results as any[]) {
  console.log(`| ${r.mode} | ${f(r.round.inproc)} | ${f(r.round.net)} | ${r.rounds} × ${r.round.diff.median.toFixed(3)} = ${(r.rounds * r.round.diff.median).toFixed(2)} ms | ${f(r.control.inproc)} | ${f(r.control.net)} | ${f(r.decode.inproc, 2)} | ${f(r.decode.net, 2)} | ${f(r.decode.diff, 2)} | ${f(r.bare.diff, 2)} |`);
}
console.log(`\ncontrol round trip to shard 1 by reply size (30 each): ${Object.entries(echoes).map(([n, x]) => `${n} B ${f(x)} ms`).join(', ')}`);
// the link's switches (bindings/net/link-layout.ts), so that runs of one checkout with and without direct reads stay apart
const env = { direct: process.env.LOWBIT_TP_NET_DIRECT ?? '', spinUs: process.env.LOWBIT_TP_NET_SPIN_US ?? '' };
if (json) appendFileSync(json, JSON.stringify({ part: 'model', label, model, repeats, reps, decode, env, results, echoes, at: new Date().toISOString() }) + '\n');
process.exit(0);
