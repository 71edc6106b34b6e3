// Two (or more) kernel builds against each other in one process, for kernel work on a noisy machine: every build
// encodes and decode-accumulates the same Gaussian message per codec, rounds interleave the builds, and each
// figure is the fastest of REPS × ROUNDS calls (GB/s of f32 input; min, not mean: noise only ever adds time).
// Usage: node dist/bench/codec-ab.js before.wasm after.wasm   (env: T, F, C = codec names, REPS, ROUNDS)
import { readFileSync } from 'node:fs';
import { Arena } from '../bindings/arena.js';
import { instantiateKernels, sharedMemory } from '../bindings/kernels.js';
import { benchCodec } from './codec-setup.js';
import { Rng } from '../bindings/util/rng.js';

const env = process.env;
const T = Number(env.T ?? 64), F = Number(env.F ?? 2048), REPS = Number(env.REPS ?? 100), ROUNDS = Number(env.ROUNDS ?? 5);
const codecs = (env.C ?? 'int4-g32,rot128-int4-g128,rot128-int4-g128-ec').split(',');
const wasms = process.argv.slice(2);
if (wasms.length === 0) throw new Error('usage: codec-ab.js A.wasm [B.wasm …]');

interface Pair { enc: () => void; dec: () => void }
const builds: Pair[][] = [];
for (const path of wasms) {
  const memory = sharedMemory(256 << 20);
  const kernels = instantiateKernels(await WebAssembly.compile(readFileSync(path)), memory);
  const arena = new Arena(memory, kernels.heapBase());
  const n = T * F, src = arena.alloc(4 * n), sum = arena.alloc(4 * n), wire = arena.alloc(8 * n + 4096);
  const rng = new Rng(1), x = arena.f32(src, n);
  for (let i = 0; i < n; i++) x[i] = 1.5 * rng.normal();
  builds.push(codecs.map((name) => {
    const { codec } = benchCodec(kernels, arena, name, F, T);
    const cap = codec.maxEncodedBytes(T), bytes = codec.encode(src, T, wire, cap);
    return { enc: () => { codec.encode(src, T, wire, cap); }, dec: () => { codec.decode(wire, bytes, sum, n, true); } };
  }));
}
const fastest = (f: () => void): number => {
  let best = Infinity;
  for (let r = 0; r < REPS; r++) { const t0 = performance.now(); f(); best = Math.min(best, performance.now() - t0); }
  return best;
};
const best = builds.map(() => codecs.map(() => ({ enc: Infinity, dec: Infinity })));
for (let r = 0; r < ROUNDS; r++) builds.forEach((b, w) => b.forEach((p, c) => {
  best[w][c].enc = Math.min(best[w][c].enc, fastest(p.enc));
  best[w][c].dec = Math.min(best[w][c].dec, fastest(p.dec));
}));
const gbs = (ms: number) => ((4 * T * F) / (ms * 1e6)).toFixed(2);
console.log(`| codec | build | ${T} × ${F} encode GB/s | decode-acc GB/s | encode + decode GB/s |`);
console.log('|---|---|---|---|---|');
codecs.forEach((name, c) => wasms.forEach((path, w) => {
  const b = best[w][c];
  console.log(`| ${name} | ${path.split('/').pop()} | ${gbs(b.enc)} | ${gbs(b.dec)} | ${gbs(b.enc + b.dec)} |`);
}));
