// Plots of the benchmark JSON in docs/results (and docs/results/device): one SVG per bench in docs/results/plots.
// Run after the benches (npm run bench does): node dist/bench/plots.js
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { barChart, lineChart } from './svg-charts.js';

const DIR = 'docs/results', OUT = `${DIR}/plots`;
mkdirSync(OUT, { recursive: true });
const load = (f: string) => (existsSync(`${DIR}/${f}`) ? JSON.parse(readFileSync(`${DIR}/${f}`, 'utf8')) : null);
const where = (m: { cpu?: string; cores?: number; node?: string }) => `${m.cpu}, ${m.cores} cores, Node ${m.node}`;
const uniq = <T>(xs: T[]) => [...new Set(xs)];
const written: string[] = [];
const save = (name: string, svg: string) => { writeFileSync(`${OUT}/${name}.svg`, svg); written.push(`${OUT}/${name}.svg`); };

for (const f of ['matmul-bench.json', 'device/matmul-bench.json']) {
  const d = load(f); if (!d) continue;
  const shapes = uniq<string>(d.rows.map((r: any) => r.shape)), impls = uniq<string>(d.rows.map((r: any) => r.impl));
  save(f.replace('/', '-').replace('.json', ''), barChart({ title: `P1 matmul, one thread, GFLOP/s (tokens × in × out) — ${where(d.machine)}`, yLabel: 'GFLOP/s',
    groups: shapes, series: impls.map((i) => ({ name: i, values: shapes.map((s) => d.rows.find((r: any) => r.shape === s && r.impl === i)?.gflops) })) }));
}
for (const f of ['matmul-quant-bench.json', 'device/matmul-quant-bench.json']) {
  const d = load(f); if (!d) continue;
  const keys = ['f32', 'q8', 'q4', 'f32Streamed', 'q8Streamed', 'q4Streamed'].filter((k) => d.rows[0][k] !== undefined);
  save(f.replace('/', '-').replace('.json', ''), barChart({ title: `P1 decode GEMV by weight format, ms per call (lower is better) — ${where(d.machine)}`, yLabel: 'ms (log)', log: true,
    groups: d.rows.map((r: any) => r.shape), series: keys.map((k) => ({ name: k.replace('Streamed', ' streamed (256 MB)'), values: d.rows.map((r: any) => r[k]) })) }));
}
for (const f of ['codec-bench.json', 'device/codec-bench.json']) {
  const d = load(f); if (!d) continue;
  const groups = uniq<string>(d.rows.map((r: any) => `${r.codec} ${r.tokens}×${r.features}`));
  const key = (r: any) => `${r.codec} ${r.tokens}×${r.features}`;
  save(f.replace('/', '-').replace('.json', ''), barChart({ title: `P2 codec throughput, GB/s of f32 input — ${where(d.machine)}`, yLabel: 'GB/s (log)', log: true, groups,
    series: ['encode', 'decode-acc'].flatMap((op) => [['SIMD', 'simdGBs'], ['scalar TS', 'scalarGBs']].map(([n, k]) => ({ name: `${op} ${n}`, values: groups.map((g) => d.rows.find((r: any) => key(r) === g && r.op === op)?.[k]) }))) }));
}
for (const f of ['allreduce-bench.json', 'device/allreduce-bench.json']) {
  const d = load(f); if (!d) continue;
  for (const shards of uniq<number>(d.rows.map((r: any) => r.shards))) {
    const feats = Math.max(...d.rows.filter((r: any) => r.shards === shards).map((r: any) => r.features));
    const rows = d.rows.filter((r: any) => r.shards === shards && r.features === feats);
    save(`${f.replace('/', '-').replace('.json', '')}-${shards}`, lineChart({ title: `P3 all-reduce, ${shards} shards, ${feats} features — ${where(d.machine)}`, xLabel: 'tokens per message (log)', yLabel: 'ms (log)', logX: true, logY: true,
      series: uniq<string>(rows.map((r: any) => r.mode)).map((m) => ({ name: m, points: rows.filter((r: any) => r.mode === m).map((r: any) => [r.tokens, r.ms] as [number, number]) })) }));
  }
}
for (const f of ['scaling-smollm2.json', 'scaling-smollm2-gguf-decode.json', 'scaling-gemma3.json', 'device/scaling-smollm2.json', 'device/scaling-smollm2-gguf-decode.json', 'device/scaling-synthetic.json']) {
  const d = load(f); if (!d) continue;
  const comms = uniq<string>(d.rows.map((r: any) => r.comm));
  save(f.replace('/', '-').replace('.json', ''), lineChart({ title: `P4/P5 ${d.model}${d.quantizedDecode ? ' (decode from GGUF blocks)' : ''}: tokens/s by TP — ${where(d.machine)}`, xLabel: 'TP degree', yLabel: 'tokens/s (log)', logX: true, logY: true,
    series: ['prefillTokS', 'decodeTokS'].flatMap((k) => comms.map((c) => ({ name: `${k === 'prefillTokS' ? 'prefill' : 'decode'} ${c}`,
      points: d.rows.filter((r: any) => r.comm === c || (r.tp === 1 && r.comm === 'exact')).map((r: any) => [r.tp, r[k]] as [number, number]) }))) }));
}
{
  const d = load('peers-bench-smollm2.json');
  if (d) {
    const groups = d.rows.map((r: any) => `${r.runtime}: ${r.engine} ×${r.threads}`);
    save('peers-bench-smollm2', barChart({ title: `P4 vs llama.cpp peers, ${d.model}, ${d.promptLen}-token prompt — ${where(d.machine)}`, yLabel: 'tokens/s (log)', log: true, groups,
      series: [{ name: 'prefill', values: d.rows.map((r: any) => r.prefillTokS) }, { name: 'decode', values: d.rows.map((r: any) => r.decodeTokS) }] }));
  }
}
console.log(`wrote ${written.length} plots:\n${written.join('\n')}`);
