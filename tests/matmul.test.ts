// Matmul kernels against scalar references: f32 GEMM/GEMV (both builds where the runtime runs them) within float
// tolerance, and the quantized-weight GEMVs (Q8_0, Q4_1 blocks; int8-quantized activations) against the same
// arithmetic done in doubles from our dequantizer (the kernels read the blocks as bindings/tp/repack.ts lays them out).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeRig } from './helpers.js';
import { dequantize } from '../bindings/gguf/dequant.js';
import { f16Nearest, f32FromF16 } from '../bindings/codec/numerics.js';
import { Rng } from '../bindings/util/rng.js';
import { hasRelaxedSimd } from '../bindings/kernels.js';
import { packedBlockBytes, repackRows } from '../bindings/tp/repack.js';

const rng = new Rng(3);
type K = Record<string, (...a: number[]) => number>;

for (const flavor of hasRelaxedSimd() ? ['simd', 'relaxed'] as const : ['simd'] as const) {
  test(`f32 matmul (${flavor}) matches the scalar loop on odd shapes, GEMV and GEMM`, async () => {
    const { kernels, arena } = await makeRig(64 << 20, flavor);
    for (const [M, Kd, N] of [[1, 576, 1536], [1, 64, 7], [2, 32, 5], [3, 128, 9], [7, 96, 33], [64, 576, 13]]) {
      const x = arena.alloc(4 * M * Kd), w = arena.alloc(4 * N * Kd), y = arena.alloc(4 * M * N);
      const xs = arena.f32(x, M * Kd).map(() => rng.normal()), ws = arena.f32(w, N * Kd).map(() => rng.normal() * 0.05);
      arena.f32(x, M * Kd).set(xs); arena.f32(w, N * Kd).set(ws);
      (kernels as unknown as K).matmul(x, M, Kd, w, N, y);
      const got = arena.f32(y, M * N);
      for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
        let s = 0, a = 0;
        for (let k = 0; k < Kd; k++) { s += xs[m * Kd + k] * ws[n * Kd + k]; a += Math.abs(xs[m * Kd + k] * ws[n * Kd + k]); }
        assert.ok(Math.abs(got[m * N + n] - s) <= 1e-5 * a + 1e-6, `${M}×${Kd}×${N} [${m},${n}]: ${got[m * N + n]} vs ${s}`);
      }
    }
  });
}

for (const flavor of hasRelaxedSimd() ? ['simd', 'relaxed'] as const : ['simd'] as const) test(`Q8_0 and Q4_1 GEMV (${flavor}, int8 activations) equal the same arithmetic in doubles, and stay near the f32 result`, async () => {
  const { kernels, arena } = await makeRig(64 << 20, flavor);
  const k = kernels as unknown as K;
  const rng = new Rng(17); // the same data for every flavor
  // 18 blocks: four 4-block steps and a 2-block tail; 3: the tail alone; 5: one step and one tail block
  for (const Kd of [576, 96, 160]) {
  const N = 40, blocks = Kd / 32;
  const x = arena.alloc(4 * Kd), xq = arena.alloc(3 * Kd), dx = arena.alloc(4 * blocks), sx = arena.alloc(4 * blocks), y = arena.alloc(4 * N);
  const xs = Float32Array.from({ length: Kd }, () => rng.normal() * (rng.next() < 0.02 ? 20 : 1));
  arena.f32(x, Kd).set(xs);
  k.quantizeX(x, Kd, xq, dx, sx);
  const q8 = new Int8Array(arena.memory.buffer, xq, Kd).slice(), d8 = arena.f32(dx, blocks).slice();
  for (const [type, bytesPer] of [[8, 34], [3, 20]] as const) {
    const w = new Uint8Array(N * blocks * bytesPer);
    const dv = new DataView(w.buffer);
    for (let b = 0; b < N * blocks; b++) {
      for (let i = 0; i < bytesPer; i++) w[b * bytesPer + i] = Math.floor(rng.next() * 256);
      dv.setUint16(b * bytesPer, f16Nearest(0.001 + rng.next() * 0.02), true);
      if (type === 3) dv.setUint16(b * bytesPer + 2, f16Nearest(-0.1 + rng.next() * 0.05), true);
    }
    dv.setUint16(1 * bytesPer, 0x0003, true); // a subnormal f16 scale and a zero one, in a 4-block step
    dv.setUint16(2 * bytesPer, 0x0000, true);
    const packed = N * blocks * packedBlockBytes(type), wp = arena.alloc(packed);
    repackRows(type, w, N, blocks, arena.u8(wp, packed));
    if (type === 8) k.gemvQ8_0(xq, dx, Kd, wp, N, y); else k.gemvQ4_1(xq, dx, sx, Kd, wp, N, y);
    const deq = new Float32Array(N * Kd);
    dequantize(type, w, N * Kd, deq);
    const got = arena.f32(y, N);
    let errQ = 0, errX = 0, norm = 0;
    for (let n = 0; n < N; n++) {
      let same = 0, exact = 0, a = 0;
      for (let j = 0; j < Kd; j++) {
        const wv = deq[n * Kd + j];
        // Q4_1's m term uses the block sum of x; the q term the int8 activations, as the kernel does
        if (type === 3) {
          const blk = n * blocks + (j >> 5), d = f32FromF16(dv.getUint16(blk * 20, true)), m = f32FromF16(dv.getUint16(blk * 20 + 2, true));
          const byte = w[blk * 20 + 4 + (j & 15)], q = (j & 31) < 16 ? byte & 15 : byte >> 4;
          same += q * d * q8[j] * d8[j >> 5] + m * xs[j];
        } else same += wv * q8[j] * d8[j >> 5];
        exact += wv * xs[j]; a += Math.abs(wv * xs[j]);
      }
      errQ = Math.max(errQ, Math.abs(got[n] - same) / a);
      errX = Math.max(errX, Math.abs(got[n] - exact)); norm = Math.max(norm, Math.abs(exact));
    }
    assert.ok(errQ < 1e-5, `type ${type}, K ${Kd}: kernel vs same arithmetic ${errQ}`);
    assert.ok(errX < 0.02 * norm, `type ${type}, K ${Kd}: int8 activations move the result by ${errX} (max |y| ${norm})`);
  }
  }
});


test('repack: GGUF Q4_1 / Q8_0 rows → their code bytes, then f32 scales (and mins); short input is an error', () => {
  const rng = new Rng(23);
  for (const [type, gb, head] of [[3, 20, 4], [8, 34, 2]] as const) {
    const rows = 2, B = 3, src = Uint8Array.from({ length: rows * B * gb }, () => Math.floor(rng.next() * 256));
    const dst = new Uint8Array(rows * B * packedBlockBytes(type)), dv = new DataView(dst.buffer), sv = new DataView(src.buffer);
    repackRows(type, src, rows, B, dst);
    const codes = gb - head, rowBytes = B * packedBlockBytes(type);
    for (let r = 0; r < rows; r++) for (let b = 0; b < B; b++) {
      const s = (r * B + b) * gb;
      assert.deepEqual(dst.subarray(r * rowBytes + b * codes, r * rowBytes + (b + 1) * codes), src.subarray(s + head, s + gb));
      const d = dv.getFloat32(r * rowBytes + B * codes + 4 * b, true), want = f32FromF16(sv.getUint16(s, true));
      assert.ok(Object.is(d, want) || (Number.isNaN(d) && Number.isNaN(want)), `type ${type} d [${r},${b}]`);
      if (type === 3) {
        const m = dv.getFloat32(r * rowBytes + B * codes + 4 * (B + b), true), wm = f32FromF16(sv.getUint16(s + 2, true));
        assert.ok(Object.is(m, wm) || (Number.isNaN(m) && Number.isNaN(wm)), `m [${r},${b}]`);
      }
    }
    assert.throws(() => repackRows(type, src.subarray(1), rows, B, dst), /fewer than/);
  }
});
