// Issue 11 targets that need a quiet many-core machine, on a synthetic model (bench/synth-models.ts; default the
// Llama-3.2-1B shape). Three parts; scripts/device-net.sh runs them on the lent machine (rigs, pinning, model):
//   --part overhead  the network layer's per-token decode overhead on an unshaped loopback: in-process TP 2 against
//                    this process as root + one `lowbit-tp shard` process on 127.0.0.1, same model and comm mode,
//                    repeats interleaved between the two, warm-up first; overhead = difference of the medians (and the
//                    range of the per-repeat differences). Also the wire time of one 1-row all-reduce (benchReduce).
//   --part table     inside a network rig (LOWBIT_TP_PEERS set): per comm mode, prefill of a --prefill-token prompt and
//                    decode ms/token over the network, beside the cost model's prediction = the in-process exact run
//                    (this process, same TP, interleaved) + 2 × layers all-reduces per chunk at the wire time that
//                    bindings/tp/cost.ts predicts from the link measured at connect.
//   --part hosts     "two hosts beat one": the root (pinned by the rig to host A's cores) holds an in-process TP
//                    --single-tp engine (one host alone) and the networked engine over LOWBIT_TP_PEERS (both hosts);
//                    tokens/s ratio per comm mode, prefill and decode, repeats interleaved.
// Every part writes --out FILE (JSON) and prints a markdown table. Usage (compiled):
//   node dist/bench/net-device.bench.js --part overhead [--model llama-3.2-1b] [--modes exact,outlier-int4-static]
//        [--repeats 7] [--decode 16] [--out FILE]
import { spawn, ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../bindings/engine.js';
import { calibrate } from '../bindings/calibrate/calibrate.js';
import { loadProfileFor } from '../bindings/commands.js';
import { cacheDir } from '../bindings/models.js';
import { CommConfig } from '../bindings/tp/allreduce.js';
import { LinkInfo, predictMode } from '../bindings/tp/cost.js';
import { ensureSyntheticModel } from './synth-models.js';
import { machine } from './machine.js';
import { stat, Stat } from './net.bench.js';

const arg = (k: string, d: string) => { const i = process.argv.indexOf(`--${k}`); return i > 0 ? process.argv[i + 1] : d; };
const part = arg('part', 'overhead'), modelName = arg('model', 'llama-3.2-1b');
const modes = arg('modes', part === 'table' ? 'exact,bf16,int8-g32,outlier-int4-static' : 'exact,outlier-int4-static').split(',');
const repeats = Number(arg('repeats', { overhead: '7', table: '3' }[part] ?? '5')), decode = Number(arg('decode', part === 'table' ? '8' : '16'));
const prefill = Number(arg('prefill', part === 'overhead' ? '8' : '128')), singleTp = Number(arg('single-tp', '4'));
const calSeqs = Number(arg('cal-seqs', '2')), calTokens = Number(arg('cal-tokens', '32'));
const out = arg('out', `out/net-device-${part}.json`);
const MB = 64, FRACTION = 1 / 64;
const log = (s: string) => console.error(s);
const peersEnv = process.env.LOWBIT_TP_PEERS?.split(',').filter(Boolean);

const path = await ensureSyntheticModel(modelName, { log });
const load = (o: { tp?: number; peers?: string[] }) => Engine.load(path, {
  ...o, peerSecret: process.env.LOWBIT_TP_SECRET, maxBatch: MB, context: Math.max(256, prefill + decode + 16), quantizedDecode: true,
  progress: (m) => { if (m.endsWith('\n') && !m.startsWith('  ')) process.stderr.write(`  ${m}`); },
});

/** The paper's codec needs a calibration profile: a short one on fixed token ids is enough for timing (random weights). */
const profiles = new Map<number, CommConfig['sites']>();
async function sitesFor(e: Engine): Promise<CommConfig['sites']> {
  if (profiles.has(e.tp)) return profiles.get(e.tp);
  const file = `${cacheDir()}/profiles/net-device-${modelName}-tp${e.tp}-${calSeqs}x${calTokens}.json`;
  let sites: CommConfig['sites'] | undefined;
  if (existsSync(file)) sites = await loadProfileFor(e, file).then((p) => p.sites, () => undefined);
  if (!sites) {
    const t = performance.now();
    const seqs = Array.from({ length: calSeqs }, (_, s) => tokenIds(calTokens, e.cfg.vocab, s + 1));
    const p = await calibrate(e, seqs, FRACTION);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(p));
    sites = (await loadProfileFor(e, file)).sites;
    log(`calibrated TP ${e.tp} on ${calSeqs} × ${calTokens} fixed token ids in ${((performance.now() - t) / 1000).toFixed(1)} s → ${file}`);
  }
  profiles.set(e.tp, sites);
  return sites;
}
const commOf = async (e: Engine, mode: string): Promise<CommConfig | null> =>
  mode === 'exact' ? null : { mode, algorithm: 'all-gather', fraction: FRACTION, sites: mode.startsWith('outlier') ? await sitesFor(e) : undefined };
async function setMode(e: Engine, mode: string): Promise<void> { await e.setComm(await commOf(e, mode)); }

// fixed token ids, every engine the same (the 1B shape's vocabulary has 128256; tiny's 1024)
const tokenIds = (n: number, V: number, seed = 0) => Array.from({ length: n }, (_, i) => (1000 + ((i * 7919 + 11 + seed * 104729) % 20000)) % V);
let ids: number[] = [];
interface Run { prefillMs: number; decodeMs: number; bits: number }
/** A fresh sequence: the prompt (timed), then `decode` single-token steps (ms per token). */
async function runOnce(e: Engine, nPrefill = prefill, nDecode = decode): Promise<Run> {
  if (!ids.length) ids = tokenIds(Math.max(prefill, decode), e.cfg.vocab);
  e.reset();
  let t = performance.now();
  const o = await e.forward(ids.slice(0, nPrefill));
  const prefillMs = performance.now() - t;
  t = performance.now();
  for (let i = 0; i < nDecode; i++) await e.forward([ids[i]]);
  return { prefillMs, decodeMs: (performance.now() - t) / nDecode, bits: o.valuesSent ? (8 * o.bytesSent) / o.valuesSent : 32 };
}
const wire = async (e: Engine, M: number, reps: number) => Math.max(...await e.pool.all<number>({ op: 'benchReduce', M, reps }));
const warm = async (e: Engine) => { await runOnce(e, Math.min(prefill, 8), 2); await wire(e, 1, 4); };
const f = (s: Stat, d = 1) => `${s.median.toFixed(d)} (${s.min.toFixed(d)}–${s.max.toFixed(d)})`;
const push = <T>(m: Map<string, T[]>, k: string, v: T) => (m.get(k) ?? m.set(k, []).get(k)!).push(v);

function save(o: object): void {
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ machine: machine(), part, model: modelName, modelFile: path, repeats, prefill, decode, maxBatch: MB, ...o }, null, 1));
  log(`wrote ${out}`);
}

/** A shard process on this host (item 1: loopback, no secret needed). Resolves once it listens. */
function startShard(listen: string): Promise<ChildProcess> {
  const cli = fileURLToPath(new URL('../bindings/cli.js', import.meta.url));
  const p = spawn(process.execPath, [cli, 'shard', '--listen', listen, '--model', path, '--quiet'], { stdio: ['ignore', 'pipe', 'inherit'] });
  process.on('exit', () => p.kill('SIGTERM')); // also when this bench fails
  return new Promise((res, rej) => {
    let buf = '';
    p.stdout!.on('data', (d: Buffer) => { buf += d; if (/^listening/m.test(buf)) res(p); });
    p.once('exit', (c) => rej(new Error(`shard exited (${c}) before listening`)));
    setTimeout(() => rej(new Error('shard did not listen within 60 s')), 60_000).unref();
  });
}

if (part === 'overhead') {
  const inproc = await load({ tp: 2 });
  const shard = await startShard('127.0.0.1:7301');
  const net = await load({ peers: ['127.0.0.1:7301'] });
  const rounds = 2 * net.cfg.layers;
  const rows = [];
  for (const mode of modes) {
    await setMode(inproc, mode); await setMode(net, mode);
    await warm(inproc); await warm(net);
    const d = new Map<string, number[]>(), w = new Map<string, number[]>(), diffs: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const order: [string, Engine][] = r % 2 ? [['network', net], ['in-process', inproc]] : [['in-process', inproc], ['network', net]];
      for (const [k, e] of order) { push(d, k, (await runOnce(e)).decodeMs); push(w, k, await wire(e, 1, 40)); }
      diffs.push(d.get('network')!.at(-1)! - d.get('in-process')!.at(-1)!);
      log(`  ${mode} rep ${r + 1}: in-process ${d.get('in-process')!.at(-1)!.toFixed(2)} ms/token, network ${d.get('network')!.at(-1)!.toFixed(2)} ms/token (Δ ${diffs.at(-1)!.toFixed(2)})`);
    }
    const di = stat(d.get('in-process')!), dn = stat(d.get('network')!), wi = stat(w.get('in-process')!), wn = stat(w.get('network')!);
    rows.push({ mode, rounds, inProcessDecodeMs: di, networkDecodeMs: dn, overheadMs: dn.median - di.median, overheadPerRepeatMs: stat(diffs),
      wireMs1InProcess: wi, wireMs1Network: wn, wireOverheadPerTokenMs: rounds * (wn.median - wi.median), raw: { decode: Object.fromEntries(d), wire: Object.fromEntries(w), diffs } });
  }
  await net.close(); await inproc.close(); shard.kill('SIGTERM');
  console.log(`\n${modelName}, TP 2, decode ${decode} tokens after an ${prefill}-token prompt, ${repeats} repeats interleaved; ${machine().cpu}, ${machine().cores} cores, ${process.version}`);
  console.log('| mode | in-process ms/token | network (loopback) ms/token | overhead ms/token (median diff) | per-repeat diff range | 1-row all-reduce ms in-process / network | × rounds |\n|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.mode} | ${f(r.inProcessDecodeMs, 2)} | ${f(r.networkDecodeMs, 2)} | ${r.overheadMs.toFixed(2)} | ${r.overheadPerRepeatMs.min.toFixed(2)} – ${r.overheadPerRepeatMs.max.toFixed(2)} | ${f(r.wireMs1InProcess, 3)} / ${f(r.wireMs1Network, 3)} | ${r.rounds} → ${r.wireOverheadPerTokenMs.toFixed(2)} ms |`);
  save({ tp: 2, link: net.link, rows });
} else if (part === 'table' || part === 'hosts') {
  if (!peersEnv?.length) throw new Error(`--part ${part} runs inside a network rig (LOWBIT_TP_PEERS): scripts/device-net.sh`);
  const S = peersEnv.length + 1, refTp = part === 'table' ? S : singleTp;
  const ref = await load({ tp: refTp });
  const net = await load({ peers: peersEnv });
  const link = net.link as (LinkInfo & { auto: string | null }) | null;
  log(`link: ${link ? `${link.rttMs.toFixed(3)} ms round trip, ${link.mbps.toFixed(0)} Mbit/s, data-path round ${link.roundMs?.toFixed(3)} ms` : 'not measured'}; rate ${process.env.NET_RATE ?? '?'}`);
  for (const m of modes) if (m.startsWith('outlier')) await sitesFor(net);
  await setMode(ref, 'exact'); await warm(ref);
  for (const m of modes) { await setMode(net, m); await warm(net); }
  const pre = new Map<string, number[]>(), dec = new Map<string, number[]>(), w1 = new Map<string, number[]>(), w64 = new Map<string, number[]>(), bits = new Map<string, number>();
  for (let r = 0; r < repeats; r++) {
    const x = await runOnce(ref);
    push(pre, 'ref', x.prefillMs); push(dec, 'ref', x.decodeMs);
    log(`  rep ${r + 1}: in-process TP ${refTp} exact: prefill ${x.prefillMs.toFixed(0)} ms, decode ${x.decodeMs.toFixed(1)} ms/token`);
    for (const m of (r % 2 ? [...modes].reverse() : modes)) {
      await setMode(net, m);
      const y = await runOnce(net);
      push(pre, m, y.prefillMs); push(dec, m, y.decodeMs); bits.set(m, y.bits);
      if (part === 'table') { push(w1, m, await wire(net, 1, 20)); push(w64, m, await wire(net, MB, 4)); }
      log(`  rep ${r + 1}: network TP ${S} ${m}: prefill ${y.prefillMs.toFixed(0)} ms, decode ${y.decodeMs.toFixed(1)} ms/token${part === 'table' ? `, all-reduce ${w1.get(m)!.at(-1)!.toFixed(3)} / ${w64.get(m)!.at(-1)!.toFixed(2)} ms (1 / 64 rows)` : ''}`);
    }
  }
  const refPre = stat(pre.get('ref')!), refDec = stat(dec.get('ref')!), L = net.cfg.layers, E = net.cfg.hidden;
  const chunks = Array.from({ length: Math.ceil(prefill / MB) }, (_, i) => Math.min(MB, prefill - i * MB));
  const wireOf = (m: string, M: number) => link ? predictMode(m, { S, M, E, link, fraction: FRACTION }, MB).ms : NaN;
  const rows = modes.map((m) => {
    const p = stat(pre.get(m)!), d = stat(dec.get(m)!);
    const predPrefillMs = refPre.median + chunks.reduce((a, M) => a + 2 * L * wireOf(m, M), 0), predDecodeMs = refDec.median + 2 * L * wireOf(m, 1);
    return { mode: m, bitsPerValue: bits.get(m), prefillMs: p, decodeMsPerToken: d, prefillTokS: (1000 * prefill) / p.median, decodeTokS: 1000 / d.median,
      ...(part === 'table' ? { wireMs1: stat(w1.get(m)!), wireMs64: stat(w64.get(m)!), predictedWireMs1: wireOf(m, 1), predictedWireMs64: wireOf(m, MB),
        predictedPrefillMs: predPrefillMs, predictedDecodeMs: predDecodeMs, prefillError: predPrefillMs / p.median - 1, decodeError: predDecodeMs / d.median - 1 } : {}),
      ...(part === 'hosts' ? { prefillSpeedup: refPre.median / p.median, decodeSpeedup: refDec.median / d.median,
        prefillSpeedupPerRepeat: stat(pre.get(m)!.map((v, i) => pre.get('ref')![i] / v)), decodeSpeedupPerRepeat: stat(dec.get(m)!.map((v, i) => dec.get('ref')![i] / v)) } : {}),
      raw: { prefillMs: pre.get(m), decodeMs: dec.get(m) } };
  });
  const reference = { tp: refTp, mode: 'exact', prefillMs: refPre, decodeMsPerToken: refDec, prefillTokS: (1000 * prefill) / refPre.median, decodeTokS: 1000 / refDec.median, raw: { prefillMs: pre.get('ref'), decodeMs: dec.get('ref') } };
  const autoNote = net.link?.auto ?? null; // what the last auto mode chose
  await net.close(); await ref.close();
  const rate = process.env.NET_RATE ?? '?';
  if (autoNote) console.log(autoNote);
  console.log(`\n${modelName}, network TP ${S} (rate ${rate}; link at connect ${link ? `${link.rttMs.toFixed(3)} ms, ${link.mbps.toFixed(0)} Mbit/s` : '–'}), prompt ${prefill}, decode ${decode}, ${repeats} repeats; ${machine().cpu}, ${machine().cores} cores, ${process.version}`);
  console.log(`reference: in-process TP ${refTp} exact: prefill ${f(refPre, 0)} ms, decode ${f(refDec, 1)} ms/token`);
  if (part === 'table') {
    console.log('| rate | mode | bits/value | all-reduce ms, 1 row (model) | all-reduce ms, 64 rows (model) | prefill ms | model prefill ms | decode ms/token | model decode ms/token |\n|---|---|---|---|---|---|---|---|---|');
    const pc = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(0)} %`;
    for (const r of rows) console.log(`| ${rate} | ${r.mode} | ${r.bitsPerValue?.toFixed(2)} | ${f(r.wireMs1!, 3)} (${r.predictedWireMs1!.toFixed(3)}) | ${f(r.wireMs64!, 2)} (${r.predictedWireMs64!.toFixed(2)}) | ${f(r.prefillMs, 0)} | ${r.predictedPrefillMs!.toFixed(0)} (${pc(r.prefillError!)}) | ${f(r.decodeMsPerToken, 1)} | ${r.predictedDecodeMs!.toFixed(1)} (${pc(r.decodeError!)}) |`);
  } else {
    console.log('| setup | mode | prefill tok/s | decode tok/s | prefill × one host (per-repeat range) | decode × one host (per-repeat range) |\n|---|---|---|---|---|---|');
    console.log(`| one host, in-process TP ${refTp} | exact | ${reference.prefillTokS.toFixed(2)} | ${reference.decodeTokS.toFixed(2)} | 1 | 1 |`);
    for (const r of rows) console.log(`| two hosts, TP ${S} (rate ${rate}) | ${r.mode} | ${r.prefillTokS.toFixed(2)} | ${r.decodeTokS.toFixed(2)} | ${r.prefillSpeedup!.toFixed(2)} (${r.prefillSpeedupPerRepeat!.min.toFixed(2)}–${r.prefillSpeedupPerRepeat!.max.toFixed(2)}) | ${r.decodeSpeedup!.toFixed(2)} (${r.decodeSpeedupPerRepeat!.min.toFixed(2)}–${r.decodeSpeedupPerRepeat!.max.toFixed(2)}) |`);
  }
  save({ tp: S, rate, link, auto: autoNote, peers: peersEnv, reference, rows });
} else throw new Error(`unknown --part ${part} (overhead, table, hosts)`);
process.exit(0); // worker threads of a closed pool must not keep a rig waiting
