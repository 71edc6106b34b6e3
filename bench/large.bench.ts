// Large models over per-shard memories: synthetic Llama-3.1-8B / Llama-2-13B-shaped GGUFs (Q4_K_M mix, random
// weights, bench/synth-models.ts) at several TP degrees — load time, resident memory, prefill and decode tokens/s —
// and node-llama-cpp (native llama.cpp, CPU) on the same file with the same thread count where bench/peers has it.
// Every engine stays loaded, so the timed repeats interleave across TP degrees (noisy machines); warm-up first.
// Usage: node dist/bench/large.bench.js [--model llama-3.1-8b] [--tp 2,4,8] [--prompt 512] [--decode 16] [--reps 5]
//        [--prefill-reps 1] [--peer] [--flavor simd|relaxed] [--out docs/results/large-<model>.json]
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Engine } from '../bindings/engine.js';
import { ensureSyntheticModel } from './synth-models.js';
import { machine } from './machine.js';

const arg = (k: string, d: string) => { const i = process.argv.indexOf(`--${k}`); return i > 0 ? process.argv[i + 1] : d; };
const model = arg('model', 'llama-3.1-8b'), tps = arg('tp', '2,4,8').split(',').map(Number);
const promptLen = Number(arg('prompt', '512')), decode = Number(arg('decode', '16'));
const reps = Number(arg('reps', '5')), prefillReps = Number(arg('prefill-reps', '1'));
const out = arg('out', `docs/results/large-${model}.json`);
const flavor = arg('flavor', 'simd') as 'simd' | 'relaxed'; // relaxed: FMA where the runtime has it (Node ≥ 22)
const log = (s: string) => console.error(s);
const median = (v: number[]) => { const s = [...v].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const stat = (v: number[]) => ({ median: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length });
const gib = (b: number) => b / 2 ** 30;

const path = await ensureSyntheticModel(model, { log });
const fileBytes = (await import('node:fs')).statSync(path).size;
log(`${model}: ${path} (${gib(fileBytes).toFixed(2)} GiB), ${machine().cores} cores, ${process.version}`);

// TP 1 must be refused by the memory plan (a 4 GiB wasm32 memory cannot hold the model), before anything loads.
let tp1Refusal = '';
try { const e = await Engine.load(path, { tp: 1, context: promptLen + decode + 8 }); await e.close(); tp1Refusal = 'NOT REFUSED'; }
catch (e) { tp1Refusal = (e as Error).message; }
log(`TP 1: ${tp1Refusal}`);

interface Loaded { tp: number; engine: Engine; loadS: number; rssGiB: number; planGiB: number }
const engines: Loaded[] = [];
for (const tp of tps) {
  const rss0 = process.memoryUsage().rss, t0 = performance.now();
  const engine = await Engine.load(path, { tp, maxBatch: 64, context: promptLen + decode + 8, quantizedDecode: true, flavor, progress: (m) => log(`  TP ${tp}: ${m}`) });
  const loadS = (performance.now() - t0) / 1000, rssGiB = gib(process.memoryUsage().rss - rss0);
  engines.push({ tp, engine, loadS, rssGiB, planGiB: gib(engine.shardBytes.reduce((a, b) => a + b, 0)) });
  log(`TP ${tp}: loaded in ${loadS.toFixed(1)} s, resident +${rssGiB.toFixed(2)} GiB (plan ${engines.at(-1)!.planGiB.toFixed(2)} GiB, file ${gib(fileBytes).toFixed(2)} GiB)`);
}

const prompt = Array.from({ length: promptLen }, (_, i) => 1000 + ((i * 7919) % 20000)); // fixed ids, every engine the same
const prefillTokS = new Map<number, number[]>(), decodeTokS = new Map<number, number[]>();
for (const { engine } of engines) { engine.reset(); await engine.forward(prompt.slice(0, 64)); await engine.forward([prompt[1]]); } // warm-up
for (let r = 0; r < Math.max(reps, prefillReps); r++) for (const { tp, engine } of engines) {
  engine.reset();
  if (r < prefillReps) {
    const t = performance.now();
    await engine.forward(prompt);
    (prefillTokS.get(tp) ?? prefillTokS.set(tp, []).get(tp)!).push(promptLen / ((performance.now() - t) / 1000));
  } else await engine.forward(prompt.slice(0, 8));
  if (r < reps) {
    const t = performance.now();
    for (let i = 0; i < decode; i++) await engine.forward([prompt[i]]);
    (decodeTokS.get(tp) ?? decodeTokS.set(tp, []).get(tp)!).push(decode / ((performance.now() - t) / 1000));
  }
  log(`  rep ${r + 1}: TP ${tp} prefill ${prefillTokS.get(tp)?.at(-1)?.toFixed(2) ?? '-'} tok/s, decode ${decodeTokS.get(tp)?.at(-1)?.toFixed(2) ?? '-'} tok/s`);
}
const rows = engines.map(({ tp, loadS, rssGiB, planGiB }) => ({ engine: 'lowbit-tp', tp, threads: tp, loadS, rssGiB, planGiB, prefill: stat(prefillTokS.get(tp)!), decode: stat(decodeTokS.get(tp)!) }));
for (const { engine } of engines) await engine.close();

// node-llama-cpp: the prebuilt CPU binary (bash scripts/setup-peers.sh), threads = TP degree.
const PEERS = resolve('bench/peers/node_modules');
const peers: { engine: string; threads: number; loadS: number; prefill: ReturnType<typeof stat>; decode: ReturnType<typeof stat>; error?: string }[] = [];
if (process.argv.includes('--peer') && existsSync(`${PEERS}/node-llama-cpp`)) {
  try {
    const { getLlama } = await import(pathToFileURL(`${PEERS}/node-llama-cpp/dist/index.js`).href);
    const llama = await getLlama({ gpu: false, build: 'never' });
    const t0 = performance.now();
    const m = await llama.loadModel({ modelPath: path });
    const loadS = (performance.now() - t0) / 1000;
    for (const n of tps) {
      const ctx = await m.createContext({ contextSize: promptLen + decode + 64, batchSize: 512, threads: n });
      const seq = ctx.getSequence(), pre: number[] = [], dec: number[] = [];
      await seq.evaluateWithoutGeneratingNewTokens(prompt.slice(0, 64)); await seq.clearHistory(); // warm-up
      for (let r = 0; r < Math.max(reps, prefillReps); r++) {
        let t = performance.now();
        if (r < prefillReps) { await seq.evaluateWithoutGeneratingNewTokens(prompt); pre.push(promptLen / ((performance.now() - t) / 1000)); }
        else await seq.evaluateWithoutGeneratingNewTokens(prompt.slice(0, 8));
        t = performance.now();
        let k = 0;
        if (r < reps) { for await (const _ of seq.evaluate([prompt[0]], { temperature: 0 })) if (++k >= decode) break; dec.push(decode / ((performance.now() - t) / 1000)); }
        await seq.clearHistory();
        log(`  node-llama-cpp ×${n} rep ${r + 1}: prefill ${pre.at(-1)?.toFixed(2) ?? '-'} decode ${dec.at(-1)?.toFixed(2) ?? '-'} tok/s`);
      }
      peers.push({ engine: 'node-llama-cpp (native)', threads: n, loadS, prefill: stat(pre), decode: stat(dec) });
      await ctx.dispose();
    }
  } catch (e) { peers.push({ engine: 'node-llama-cpp (native)', threads: 0, loadS: 0, prefill: stat([0]), decode: stat([0]), error: (e as Error).message }); log(`node-llama-cpp: ${(e as Error).message}`); }
}

const f = (s: ReturnType<typeof stat>) => `${s.median.toFixed(2)} (${s.min.toFixed(2)}–${s.max.toFixed(2)}, n=${s.n})`;
console.log(`\n${model} (synthetic, ${gib(fileBytes).toFixed(2)} GiB file), prompt ${promptLen}, decode ${decode} tokens, ${flavor} kernels; ${machine().cpu}, ${machine().cores} cores, ${process.version}`);
console.log(`TP 1: ${tp1Refusal}`);
console.log('| engine | threads | load s | resident GiB (× file) | prefill tok/s | decode tok/s |\n|---|---|---|---|---|---|');
for (const r of rows) console.log(`| lowbit-tp TP ${r.tp} | ${r.threads} | ${r.loadS.toFixed(1)} | ${r.rssGiB.toFixed(2)} (${(r.rssGiB / gib(fileBytes)).toFixed(2)}×) | ${f(r.prefill)} | ${f(r.decode)} |`);
for (const p of peers) console.log(p.error ? `| ${p.engine} | – | – | – | error: ${p.error} | |` : `| ${p.engine} | ${p.threads} | ${p.loadS.toFixed(1)} | – | ${f(p.prefill)} | ${f(p.decode)} |`);
const byTp = (tp: number) => rows.find((r) => r.tp === tp);
if (byTp(2) && byTp(8)) console.log(`TP 8 / TP 2 decode: ${(byTp(8)!.decode.median / byTp(2)!.decode.median).toFixed(2)}× (target ≥ 3×)`);
for (const p of peers.filter((p) => !p.error)) {
  const r = byTp(p.threads);
  if (r) console.log(`${p.threads} threads: lowbit-tp / node-llama-cpp decode ${(r.decode.median / p.decode.median).toFixed(2)}×, prefill ${(r.prefill.median / p.prefill.median).toFixed(2)}×`);
}
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ machine: machine(), model, flavor, fileBytes, promptLen, decode, tp1Refusal, rows, peers }, null, 1));
