// P1: f32 matmul shard, AssemblyScript SIMD (plain and relaxed FMA where the runtime has it) against the scalar
// TypeScript loop and onnxruntime-web's WebAssembly MatMul (1 thread) on the same shapes, in the same run.
// Writes docs/results/matmul-bench.json.
import { Bench } from 'tinybench';
import { writeFileSync, mkdirSync } from 'node:fs';
import { matmulModel } from './onnx-matmul.js';
import { Arena } from '../bindings/arena.js';
import { hasRelaxedSimd, instantiateKernels, KernelFlavor, loadKernelModule, sharedMemory } from '../bindings/kernels.js';
import { machine } from './machine.js';

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
console.log(`\nmatmul GFLOP/s, one thread (${machine().cpu}, ${process.version}); ratios against as-simd in the same run`);
console.log(`| M×K×N | ${impls.join(' | ')} | as-simd / scalar | as-simd / onnxruntime-web |`);
console.log(`|---|${impls.map(() => '---|').join('')}---|---|`);
for (const shape of [...new Set(rows.map((r) => r.shape))]) {
  const g = (impl: string) => rows.find((r) => r.shape === shape && r.impl === impl)?.gflops;
  const ratio = (a?: number, b?: number) => (a && b ? `${(a / b).toFixed(2)}×` : '—');
  console.log(`| ${shape} | ${impls.map((i) => g(i)?.toFixed(2) ?? '—').join(' | ')} | ${ratio(g('as-simd'), g('scalar-ts'))} | ${ratio(g('as-simd'), g('onnxruntime-web'))} |`);
}
mkdirSync('docs/results', { recursive: true });
writeFileSync('docs/results/matmul-bench.json', JSON.stringify({ machine: machine(), rows }, null, 1));
