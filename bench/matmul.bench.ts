// P1: f32 matmul shard, AssemblyScript SIMD (plain and relaxed FMA where the runtime has it) against the scalar
// TypeScript loop and onnxruntime-web's WebAssembly MatMul (1 thread) on the same shapes, in the same run.
// Writes docs/results/matmul-bench.json.
import { Bench } from 'tinybench';
import { writeFileSync, mkdirSync } from 'node:fs';
import { matmulModel } from './onnx-matmul.js';
import { Arena } from '../bindings/arena.js';
import { hasRelaxedSimd, instantiateKernels, KernelFlavor, loadKernelModule, sharedMemory } from '../bindings/kernels.js';
import { machine } from './machine.js';
import { ggufBlockBytes, packedBlockBytes, repackRows } from '../bindings/tp/repack.js';

const SHAPES: [number, number, number][] = (process.env.BENCH_SHAPES ?? '1x576x1536,1x1536x576,1x640x2048,1x4096x4096,64x576x1536,64x1536x576,64x640x2048,64x4096x4096')
  .split(',').map((s) => s.split('x').map(Number) as [number, number, number]);
const TIME_MS = Number(process.env.BENCH_MS ?? 300);

/** The scalar baseline: y[M×N] = x[M×K] · W[N×K]ᵀ, plain loops. */
function scalarMatmul(x: Float32Array, M: number, K: number, w: Float32Array, N: number, y: Float32Array): void {
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += x[m * K + k] * w[n * K + k];
    y[m * N + n] = s;
  }
}

const memory = sharedMemory(1 << 30);
const flavors: KernelFlavor[] = hasRelaxedSimd() ? ['simd', 'relaxed'] : ['simd'];
const kernels = await Promise.all(flavors.map(async (f) => instantiateKernels(await loadKernelModule(f), memory) as unknown as { matmul(...a: number[]): void; heapBase(): number }));
const arena = new Arena(memory, kernels[0].heapBase());

let ort: typeof import('onnxruntime-web') | null = null;
try {
  ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
} catch { console.error('onnxruntime-web not installed: its column stays empty'); }

interface Row { shape: string; impl: string; ms: number; gflops: number }
const rows: Row[] = [];
for (const [M, K, N] of SHAPES) {
  const x = arena.alloc(4 * M * K), w = arena.alloc(4 * N * K), y = arena.alloc(4 * M * N);
  arena.f32(x, M * K).forEach((_, i, a) => { a[i] = Math.sin(i); });
  arena.f32(w, N * K).forEach((_, i, a) => { a[i] = Math.cos(i) * 0.01; });
  const xs = arena.f32(x, M * K).slice(), ws = arena.f32(w, N * K).slice(), ys = new Float32Array(M * N);
  const wt = new Float32Array(K * N); // ONNX MatMul wants B as [K × N]
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) wt[k * N + n] = ws[n * K + k];
  const bench = new Bench({ time: TIME_MS, warmupTime: 50, iterations: 2 });
  flavors.forEach((f, i) => bench.add(`as-${f}`, () => kernels[i].matmul(x, M, K, w, N, y)));
  if (2 * M * K * N <= 2.5e8 || process.env.BENCH_SCALAR_ALL) bench.add('scalar-ts', () => scalarMatmul(xs, M, K, ws, N, ys));
  if (ort) {
    const session = await ort.InferenceSession.create(matmulModel(M, K, N, wt), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    const feeds = { A: new ort.Tensor('float32', xs, [M, K]) };
    bench.add('onnxruntime-web', async () => { await session.run(feeds); });
  }
  await bench.run();
  for (const t of bench.tasks) {
    const ms = (t.result as unknown as { latency: { mean: number } }).latency.mean;
    rows.push({ shape: `${M}x${K}x${N}`, impl: t.name, ms, gflops: (2 * M * K * N) / (ms * 1e6) });
  }
  console.error(`.. ${M}x${K}x${N}`);
}
const impls = [...new Set(rows.map((r) => r.impl))];
console.log(`\nmatmul GFLOP/s, one thread (${machine().cpu}, ${process.version}); ratios measured in the same run`);
const best = impls.includes('as-relaxed') ? 'as-relaxed' : 'as-simd'; // the build the engine loads here
console.log(`| M×K×N | ${impls.join(' | ')} | as-simd / scalar | ${best} / onnxruntime-web |`);
console.log(`|---|${impls.map(() => '---|').join('')}---|---|`);
for (const shape of [...new Set(rows.map((r) => r.shape))]) {
  const g = (impl: string) => rows.find((r) => r.shape === shape && r.impl === impl)?.gflops;
  const ratio = (a?: number, b?: number) => (a && b ? `${(a / b).toFixed(2)}×` : '—');
  console.log(`| ${shape} | ${impls.map((i) => g(i)?.toFixed(2) ?? '—').join(' | ')} | ${ratio(g('as-simd'), g('scalar-ts'))} | ${ratio(g(best), g('onnxruntime-web'))} |`);
}
mkdirSync('docs/results', { recursive: true });
writeFileSync('docs/results/matmul-bench.json', JSON.stringify({ machine: machine(), rows }, null, 1));

// Quantized-weight GEMV (decode): Q8_0 and Q4_1 rows with in-kernel dequantization vs our f32 GEMV, same run.
// Twice: "hot" reuses one weight matrix (it stays in cache), "streamed" cycles through copies filling 256 MB of f32
// weights, as a real decode step does (every layer's weights come from memory once per token).
interface QRow { shape: string; f32: number; q8: number; q4: number; f32Streamed: number; q8Streamed: number; q4Streamed: number }
const qrows: QRow[] = [];
const STREAM = 256 << 20;
const big = { f32: arena.alloc(STREAM), q8: arena.alloc(STREAM * 36 / 128), q4: arena.alloc(STREAM * 24 / 128) };
arena.f32(big.f32, STREAM / 4).forEach((_, i, a) => { a[i] = ((i * 7) % 13) * 1e-3; });
/** rows × B blocks made from a byte pattern in GGUF's format (f16 scales included), in the kernels' layout. */
const packedPattern = (type: 3 | 8, rows: number, B: number, mul: number): Uint8Array => {
  const gguf = Uint8Array.from({ length: rows * B * ggufBlockBytes(type) }, (_, i) => (i * mul) & 0x3f);
  const out = new Uint8Array(rows * B * packedBlockBytes(type));
  repackRows(type, gguf, rows, B, out);
  return out;
};
for (const [M, K, N] of SHAPES.filter(([m]) => m === 1)) {
  const k = kernels.at(-1) as unknown as Record<string, (...a: number[]) => number>; // relaxed where the runtime has it
  const blocks = K / 32;
  const x = arena.alloc(4 * K), xq = arena.alloc(3 * K), dx = arena.alloc(4 * blocks), sx = arena.alloc(4 * blocks), y = arena.alloc(4 * N);
  const w = arena.alloc(4 * N * K), w8 = arena.alloc(N * blocks * 36), w4 = arena.alloc(N * blocks * 24);
  arena.f32(x, K).forEach((_, i, a) => { a[i] = Math.sin(i); });
  const p8 = packedPattern(8, N, blocks, 37), p4 = packedPattern(3, N, blocks, 53);
  arena.u8(w8, p8.length).set(p8); arena.u8(w4, p4.length).set(p4);
  const copies = Math.max(1, Math.floor(STREAM / (4 * N * K)));
  for (let c = 0; c < copies; c++) { arena.u8(big.q8 + c * p8.length, p8.length).set(p8); arena.u8(big.q4 + c * p4.length, p4.length).set(p4); }
  let c = 0;
  const next = () => (c = (c + 1) % copies);
  // Guard: every flavor's quantized GEMV gives the same bits (integer block sums are exact; the float steps are
  // the same), so the relaxed kernel, which CI's Node 20 cannot run, is checked wherever this bench runs.
  for (const [name, run] of [['q8_0', (kk: typeof k) => kk.gemvQ8_0(xq, dx, K, w8, N, y)], ['q4_1', (kk: typeof k) => kk.gemvQ4_1(xq, dx, sx, K, w4, N, y)]] as const) {
    const outs = kernels.map((kk) => { const q = kk as unknown as typeof k; q.quantizeX(x, K, xq, dx, sx); run(q); return arena.f32(y, N).slice(); });
    for (let f = 1; f < outs.length; f++)
      if (outs[f].some((v, i) => !Object.is(v, outs[0][i]))) throw new Error(`${name} ${M}x${K}x${N}: ${flavors[f]} build differs from ${flavors[0]}`);
  }
  const bench = new Bench({ time: TIME_MS, warmupTime: 50 });
  bench.add('f32', () => k.matmul(x, M, K, w, N, y))
    .add('q8_0', () => { k.quantizeX(x, K, xq, dx, sx); k.gemvQ8_0(xq, dx, K, w8, N, y); })
    .add('q4_1', () => { k.quantizeX(x, K, xq, dx, sx); k.gemvQ4_1(xq, dx, sx, K, w4, N, y); })
    .add('f32 streamed', () => k.matmul(x, M, K, big.f32 + next() * 4 * N * K, N, y))
    .add('q8_0 streamed', () => { k.quantizeX(x, K, xq, dx, sx); k.gemvQ8_0(xq, dx, K, big.q8 + next() * N * blocks * 36, N, y); })
    .add('q4_1 streamed', () => { k.quantizeX(x, K, xq, dx, sx); k.gemvQ4_1(xq, dx, sx, K, big.q4 + next() * N * blocks * 24, N, y); });
  await bench.run();
  const ms = (t: string) => (bench.getTask(t)!.result as unknown as { latency: { mean: number } }).latency.mean;
  qrows.push({ shape: `${M}x${K}x${N}`, f32: ms('f32'), q8: ms('q8_0'), q4: ms('q4_1'), f32Streamed: ms('f32 streamed'), q8Streamed: ms('q8_0 streamed'), q4Streamed: ms('q4_1 streamed') });
}
if (flavors.length > 1) console.log(`\nquantized GEMV: the ${flavors.join(' and ')} builds agree bit for bit on every shape`);
console.log(`\nGEMV with quantized weights, ${flavors.at(-1)} build (ms per call, in-kernel dequantization; activations quantized to int8 per call)`);
console.log('| shape | weights | f32 | q8_0 | q4_1 | q8_0 / f32 speed-up | q4_1 / f32 speed-up |');
console.log('|---|---|---|---|---|---|---|');
for (const r of qrows) {
  console.log(`| ${r.shape} | hot (in cache) | ${r.f32.toFixed(3)} | ${r.q8.toFixed(3)} | ${r.q4.toFixed(3)} | ${(r.f32 / r.q8).toFixed(2)}× | ${(r.f32 / r.q4).toFixed(2)}× |`);
  console.log(`| ${r.shape} | streamed (256 MB) | ${r.f32Streamed.toFixed(3)} | ${r.q8Streamed.toFixed(3)} | ${r.q4Streamed.toFixed(3)} | ${(r.f32Streamed / r.q8Streamed).toFixed(2)}× | ${(r.f32Streamed / r.q4Streamed).toFixed(2)}× |`);
}
writeFileSync('docs/results/matmul-quant-bench.json', JSON.stringify({ machine: machine(), flavor: flavors.at(-1), rows: qrows }, null, 1));
