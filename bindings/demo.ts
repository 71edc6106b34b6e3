// Codec demo: synthetic tensor-parallel partial sums with consistent outlier features (the paper's observation),
// all-gathered through each communication mode; prints wire bits/value and the error of the reduced sum.
import { Arena } from './arena.js';
import { instantiateKernels, loadKernelModule, sharedMemory } from './kernels.js';
import { SimdCodec } from './codec/simd.js';
import { contextFor, parseCommMode } from './calibrate/plan.js';
import { FeatureRanges } from './calibrate/ranges.js';
import { Rng } from './util/rng.js';

export const DEMO_MODES = [
  'exact', 'bf16', 'int4-static', 'random-int4-static', 'outlier-int4-static', 'int4-g32', 'outlier-int4-g32',
  'int8-g32', 'outlier-int3-g32', 'outlier-int2-g16',
];

export interface DemoRow { mode: string; bitsPerValue: number; relL2: number; maxAbs: number }

/** Partials [shards][tokens × F]: N(0, 1) everywhere, plus outlier features that are large for every token. */
function partials(rng: Rng, shards: number, tokens: number, F: number, outliers: number[], gains: number[]): Float32Array[] {
  return Array.from({ length: shards }, () => {
    const x = new Float32Array(tokens * F);
    for (let t = 0; t < tokens; t++) for (let f = 0; f < F; f++) x[t * F + f] = rng.normal() * (0.5 + (f % 7) / 7);
    for (let t = 0; t < tokens; t++) outliers.forEach((f, i) => { x[t * F + f] = gains[i] * (1 + 0.3 * rng.normal()); });
    return x;
  });
}

export async function codecDemo(opts: { shards?: number; tokens?: number; features?: number; seed?: number } = {}): Promise<DemoRow[]> {
  const shards = opts.shards ?? 2, tokens = opts.tokens ?? 64, F = opts.features ?? 576, seed = opts.seed ?? 7;
  const rng = new Rng(seed);
  const planted = rng.sample(F, 12);
  const gains = planted.map(() => (rng.next() < 0.5 ? -1 : 1) * (20 + 60 * rng.next()));
  // Calibration and evaluation draw different samples from the same process.
  const ranges = Array.from({ length: shards }, () => new FeatureRanges(F));
  for (let b = 0; b < 8; b++) partials(rng, shards, tokens, F, planted, gains).forEach((x, s) => ranges[s].update(x, tokens));
  const evalParts = partials(rng, shards, tokens, F, planted, gains);
  const exact = new Float32Array(tokens * F);
  for (const x of evalParts) for (let i = 0; i < exact.length; i++) exact[i] += x[i];

  const memory = sharedMemory(64 << 20);
  const kernels = instantiateKernels(await loadKernelModule('simd'), memory);
  const arena = new Arena(memory, kernels.heapBase());
  const n = tokens * F, src = arena.alloc(4 * n), sum = arena.alloc(4 * n);
  const rows: DemoRow[] = [];
  for (const name of DEMO_MODES) {
    const mode = parseCommMode(name);
    const codecs = ranges.map((r, s) => new SimdCodec(kernels, arena, contextFor(mode, F, r, 1 / 64, 100 + s)));
    const cap = codecs[0].maxEncodedBytes(tokens), wires = codecs.map(() => arena.alloc(cap));
    let bytes = 0;
    const lens = evalParts.map((x, s) => { arena.f32(src, n).set(x); const b = codecs[s].encode(src, tokens, wires[s], cap); bytes += b; return b; });
    arena.f32(sum, n).fill(0);
    evalParts.forEach((_, s) => codecs[s].decode(wires[s], lens[s], sum, n, true)); // fixed shard order
    const got = arena.f32(sum, n);
    let e2 = 0, x2 = 0, maxAbs = 0;
    for (let i = 0; i < n; i++) { const d = got[i] - exact[i]; e2 += d * d; x2 += exact[i] * exact[i]; maxAbs = Math.max(maxAbs, Math.abs(d)); }
    rows.push({ mode: name, bitsPerValue: (8 * bytes) / (shards * n), relL2: Math.sqrt(e2 / x2), maxAbs });
  }
  return rows;
}

export function formatDemo(rows: DemoRow[]): string {
  const lines = ['| communication | wire bits/value | rel. L2 error of the sum | max abs error |', '|---|---|---|---|'];
  for (const r of rows) lines.push(`| ${r.mode} | ${r.bitsPerValue.toFixed(3)} | ${r.relL2.toExponential(2)} | ${r.maxAbs.toExponential(2)} |`);
  return lines.join('\n');
}
