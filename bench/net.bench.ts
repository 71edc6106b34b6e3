// Issue 11 bench: SmolLM2 at TP 2 with shard 1 in another network namespace across a veth link shaped by tc tbf
// (scripts/net-ns.sh) at 100 Mbit/s, 1 Gbit/s, 10 Gbit/s and unshaped, against the in-process pool (shared memory).
// Per communication mode: wire time per all-reduce (1 row = a decode step's message, 64 rows = a prefill chunk's;
// encode + transfer + decode, as the shards' benchReduce measures it) and end to end prefill / decode, ≥ 5 repeats,
// median and range. Outer run: `npm run bench:net [-- --repeats 5 --prefill 128 --decode 16 --rates 100mbit,1gbit,10gbit,none]`;
// each rate runs this file again with --inner inside the rig. Writes docs/results/net-bench.json.
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Engine } from '../bindings/engine.js';
import { commConfigFor } from '../bindings/commands.js';
import { machine } from './machine.js';
import { autoCandidates, predictMode } from '../bindings/tp/cost.js';
import { autoCodec } from '../bindings/calibrate/plan.js';

const arg = (k: string, d: string) => { const i = process.argv.indexOf(`--${k}`); return i > 0 ? process.argv[i + 1] : d; };
const repeats = Number(arg('repeats', '5')), prefill = Number(arg('prefill', '128')), decode = Number(arg('decode', '16'));
const modes = arg('modes', 'exact,bf16,int8-g32,int4-g32,outlier-int4-static,rot128-int4-g128-ec,best,auto:int4-g32,auto:rot128-int4-g128-ec').split(',');
const rates = arg('rates', 'none,10gbit,1gbit,100mbit').split(',');
const model = 'smollm2', MB = 64;

export interface Stat { median: number; min: number; max: number }
/** Median (the upper one of an even count) and range. */
export const stat = (xs: number[]): Stat => { const s = [...xs].sort((a, b) => a - b); return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1] }; };
interface ModeRow {
  mode: string; bitsPerValue: number; wireMs1: Stat; wireMs64: Stat; prefillMs: Stat; decodeMsPerToken: Stat;
  /** The cost model (bindings/tp/cost.ts) from the link measured at connect: predicted ms and (predicted − measured) / measured. */
  predictedMs1?: number; predictedMs64?: number; error1?: number; error64?: number; link?: { rttMs: number; mbps: number; roundMs?: number }; auto?: string | null;
}

async function measure(e: Engine): Promise<ModeRow[]> {
  const ids = Array.from({ length: prefill }, (_, i) => (i * 7919 + 11) % e.cfg.vocab), rows: ModeRow[] = [];
  for (const mode of modes) {
    // calibrated modes and `best` (our per-site codecs under 4.25 bits) take the cached profile, as `run` does
    await e.setComm(mode.startsWith('auto') ? { mode, algorithm: 'all-gather', fraction: 1 / 64 } : await commConfigFor(e, model, mode, 'all-gather', undefined, () => {}));
    e.reset(); await e.forward(ids.slice(0, 8)); // warm-up
    const w1: number[] = [], w64: number[] = [], pre: number[] = [], dec: number[] = [];
    let bits = 0;
    for (let r = 0; r < repeats; r++) {
      w1.push(Math.max(...await e.pool.all<number>({ op: 'benchReduce', M: 1, reps: 40 })));
      w64.push(Math.max(...await e.pool.all<number>({ op: 'benchReduce', M: 64, reps: 8 })));
      e.reset();
      let t = performance.now();
      const out = await e.forward(ids);
      pre.push(performance.now() - t);
      bits = (8 * out.bytesSent) / out.valuesSent;
      t = performance.now();
      for (let i = 0; i < decode; i++) await e.forward([ids[i]]);
      dec.push((performance.now() - t) / decode);
    }
    const row: ModeRow = { mode, bitsPerValue: bits, wireMs1: stat(w1), wireMs64: stat(w64), prefillMs: stat(pre), decodeMsPerToken: stat(dec) };
    const link = e.link;
    if (link) {
      const p = (M: number) => predictMode(mode, { S: e.tp, M, E: e.cfg.hidden, link }, MB).ms;
      Object.assign(row, { predictedMs1: p(1), predictedMs64: p(MB), link: { rttMs: link.rttMs, mbps: link.mbps, roundMs: link.roundMs }, auto: link.auto });
      row.error1 = row.predictedMs1! / row.wireMs1.median - 1; row.error64 = row.predictedMs64! / row.wireMs64.median - 1;
    }
    rows.push(row);
    const pr = (x?: number, err?: number) => x === undefined ? '' : ` [model ${x.toFixed(3)}, ${(100 * err!).toFixed(0)} %]`;
    console.error(`.. ${process.env.NET_RATE ?? 'in-process'} ${mode}: all-reduce ${row.wireMs1.median.toFixed(3)} ms${pr(row.predictedMs1, row.error1)} (1 row) ${row.wireMs64.median.toFixed(2)} ms${pr(row.predictedMs64, row.error64)} (64 rows), prefill ${row.prefillMs.median.toFixed(0)} ms, decode ${row.decodeMsPerToken.median.toFixed(1)} ms/token${link ? ` (link ${link.rttMs.toFixed(3)} ms, round ${link.roundMs?.toFixed(3)} ms, ${link.mbps.toFixed(0)} Mbit/s${row.auto ? `; ${row.auto}` : ''})` : ''}`);
  }
  return rows;
}

// Run only as a script: bench/net-device.bench.ts imports stat() from here.
const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain && process.argv.includes('--inner')) {
  const peers = process.env.LOWBIT_TP_PEERS!.split(',');
  const e = await Engine.load(model, { peers, peerSecret: process.env.LOWBIT_TP_SECRET, maxBatch: MB, context: Math.max(256, prefill + decode + 16), quantizedDecode: true });
  const rows = await measure(e);
  await e.close();
  console.log(JSON.stringify(rows));
} else if (isMain) {
  // calibrate in-process once (cached per model and TP), so no shaped run pays for it; and the shared-memory baseline
  const e = await Engine.load(model, { tp: 2, maxBatch: MB, context: Math.max(256, prefill + decode + 16), quantizedDecode: true });
  await commConfigFor(e, model, 'best', 'all-gather', undefined, (m) => process.stderr.write(m)); // profile + sensitivities, once
  const results: Record<string, ModeRow[]> = { 'in-process': await measure(e) };
  await e.close();
  for (const rate of rates) {
    const inner = [process.execPath, new URL(import.meta.url).pathname, '--inner', ...process.argv.slice(2)];
    const r = spawnSync('bash', ['scripts/net-ns.sh', '--rate', rate, '--shards', '1', '--', ...inner], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NET_SHARD_CMD: `${process.execPath} dist/bindings/cli.js shard` },
    });
    if (r.status === 77) { console.error('network namespaces unavailable: only the in-process baseline'); break; }
    if (r.status !== 0) throw new Error(`rate ${rate}: the rig failed (${r.status})`);
    results[rate === 'none' ? 'veth, unshaped' : rate] = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  }
  const out = { machine: machine(), model, tp: 2, prefill, decode, repeats, maxBatch: MB, results };
  mkdirSync('docs/results', { recursive: true });
  writeFileSync('docs/results/net-bench.json', JSON.stringify(out, null, 1));
  const f = (s: Stat, d = 1) => `${s.median.toFixed(d)} (${s.min.toFixed(d)}–${s.max.toFixed(d)})`;
  const m = (x?: number, err?: number) => x === undefined ? '–' : `${x.toFixed(3)} (${err! >= 0 ? '+' : ''}${(100 * err!).toFixed(0)} %)`;
  console.log('| link | mode | bits/value | all-reduce ms, 1 row | model, 1 row | all-reduce ms, 64 rows | model, 64 rows | prefill ms (' + prefill + ' tok) | decode ms/token |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const [link, rows] of Object.entries(results)) for (const r of rows)
    console.log(`| ${link} | ${r.mode} | ${r.bitsPerValue.toFixed(2)} | ${f(r.wireMs1, 3)} | ${m(r.predictedMs1, r.error1)} | ${f(r.wireMs64, 2)} | ${m(r.predictedMs64, r.error64)} | ${f(r.prefillMs, 0)} | ${f(r.decodeMsPerToken, 1)} |`);
  // each auto against the best fixed choice among its candidates, per link and measure (ratio of medians; > 1: auto slower)
  for (const [link, rows] of Object.entries(results)) for (const a of rows.filter((r) => r.mode.startsWith('auto'))) {
    const may = autoCandidates(autoCodec(a.mode), 576 /* SmolLM2's hidden size */), fixed = rows.filter((r) => may.includes(r.mode));
    if (!fixed.length) continue;
    const vs = (k: 'wireMs1' | 'wireMs64' | 'prefillMs' | 'decodeMsPerToken') => {
      const best = fixed.reduce((b, r) => (r[k].median < b[k].median ? r : b));
      return `${k} ${(a[k].median / best[k].median).toFixed(2)}× best (${best.mode})`;
    };
    console.log(`${link}: ${a.mode}: ${a.auto ?? 'in-memory policy'}; vs the best fixed of ${may.join(', ')}: ${vs('wireMs1')}, ${vs('wireMs64')}, ${vs('prefillMs')}, ${vs('decodeMsPerToken')}`);
  }
  console.log('wrote docs/results/net-bench.json');
}
