// WASI build (@assemblyscript/wasi-shim) of the kernels: under Node's WASI host it runs a codec round trip and
// one synthetic decoder-layer forward; the same computation through the JavaScript-hosted build must agree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { makeRig } from './helpers.js';

test('WASI: codec round trip and a one-layer forward match the JavaScript-hosted kernels', async () => {
  const out = execFileSync(process.execPath, ['--no-warnings', fileURLToPath(new URL('./wasi-run.mjs', import.meta.url))], { encoding: 'utf8' });
  const codec = /codec int4-g32: (\d+) bytes, (\d+) tokens, max error ([\d.e-]+)/.exec(out);
  const fwd = /forward: sum (\S+) abs (\S+) h\[0\] (\S+) h\[last\] (\S+)/.exec(out);
  assert.ok(codec && fwd, `unexpected output: ${out}`);
  assert.equal(Number(codec[1]), 32 + 2 * 2 * 4 + 2 * 32); // header, bf16 scale + min per group, nibbles (§8)
  assert.equal(Number(codec[2]), 2);
  assert.ok(Number(codec[3]) <= 4 / 15 / 2 + 1e-3, `max error ${codec[3]}`); // s/2 for a range of 4

  // The same layer through the JavaScript-hosted build: same LCG, same kernels, same order.
  const { kernels: k, arena } = await makeRig(16 << 20);
  const K = k as unknown as Record<string, (...a: number[]) => number>;
  let seed = 12345;
  const rnd = () => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return Math.fround(Math.fround(((seed >>> 8) & 0xffff) / 65536) - 0.5); };
  const buf = (n: number) => arena.alloc(4 * n + 16, 16);
  const random = (n: number, s: number) => { const p = buf(n); const a = arena.f32(p, n); for (let i = 0; i < n; i++) a[i] = Math.fround(rnd() * s); return p; };
  for (let i = 0; i < 64 * 2; i++) rnd(); // the codec input drawn first in the WASI program
  const E = 64, H = 4, D = 16, KV = 2, FF = 128, M = 4, CAP = 8;
  const wq = random(H * D * E, 0.125), wk = random(KV * D * E, 0.125), wv = random(KV * D * E, 0.125), wo = random(E * H * D, 0.125);
  const wg = random(FF * E, 0.125), wu = random(FF * E, 0.125), wd = random(E * FF, 0.09), norm = buf(E);
  arena.f32(norm, E).fill(1);
  const h = random(M * E, 2), xn = buf(M * E), q = buf(M * H * D), kk = buf(M * KV * D), v = buf(M * KV * D);
  const kc = buf(KV * CAP * D), vc = buf(KV * CAP * D), att = buf(M * H * D), part = buf(M * E), g = buf(M * FF), u = buf(M * FF), sc = buf(CAP), table = buf(CAP * D);
  const tb = arena.f32(table, CAP * D);
  for (let p = 0; p < CAP; p++) for (let i = 0; i < D / 2; i++) {
    const inv = Math.fround(1 / Math.fround(10000 ** ((2 * i) / D))), th = Math.fround(p * inv);
    tb[(p * D / 2 + i) * 2] = Math.cos(th); tb[(p * D / 2 + i) * 2 + 1] = Math.sin(th);
  }
  K.rmsnorm(h, norm, xn, M, E, 1e-5);
  K.matmul(xn, M, E, wq, H * D, q); K.matmul(xn, M, E, wk, KV * D, kk); K.matmul(xn, M, E, wv, KV * D, v);
  K.rope(q, M, H, D, 0, table, 0); K.rope(kk, M, KV, D, 0, table, 0);
  const bytes = new Uint8Array(arena.memory.buffer);
  for (let m = 0; m < M; m++) for (let j = 0; j < KV; j++) {
    bytes.copyWithin(kc + 4 * (j * CAP + m) * D, kk + 4 * (m * KV + j) * D, kk + 4 * ((m * KV + j) * D + D));
    bytes.copyWithin(vc + 4 * (j * CAP + m) * D, v + 4 * (m * KV + j) * D, v + 4 * ((m * KV + j) * D + D));
  }
  K.attention(q, kc, vc, att, M, 0, H, KV, D, CAP, 0, 0.25, sc);
  K.matmul(att, M, H * D, wo, E, part); K.add(h, part, M * E);
  K.rmsnorm(h, norm, xn, M, E, 1e-5);
  K.matmul(xn, M, E, wg, FF, g); K.matmul(xn, M, E, wu, FF, u); K.siluMul(g, u, M * FF);
  K.matmul(g, M, FF, wd, E, part); K.add(h, part, M * E);
  const hv = arena.f32(h, M * E);
  const sum = hv.reduce((a, b) => a + b, 0), sumAbs = hv.reduce((a, b) => a + Math.abs(b), 0);
  assert.ok(Math.abs(sum - Number(fwd[1])) <= 1e-4 * sumAbs, `sum ${sum} vs WASI ${fwd[1]}`);
  assert.ok(Math.abs(sumAbs - Number(fwd[2])) <= 1e-4 * sumAbs, `abs ${sumAbs} vs WASI ${fwd[2]}`);
  assert.ok(Math.abs(hv[0] - Number(fwd[3])) <= 1e-4 && Math.abs(hv[M * E - 1] - Number(fwd[4])) <= 1e-4);
});
