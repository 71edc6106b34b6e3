// P4/P5: prefill and decode tokens/s by TP degree, exact vs compressed all-reduce, ratios against TP 1 measured
// in the same run. Model: a real one (--model smollm2|gemma3) or the synthetic TinyLlama-shaped one (default),
// whose 32 heads allow TP up to 16. Writes docs/results/scaling-<model>.json.
import { writeFileSync, mkdirSync } from 'node:fs';
import { Engine } from '../bindings/engine.js';
import { syntheticLlama, TINYLLAMA_LIKE } from './synthetic.js';
import { machine } from './machine.js';

const arg = (k: string, d: string) => { const i = process.argv.indexOf(`--${k}`); return i > 0 ? process.argv[i + 1] : d; };
const model = arg('model', 'synthetic');
const tps = arg('tp', '1,2,4,8,16').split(',').map(Number);
const comms = arg('comm', 'exact,int4-g32').split(',');
const prefill = Number(arg('prefill', '128')), decode = Number(arg('decode', '16'));
const quantizedDecode = arg('decode-weights', 'f32') === 'gguf'; // gguf: decode from Q4_1/Q8_0 blocks (real models)
const source = model === 'synthetic' ? syntheticLlama(TINYLLAMA_LIKE) : model;

interface Row { tp: number; comm: string; prefillTokS: number; decodeTokS: number; bitsPerValue: number }
const rows: Row[] = [];
for (const tp of tps) {
  let engine: Engine;
  try { engine = await Engine.load(source, { tp, maxBatch: prefill, context: prefill + decode + 8, quantizedDecode }); }
  catch (e) { console.error(`TP ${tp}: ${(e as Error).message}`); continue; }
  const ids = Array.from({ length: prefill }, (_, i) => (i * 7919) % engine.cfg.vocab);
  for (const comm of tp === 1 ? ['exact'] : comms) {
    await engine.setComm(comm === 'exact' ? null : { mode: comm, algorithm: 'all-gather', fraction: 1 / 64 });
    engine.reset(); await engine.forward(ids.slice(0, 8)); // warm-up
    engine.reset();
    let t = performance.now();
    let out = await engine.forward(ids);
    const pre = performance.now() - t;
    let bytes = out.bytesSent, values = out.valuesSent;
    t = performance.now();
    for (let i = 0; i < decode; i++) { out = await engine.forward([ids[i]]); bytes += out.bytesSent; values += out.valuesSent; }
    const dec = performance.now() - t;
    rows.push({ tp, comm, prefillTokS: prefill / (pre / 1000), decodeTokS: decode / (dec / 1000), bitsPerValue: values ? (8 * bytes) / values : 0 });
    console.error(`.. TP ${tp} ${comm}: prefill ${rows.at(-1)!.prefillTokS.toFixed(1)} tok/s, decode ${rows.at(-1)!.decodeTokS.toFixed(1)} tok/s`);
  }
  await engine.close();
}
const base = rows.find((r) => r.tp === tps[0] && r.comm === 'exact'); // everything against TP 1 exact
console.log(`\n${model}: prefill ${prefill} tokens, decode ${decode} tokens${quantizedDecode ? ' from GGUF blocks' : ''} (${machine().cpu}, ${machine().cores} cores, ${process.version})`);
console.log('| TP | comm | prefill tok/s | × TP 1 | decode tok/s | × TP 1 | wire bits/value |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) {
  const b = base;
  console.log(`| ${r.tp} | ${r.comm} | ${r.prefillTokS.toFixed(1)} | ${b ? (r.prefillTokS / b.prefillTokS).toFixed(2) : ''} | ${r.decodeTokS.toFixed(1)} | ${b ? (r.decodeTokS / b.decodeTokS).toFixed(2) : ''} | ${r.bitsPerValue ? r.bitsPerValue.toFixed(2) : '—'} |`);
}
mkdirSync('docs/results', { recursive: true });
writeFileSync(`docs/results/scaling-${model}${quantizedDecode ? '-gguf-decode' : ''}.json`, JSON.stringify({ machine: machine(), model, prefill, decode, quantizedDecode, rows }, null, 1));
