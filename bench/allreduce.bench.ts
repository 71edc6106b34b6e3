// P3: all-reduce latency vs message size over shared memory, exact vs compressed, all-gather vs rs-ag, by shard
// count; and the automatic policy derived from it. Ratios are against exact measured in the same run.
// Writes docs/results/allreduce-bench.json and docs/results/comm-policy.json.
import { writeFileSync, mkdirSync } from 'node:fs';
import { Engine } from '../bindings/engine.js';
import { syntheticLlama } from './synthetic.js';
import { machine } from './machine.js';

const arg = (k: string, d: string) => { const i = process.argv.indexOf(`--${k}`); return i > 0 ? process.argv[i + 1] : d; };
const TOKENS = arg('tokens', '1,16,128,512,2048').split(',').map(Number);
const FEATURES = arg('features', '576,2048,4096').split(',').map(Number);
const SHARDS = arg('shards', '2,4').split(',').map(Number);
const MODES = arg('modes', 'exact,int4-g32@all-gather,int4-g32@rs-ag,bf16@all-gather,int8-g32@all-gather').split(',');

interface Row { shards: number; tokens: number; features: number; mode: string; ms: number; vsExact: number }
const rows: Row[] = [];
for (const S of SHARDS) for (const F of FEATURES) {
  const model = syntheticLlama({ layers: 1, hidden: F, heads: 16, kvHeads: 16, ffn: 256, vocab: 512 }); // 16 heads: TP up to 16
  const maxT = Math.max(...TOKENS);
  let engine: Engine;
  try { engine = await Engine.load(model, { tp: S, maxBatch: maxT, context: 64 }); }
  catch (e) { console.error(`S ${S} F ${F}: skipped (${(e as Error).message})`); continue; }
  for (const T of TOKENS) {
    const reps = Math.max(3, Math.min(200, Math.floor(2e7 / (T * F))));
    let exactMs = 0;
    for (const m of MODES) {
      const [mode, algorithm] = m.split('@');
      await engine.setComm(mode === 'exact' ? null : { mode, algorithm: algorithm as 'all-gather' | 'rs-ag', fraction: 1 / 64 });
      const per = await engine.pool.all<number>({ op: 'benchReduce', M: T, reps });
      const ms = Math.max(...per);
      if (mode === 'exact') exactMs = ms;
      rows.push({ shards: S, tokens: T, features: F, mode: m, ms, vsExact: exactMs / ms });
    }
    console.error(`.. S ${S} ${T}×${F} done`);
  }
  await engine.close();
}

console.log(`\nall-reduce latency, ms (${machine().cpu}, ${machine().cores} cores, ${process.version}); "speed-up" = exact ms / mode ms`);
console.log(`| shards | tokens × features | ${MODES.join(' | ')} | fastest |`);
console.log(`|---|---|${MODES.map(() => '---|').join('')}---|`);
const policy: { shards: number; values: number; best: string }[] = [];
for (const S of SHARDS) for (const F of FEATURES) for (const T of TOKENS) {
  const rs = rows.filter((r) => r.shards === S && r.features === F && r.tokens === T);
  if (!rs.length) continue;
  const best = rs.reduce((a, b) => (b.ms < a.ms ? b : a));
  policy.push({ shards: S, values: T * F, best: best.mode });
  console.log(`| ${S} | ${T} × ${F} | ${rs.map((r) => `${r.ms.toFixed(3)}${r.mode === 'exact' ? '' : ` (${r.vsExact.toFixed(2)}×)`}`).join(' | ')} | ${best.mode} |`);
}
mkdirSync('docs/results', { recursive: true });
writeFileSync('docs/results/allreduce-bench.json', JSON.stringify({ machine: machine(), rows }, null, 1));
writeFileSync('docs/results/comm-policy.json', JSON.stringify({ machine: machine(), policy }, null, 1));
