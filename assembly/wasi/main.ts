// WASI self-check of the kernels, for WASI-based edge platforms: a codec round trip and one forward step of a
// small synthetic decoder layer, printed for the host to compare (tests/wasi.test.ts runs it under node:wasi
// and repeats the same computation with the JavaScript-hosted build).
import { encode } from '../codec';
import { decode } from '../codec_decode';
import { scratchBytes } from '../codec_layout';
import { matmul } from '../matmul';
import { add, attention, rmsnorm, rope, siluMul } from '../layers';

let seed: u32 = 12345;
function rnd(): f32 { seed = seed * 1664525 + 1013904223; return <f32>((seed >>> 8) & 0xffff) / <f32>65536 - <f32>0.5; }
function buf(n: i32): usize { const p = heap.alloc(<usize>n * 4 + 16); memory.fill(p, 0, <usize>n * 4); return p; }
function random(n: i32, scale: f32): usize { const p = buf(n); for (let i = 0; i < n; i++) store<f32>(p + (<usize>i << 2), rnd() * scale); return p; }
function ones(n: i32): usize { const p = buf(n); for (let i = 0; i < n; i++) store<f32>(p + (<usize>i << 2), 1); return p; }

// 1. codec: int4 group-32, asymmetric, 2 × 64 values
const F = 64, T = 2;
const ctx = buf(12), isOut = buf(F);
store<u32>(ctx, 3); store<u32>(ctx, 4, 4); store<u32>(ctx, 32, 8); store<u32>(ctx, 0, 12); store<u32>(ctx, F, 16);
store<u32>(ctx, 0, 20); store<u32>(ctx, <u32>isOut, 40);
const x = random(F * T, 4), wire = buf(1024), back = buf(F * T), scratch = heap.alloc(<usize>scratchBytes(F));
const bytes = encode(ctx, x, T, wire, 4096, scratch, scratchBytes(F));
const tokens = decode(ctx, wire, bytes, back, F * T, false, scratch, scratchBytes(F));
let maxErr: f32 = 0;
for (let i = 0; i < F * T; i++) maxErr = max(maxErr, abs(load<f32>(back + (<usize>i << 2)) - load<f32>(x + (<usize>i << 2))));
console.log(`codec int4-g32: ${bytes} bytes, ${tokens} tokens, max error ${maxErr}`);

// 2. one decoder layer (llama-style) on M = 4 tokens: E 64, 4 heads × 16, 2 KV heads, FFN 128
const E = 64, H = 4, D = 16, KV = 2, FF = 128, M = 4, CAP = 8;
const wq = random(H * D * E, 0.125), wk = random(KV * D * E, 0.125), wv = random(KV * D * E, 0.125), wo = random(E * H * D, 0.125);
const wg = random(FF * E, 0.125), wu = random(FF * E, 0.125), wd = random(E * FF, 0.09), norm = ones(E);
const h = random(M * E, 2), xn = buf(M * E), q = buf(M * H * D), k = buf(M * KV * D), v = buf(M * KV * D);
const kc = buf(KV * CAP * D), vc = buf(KV * CAP * D), att = buf(M * H * D), part = buf(M * E), g = buf(M * FF), u = buf(M * FF), sc = buf(CAP);
const table = buf(CAP * D);
for (let p = 0; p < CAP; p++) for (let i = 0; i < D / 2; i++) {
  const inv = <f32>1 / <f32>Math.pow(10000, <f64>(2 * i) / <f64>D);
  const th = <f32>p * inv;
  store<f32>(table + (<usize>((p * D / 2 + i) * 2) << 2), <f32>Math.cos(th));
  store<f32>(table + (<usize>((p * D / 2 + i) * 2 + 1) << 2), <f32>Math.sin(th));
}
rmsnorm(h, norm, xn, M, E, 1e-5);
matmul(xn, M, E, wq, H * D, q); matmul(xn, M, E, wk, KV * D, k); matmul(xn, M, E, wv, KV * D, v);
rope(q, M, H, D, 0, table, false); rope(k, M, KV, D, 0, table, false);
for (let m = 0; m < M; m++) for (let j = 0; j < KV; j++) {
  memory.copy(kc + (<usize>((j * CAP + m) * D) << 2), k + (<usize>((m * KV + j) * D) << 2), <usize>D << 2);
  memory.copy(vc + (<usize>((j * CAP + m) * D) << 2), v + (<usize>((m * KV + j) * D) << 2), <usize>D << 2);
}
attention(q, kc, vc, att, M, 0, H, KV, D, CAP, 0, 0.25, sc);
matmul(att, M, H * D, wo, E, part); add(h, part, M * E);
rmsnorm(h, norm, xn, M, E, 1e-5);
matmul(xn, M, E, wg, FF, g); matmul(xn, M, E, wu, FF, u); siluMul(g, u, M * FF);
matmul(g, M, FF, wd, E, part); add(h, part, M * E);
let sum: f64 = 0, sumAbs: f64 = 0;
for (let i = 0; i < M * E; i++) { const t = <f64>load<f32>(h + (<usize>i << 2)); sum += t; sumAbs += abs(t); }
console.log(`forward: sum ${sum} abs ${sumAbs} h[0] ${load<f32>(h)} h[last] ${load<f32>(h + (<usize>(M * E - 1) << 2))}`);
