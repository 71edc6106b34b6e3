// P1: f32 matmul shard, AssemblyScript SIMD (plain and relaxed FMA where the runtime has it) against the scalar
// TypeScript loop and onnxruntime-web's WebAssembly MatMul (1 thread) on the same shapes, in the same run.
// Writes docs/results/matmul-bench.json. Then the packed formats of bindings/tp/repack.ts (repack MB/s, matmulQ vs
// matmul, gemvQ vs f32 GEMV streamed) → docs/results/matmul-packed-bench.json; BENCH_PACKED_ONLY=1 runs only that.
import { Bench } from 'tinybench';
import { writeFileSync, mkdirSync } from 'node:fs';
import { matmulModel } from './onnx-matmul.js';
import { Arena } from '../bindings/arena.js';
import { hasRelaxedSimd, instantiateKernels, KernelFlavor, loadKernelModule, sharedMemory } from '../bindings/kernels.js';
import { machine } from './machine.js';
import { ggufBlockBytes, packedBlockBytes, repackRows, packedFormatOf, packedRowBytes, qgemmScratchBytes, repackMatrix, type PackedFormat } from '../bindings/tp/repack.js';
import { typeInfo } from '../bindings/gguf/types.js';

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
const PACKED_ONLY = !!process.env.BENCH_PACKED_ONLY; // skip to the packed-format section (quick runs while tuning)
for (const [M, K, N] of PACKED_ONLY ? [] : SHAPES) {
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
if (!PACKED_ONLY) writeFileSync('docs/results/matmul-bench.json', JSON.stringify({ machine: machine(), rows }, null, 1));

// Quantized-weight GEMV (decode): Q8_0 and Q4_1 rows with in-kernel dequantization vs our f32 GEMV, same run.
// Twice: "hot" reuses one weight matrix (it stays in cache), "streamed" cycles through copies filling 256 MB of f32
// weights, as a real decode step does (every layer's weights come from memory once per token).
interface QRow { shape: string; f32: number; q8: number; q4: number; f32Streamed: number; q8Streamed: number; q4Streamed: number }
const qrows: QRow[] = [];
const STREAM = 256 << 20;
const big = PACKED_ONLY ? { f32: 0, q8: 0, q4: 0 } : { f32: arena.alloc(STREAM), q8: arena.alloc(STREAM * 36 / 128), q4: arena.alloc(STREAM * 24 / 128) };
arena.f32(big.f32, STREAM / 4).forEach((_, i, a) => { a[i] = ((i * 7) % 13) * 1e-3; });
/** rows × B blocks made from a byte pattern in GGUF's format (f16 scales included), in the kernels' layout. */
const packedPattern = (type: 3 | 8, rows: number, B: number, mul: number): Uint8Array => {
  const gguf = Uint8Array.from({ length: rows * B * ggufBlockBytes(type) }, (_, i) => (i * mul) & 0x3f);
  const out = new Uint8Array(rows * B * packedBlockBytes(type));
  repackRows(type, gguf, rows, B, out);
  return out;
};
for (const [M, K, N] of SHAPES.filter(([m]) => m === 1 && !PACKED_ONLY)) {
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
if (!PACKED_ONLY) writeFileSync('docs/results/matmul-quant-bench.json', JSON.stringify({ machine: machine(), flavor: flavors.at(-1), rows: qrows }, null, 1));

// ---- Packed formats (bindings/tp/repack.ts): repack speed, prefill GEMM (matmulQ) and decode GEMV (gemvQ) vs f32 ----
// Own memory and kernel instance (the sections above keep theirs). Every comparison is timed interleaved: warm-up,
// then ≥ 5 rounds each running every implementation in turn; median and range (min–max) of ms per call.
function interleaved(impls: [string, () => void][], reps = Number(process.env.BENCH_REPS ?? 5), minMs = TIME_MS / 2): Map<string, number[]> {
  const calls = impls.map(([, f]) => { f(); const t = performance.now(); f(); return Math.max(1, Math.ceil(minMs / Math.max(1e-3, performance.now() - t))); });
  const out = new Map(impls.map(([n]) => [n, [] as number[]]));
  for (let r = 0; r < reps; r++) impls.forEach(([n, f], i) => { const t = performance.now(); for (let c = 0; c < calls[i]; c++) f(); out.get(n)!.push((performance.now() - t) / calls[i]); });
  return out;
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
const fmtMs = (a: number[]) => `${med(a).toFixed(2)} (${Math.min(...a).toFixed(2)}–${Math.max(...a).toFixed(2)})`;
/** Random GGUF bytes of a type, with f16 scales of a realistic size (codes random). */
function ggufSynthetic(type: number, rows: number, K: number): Uint8Array {
  const t = typeInfo(type), out = new Uint8Array(rows * K / t.blockSize * t.blockBytes);
  let s = 12345;
  for (let i = 0; i < out.length; i++) { s = (s * 1103515245 + 12345) >>> 0; out[i] = s >>> 24; }
  if (t.blockSize === 1) { if (type === 0) new Float32Array(out.buffer).forEach((_, i, a) => { a[i] = Math.sin(i) * 0.02; }); return out; }
  const dv = new DataView(out.buffer), at = type === 14 ? [208] : type === 2 || type === 6 || type === 8 ? [0] : [0, 2];
  for (let b = 0; b < out.length / t.blockBytes; b++) for (const o of at) dv.setUint16(b * t.blockBytes + o, 0x1400 + (b & 0xff), true); // ≈ 0.001
  return out;
}

async function packedBench(): Promise<void> {
  const mem = sharedMemory(1.5 * 2 ** 30), mod = await loadKernelModule(flavors.at(-1));
  const k = instantiateKernels(mod, mem) as unknown as Record<string, (...a: number[]) => number>;
  const base = k.heapBase(), fresh = () => new Arena(mem, base);
  const result: Record<string, unknown> = { machine: machine(), flavor: flavors.at(-1) };

  // repack speed, MB/s of GGUF input, 4096 × 4096 per type
  const rep: { type: string; mbps: number[] }[] = [];
  { const a = fresh(), R = 4096, K = 4096, dst = a.alloc(R * packedRowBytes(8, K) + 4 * R * K);
    for (const type of [12, 14, 13, 8, 2, 3, 1]) {
      const src = ggufSynthetic(type, R, K), out = a.u8(dst, R * packedRowBytes(packedFormatOf(type), K));
      const t = interleaved([['r', () => repackMatrix(type, src, R, K, out)]], 5, 0);
      rep.push({ type: `${typeInfo(type).name}→fmt ${packedFormatOf(type)}`, mbps: t.get('r')!.map((ms) => src.length / 1e3 / ms) });
    } }
  console.log(`\nrepackMatrix, MB/s of GGUF input (4096 × 4096, median (range) of 5): ${rep.map((r) => `${r.type} ${med(r.mbps).toFixed(0)} (${Math.min(...r.mbps).toFixed(0)}–${Math.max(...r.mbps).toFixed(0)})`).join(', ')}`);
  result.repackMBps = rep;

  // prefill GEMM: f32 matmul vs matmulQ (fmt 5 / 4 from Q4_K, fmt 7 / 6 from Q6_K, fmt 8 from Q8_0)
  const gemm: Record<string, unknown>[] = [];
  const GEMM = (process.env.BENCH_QGEMM ?? '64x4096x4096,512x4096x4096,64x4096x14336').split(',').filter(Boolean).map((s) => s.split('x').map(Number));
  const SRC: [number, number, string][] = [[12, 5, 'Q4_K'], [12, 4, 'Q4_K'], [14, 7, 'Q6_K'], [14, 6, 'Q6_K'], [8, 8, 'Q8_0']]; // type, fmt
  const FM = SRC.map(([, f]) => f), head = SRC.map(([, f, n]) => `fmt ${f} (${n})`);
  console.log('\nprefill GEMM, ms per call, median (range); ratio = GFLOP/s of matmulQ / f32 matmul, same run');
  console.log(`| M×K×N | f32 | ${head.join(' | ')} | ${FM.map((f) => `fmt ${f} / f32`).join(' | ')} |`);
  console.log(`|---|---|${FM.map(() => '---|---|').join('')}`);
  for (const [M, K, N] of GEMM) {
    const a = fresh(), x = a.alloc(4 * M * K), y = a.alloc(4 * M * N), w = a.alloc(4 * N * K), sb = Number(process.env.BENCH_QGEMM_ROWS ?? 0) * 4 * K || qgemmScratchBytes(K), scratch = a.alloc(sb);
    a.f32(x, M * K).forEach((_, i, v) => { v[i] = Math.sin(i); });
    const packed: Record<number, number> = {};
    for (const [type, fmt] of SRC) {
      const rb = packedRowBytes(fmt as PackedFormat, K), p = a.alloc(N * rb);
      repackMatrix(type, ggufSynthetic(type, N, K), N, K, a.u8(p, N * rb), 0, K, fmt as PackedFormat);
      packed[fmt] = p;
    }
    k.dequantRows(4, packed[4], K, N, w); // the f32 matmul gets the same weights
    const t = interleaved([['f32', () => k.matmul(x, M, K, w, N, y)], ...FM.map((f) => [`fmt ${f}`, () => k.matmulQ(f, x, M, K, packed[f], N, y, scratch, sb)] as [string, () => void])]);
    const r = (f: number) => (med(t.get('f32')!) / med(t.get(`fmt ${f}`)!));
    console.log(`| ${M}×${K}×${N} | ${['f32', ...FM.map((f) => `fmt ${f}`)].map((n) => fmtMs(t.get(n)!)).join(' | ')} | ${FM.map((f) => `${r(f).toFixed(2)}×`).join(' | ')} |`);
    gemm.push({ shape: `${M}x${K}x${N}`, scratchRows: sb / (4 * K), ms: Object.fromEntries(t), gflopsF32: 2 * M * K * N / med(t.get('f32')!) / 1e6,
      ratioVsF32: Object.fromEntries(FM.map((f) => [`fmt ${f}`, r(f)])) });
  }
  result.gemm = gemm;

  // decode GEMV streamed from memory: f32 GEMV vs gemvQ per fmt (activations quantized per call, as decode does)
  const gemv: Record<string, unknown>[] = [];
  const GEMV = (process.env.BENCH_QGEMV ?? '4096x4096,14336x4096,4096x14336').split(',').map((s) => s.split('x').map(Number)); // N × K
  console.log('\ndecode GEMV, weights streamed (copies ≥ 96 MB per format, each call the next copy), ms per call, median (range)');
  const GV: [number, PackedFormat, string][] = [[12, 5, 'Q4_K'], [12, 4, 'Q4_K'], [14, 7, 'Q6_K'], [14, 6, 'Q6_K'], [8, 8, 'Q8_0']];
  console.log(`| N×K | f32 | ${GV.map(([, f, n]) => `fmt ${f} (${n})`).join(' | ')} | ${GV.map(([, f]) => `fmt ${f} / f32`).join(' | ')} |`);
  console.log(`|---|---|${GV.map(() => '---|---|').join('')}`);
  for (const [N, K] of GEMV) {
    const a = fresh(), B = K / 32, x = a.alloc(4 * K), xq = a.alloc(3 * K), dx = a.alloc(4 * B), sx = a.alloc(4 * B), y = a.alloc(4 * N);
    a.f32(x, K).forEach((_, i, v) => { v[i] = Math.sin(i); });
    const copies = (bytes: number) => Math.max(1, Math.ceil((96 << 20) / bytes));
    const f32Bytes = 4 * N * K, nf = copies(f32Bytes), wf = a.alloc(nf * f32Bytes);
    const one = a.alloc(f32Bytes);
    const streams: Record<number, { at: number; n: number; bytes: number; i: number }> = {};
    for (const [type, fmt] of GV) {
      const bytes = N * packedRowBytes(fmt, K), n = copies(bytes), at = a.alloc(n * bytes);
      repackMatrix(type, ggufSynthetic(type, N, K), N, K, a.u8(at, bytes), 0, K, fmt);
      for (let c = 1; c < n; c++) a.u8(at + c * bytes, bytes).set(a.u8(at, bytes));
      if (fmt === 4) { k.dequantRows(4, at, K, N, one); for (let c = 0; c < nf; c++) a.u8(wf + c * f32Bytes, f32Bytes).set(a.u8(one, f32Bytes)); }
      streams[fmt] = { at, n, bytes, i: 0 };
    }
    let fi = 0;
    const q = (f: number) => () => { const s = streams[f]; s.i = (s.i + 1) % s.n; k.quantizeX(x, K, xq, dx, sx); k.gemvQ(f, xq, dx, sx, K, s.at + s.i * s.bytes, N, y); };
    const t = interleaved([['f32', () => { fi = (fi + 1) % nf; k.matmul(x, 1, K, wf + fi * f32Bytes, N, y); }], ...GV.map(([, f]) => [`fmt ${f}`, q(f)] as [string, () => void])]);
    const r = (n: string) => `${(med(t.get('f32')!) / med(t.get(n)!)).toFixed(2)}×`;
    console.log(`| ${N}×${K} | ${['f32', ...GV.map(([, f]) => `fmt ${f}`)].map((n) => fmtMs(t.get(n)!)).join(' | ')} | ${GV.map(([, f]) => r(`fmt ${f}`)).join(' | ')} |`);
    gemv.push({ shape: `${N}x${K}`, ms: Object.fromEntries(t), bytesPerCall: Object.fromEntries(GV.map(([, f]) => [`fmt ${f}`, N * packedRowBytes(f, K)])),
      ratioVsF32: Object.fromEntries(GV.map(([, f]) => [`fmt ${f}`, med(t.get('f32')!) / med(t.get(`fmt ${f}`)!)])) });
  }
  result.gemv = gemv;
  writeFileSync('docs/results/matmul-packed-bench.json', JSON.stringify(result, null, 1));
}

await packedBench(); // after the helpers above are initialized
