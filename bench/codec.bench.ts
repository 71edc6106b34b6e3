// P2 / issue 2 bench: codec encode and decode-accumulate, SIMD (wasm) vs the scalar TS reference, same run.
// Throughput is GB/s of f32 input (tokens × features × 4 bytes). Writes docs/results/codec-bench.json.
import { Bench } from 'tinybench';
import { writeFileSync, mkdirSync } from 'node:fs';
import { Arena } from '../bindings/arena.js';
import { instantiateKernels, loadKernelModule, sharedMemory } from '../bindings/kernels.js';
import { encodeReference, decodeReference } from '../bindings/codec/reference.js';
import { benchCodec } from './codec-setup.js';
import { machine } from './machine.js';

const TOKENS = (process.env.BENCH_TOKENS ?? '1,64,512').split(',').map(Number);
const FEATURES = (process.env.BENCH_FEATURES ?? '576,2048,4096').split(',').map(Number);
const CODECS = (process.env.BENCH_CODECS ?? 'int4-g32,outlier-int4-static,bf16,rot128-int4-g128,rot128-int3-g128,outlier-rot128-int4-g128,outlier-int4-static-rows,rot128-int4-row-ec').split(',');
const OUT = process.env.BENCH_OUT ?? 'docs/results/codec-bench.json';
const TIME_MS = Number(process.env.BENCH_MS ?? 150);

const memory = sharedMemory(512 << 20);
const kernels = instantiateKernels(await loadKernelModule('simd'), memory);
const arena = new Arena(memory, kernels.heapBase());
const maxN = Math.max(...TOKENS) * Math.max(...FEATURES);
const src = arena.alloc(4 * maxN), sum = arena.alloc(4 * maxN), wire = arena.alloc(8 * maxN + 4096);

interface Row { codec: string; tokens: number; features: number; op: string; simdGBs: number; scalarGBs: number; ratio: number }
const rows: Row[] = [];
const gbs = (bytes: number, ms: number) => bytes / (ms * 1e6);

for (const name of CODECS) for (const F of FEATURES) for (const T of TOKENS) {
  const { ctx, codec, outliers } = benchCodec(kernels, arena, name, F, T);
  const n = T * F, x = arena.f32(src, n);
  for (let i = 0; i < n; i++) x[i] = Math.sin(i * 0.7) * (outliers.includes(i % F) ? 40 : 1.5);
  const xs = x.slice();
  const cap = codec.maxEncodedBytes(T);
  const bytes = codec.encode(src, T, wire, cap);
  const block = encodeReference(ctx, xs, T);
  const acc = new Float32Array(n);
  const bench = new Bench({ time: TIME_MS, warmupTime: 30 });
  bench
    .add('simd encode', () => { codec.encode(src, T, wire, cap); })
    .add('scalar encode', () => { encodeReference(ctx, xs, T); })
    .add('simd decode-acc', () => { codec.decode(wire, bytes, sum, n, true); })
    .add('scalar decode-acc', () => { decodeReference(ctx, block, acc, true); });
  await bench.run();
  const ms = (task: string) => (bench.getTask(task)!.result as unknown as { latency: { mean: number } }).latency.mean;
  for (const op of ['encode', 'decode-acc']) {
    const s = gbs(4 * n, ms(`simd ${op}`)), r = gbs(4 * n, ms(`scalar ${op}`));
    rows.push({ codec: name, tokens: T, features: F, op, simdGBs: s, scalarGBs: r, ratio: s / r });
  }
  const both = gbs(4 * n, ms('simd encode') + ms('simd decode-acc')), bothScalar = gbs(4 * n, ms('scalar encode') + ms('scalar decode-acc'));
  rows.push({ codec: name, tokens: T, features: F, op: 'encode+decode', simdGBs: both, scalarGBs: bothScalar, ratio: both / bothScalar });
  console.error(`.. ${name} ${T}×${F} done (${((8 * bytes) / n).toFixed(3)} bits/value)`);
}

console.log(`\ncodec throughput, GB/s of f32 input, one thread (${machine().cpu}, ${process.version})`);
console.log('| codec | tokens × features | op | SIMD GB/s | scalar TS GB/s | SIMD / scalar |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.codec} | ${r.tokens} × ${r.features} | ${r.op} | ${r.simdGBs.toFixed(2)} | ${r.scalarGBs.toFixed(3)} | ${r.ratio.toFixed(1)}× |`);
const target = rows.filter((r) => r.codec === 'int4-g32' && r.op === 'encode+decode');
if (target.length) {
  const minRatio = Math.min(...target.map((r) => r.ratio)), minGBs = Math.min(...target.map((r) => r.simdGBs));
  console.log(`\nint4-g32 encode+decode: min ratio ${minRatio.toFixed(1)}× (target ≥ 6×), min ${minGBs.toFixed(2)} GB/s (target ≥ 4 GB/s)`);
}
const rot = rows.filter((r) => r.codec.includes('rot') && r.op === 'encode+decode' && r.tokens > 1);
if (rot.length) console.log(`rotation codecs (issue 12 target ≥ 2 GB/s encode + decode-accumulate per core): min ${Math.min(...rot.map((r) => r.simdGBs)).toFixed(2)} GB/s at tokens > 1`);
mkdirSync(OUT.replace(/\/[^/]*$/, '') || '.', { recursive: true });
writeFileSync(OUT, JSON.stringify({ machine: machine(), timeMsPerTask: TIME_MS, rows }, null, 1));
console.log(`wrote ${OUT}`);
