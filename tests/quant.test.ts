// Packed quantized weights (bindings/tp/repack.ts → assembly/dequant.ts, matmul_qgemm.ts, matmul_q.ts gemvQ):
//  · repack then kernel dequantization equals bindings/gguf/dequant.ts bit for bit, for every supported GGUF type,
//    on random blocks with adversarial scales (±0, subnormal, largest finite f16, negative) and all-min / all-max codes;
//  · matmulQ equals matmul on the dequantized matrix bit for bit (odd N, M = 1, 2, 3, 64, K = 32, 96, 4096, every fmt,
//    scratch sizes that force many panels);
//  · gemvQ (fmt 4, 8, 6) equals the same arithmetic in doubles on the same int8 activations, with B % 4 ≠ 0 tails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeRig, bitsOf } from './helpers.js';
import { dequantize } from '../bindings/gguf/dequant.js';
import { typeInfo } from '../bindings/gguf/types.js';
import { f16Nearest } from '../bindings/codec/numerics.js';
import { Rng } from '../bindings/util/rng.js';
import { hasRelaxedSimd } from '../bindings/kernels.js';
import { packedFormatOf, packedRowBytes, qgemmScratchBytes, repackMatrix, type PackedFormat } from '../bindings/tp/repack.js';

type K = Record<string, (...a: number[]) => number>;
const TYPES: [string, number][] = [['F32', 0], ['F16', 1], ['BF16', 30], ['Q4_0', 2], ['Q4_1', 3], ['Q5_0', 6], ['Q5_1', 7], ['Q8_0', 8], ['Q4_K', 12], ['Q5_K', 13], ['Q6_K', 14]];
// f16 scale fields of each block type (byte offsets) and the code bytes (start, end)
const SCALES: Record<string, number[]> = { Q4_0: [0], Q4_1: [0, 2], Q5_0: [0], Q5_1: [0, 2], Q8_0: [0], Q4_K: [0, 2], Q5_K: [0, 2], Q6_K: [208] };
const CODES: Record<string, [number, number]> = { Q4_0: [2, 18], Q4_1: [4, 20], Q5_0: [2, 22], Q5_1: [4, 24], Q8_0: [2, 34], Q4_K: [16, 144], Q5_K: [16, 176], Q6_K: [0, 208] };
const ADVERSARIAL = [0x0000, 0x8000, 0x0001, 0x8003, 0x03ff, 0x7bff, 0xfbff, 0x0400];

/** Random GGUF bytes for rows × K values; scale fields are adversarial in about half the blocks, codes all-0x00 or
 *  all-0xff in some (all-min / all-max codes; for Q8_0 / Q6_K these are 0 / −1, so a few bytes get ±127 too). */
function ggufRandom(rng: Rng, name: string, rows: number, K: number, moderate = false): Uint8Array {
  const t = typeInfo(TYPES.find(([n]) => n === name)![1]), blocks = rows * K / t.blockSize, out = new Uint8Array(blocks * t.blockBytes);
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(rng.next() * 256);
  const dv = new DataView(out.buffer);
  if (name === 'F32') for (let i = 0; i < rows * K; i++) dv.setFloat32(4 * i, rng.next() < 0.1 ? [0, -0, 1e-40, -3e38][i & 3] : rng.normal(), true);
  if (!SCALES[name]) return out;
  for (let b = 0; b < blocks; b++) {
    const p = b * t.blockBytes;
    for (const s of SCALES[name]) {
      const v = moderate ? f16Nearest((rng.next() - (s === 2 ? 1 : 0.3)) * 0.02) : rng.next() < 0.5 ? ADVERSARIAL[Math.floor(rng.next() * ADVERSARIAL.length)] : f16Nearest(rng.normal() * 0.05);
      dv.setUint16(p + s, v, true);
    }
    const u = rng.next(), [c0, c1] = CODES[name];
    if (!moderate && u < 0.15) out.fill(u < 0.07 ? 0x00 : 0xff, p + c0, p + c1);
  }
  return out;
}

test('repack + dequantRows equal dequantize() bit for bit, every GGUF type, whole rows and column ranges', async () => {
  const { kernels, arena } = await makeRig(64 << 20);
  const k = kernels as unknown as K, rng = new Rng(5);
  for (const [name, type] of TYPES) {
    const rows = 7, Kd = 512, fmt = packedFormatOf(type);
    const src = ggufRandom(rng, name, rows, Kd);
    const want = new Float32Array(rows * Kd);
    dequantize(type, src, rows * Kd, want);
    for (const [k0, k1] of [[0, Kd], [96, 416], [256, 288]]) {
      const W = k1 - k0, rb = packedRowBytes(fmt, W), w = arena.alloc(rows * rb), out = arena.alloc(4 * rows * W);
      repackMatrix(type, src, rows, Kd, arena.u8(w, rows * rb), k0, k1);
      k.dequantRows(fmt, w, W, rows, out);
      const got = bitsOf(arena.f32(out, rows * W));
      const exp = bitsOf(Float32Array.from({ length: rows * W }, (_, i) => want[Math.floor(i / W) * Kd + k0 + (i % W)]));
      for (let i = 0; i < got.length; i++) {
        if (got[i] === exp[i]) continue;
        // Q4_0 only: an exact zero may be +0 where ggml gives −0 (repack.ts says why no matmul can see it)
        const zeroSign = name === 'Q4_0' && ((got[i] | exp[i]) >>> 0) === 0x80000000 && (got[i] & exp[i]) === 0;
        assert.ok(zeroSign, `${name} [${k0}, ${k1}) element ${i}: ${got[i].toString(16)} vs ggml ${exp[i].toString(16)}`);
      }
    }
  }
});

test('packed formats: sizes, unsupported types and short buffers are named errors', () => {
  assert.equal(packedRowBytes(4, 4096), 128 * 24);
  assert.equal(packedRowBytes(8, 4096), 128 * 40);
  assert.equal(packedRowBytes(6, 4096), 128 * 40);
  assert.equal(packedRowBytes(0, 100), 400);
  assert.equal(qgemmScratchBytes(4096) % (8 * 4 * 4096), 0);
  assert.throws(() => packedFormatOf(10), /Q2_K|type 10|no packed format/);
  assert.throws(() => repackMatrix(12, new Uint8Array(143), 1, 256, new Uint8Array(1024)), /fewer than/);
  assert.throws(() => repackMatrix(12, new Uint8Array(144), 1, 256, new Uint8Array(10)), /destination/);
  assert.throws(() => repackMatrix(8, new Uint8Array(34), 1, 32, new Uint8Array(40), 0, 16), /column range/);
});

for (const flavor of hasRelaxedSimd() ? ['simd', 'relaxed'] as const : ['simd'] as const)
test(`matmulQ (${flavor}) equals matmul on the dequantized matrix bit for bit, every fmt, odd shapes, many panels`, async () => {
  const { kernels, arena } = await makeRig(256 << 20, flavor);
  const k = kernels as unknown as K, rng = new Rng(11);
  // type per fmt; K-quant sources come from 256-wide rows cut to [0, K) when K is not a multiple of 256
  const sources: [string, number][] = [['F16', 1], ['Q4_K', 12], ['Q4_0', 2], ['Q5_K', 13], ['Q8_0', 8], ['Q6_K', 14]];
  const shapes: [number, number, number][] = [[1, 32, 5], [2, 96, 37], [3, 4096, 19], [64, 96, 41], [1, 4096, 45], [64, 4096, 13], [5, 32, 8], [2, 4096, 64]];
  for (const [M, Kd, N] of shapes) {
    const x = arena.alloc(4 * M * Kd), y = arena.alloc(4 * M * N), yRef = arena.alloc(4 * M * N), deq = arena.alloc(4 * N * Kd);
    arena.f32(x, M * Kd).set(Float32Array.from({ length: M * Kd }, () => rng.normal()));
    for (const [name, type] of sources) {
      const fmt = packedFormatOf(type), full = typeInfo(type).blockSize === 256 ? Math.ceil(Kd / 256) * 256 : Kd;
      const src = ggufRandom(rng, name, N, full, true), rb = packedRowBytes(fmt, Kd), w = arena.alloc(N * rb);
      repackMatrix(type, src, N, full, arena.u8(w, N * rb), 0, Kd);
      // the reference: today's f32 path, matmul on dequantize()'s output (columns [0, K) of the source rows)
      const all = new Float32Array(N * full), cut = arena.f32(deq, N * Kd);
      dequantize(type, src, N * full, all);
      for (let n = 0; n < N; n++) cut.set(all.subarray(n * full, n * full + Kd), n * Kd);
      k.matmul(x, M, Kd, deq, N, yRef);
      for (const scratchRows of [8, 16, 24, Math.max(8, qgemmScratchBytes(Kd) / (4 * Kd))]) {
        const sb = scratchRows * 4 * Kd + 4 * 5, scratch = arena.alloc(sb); // + 20: not a whole row more, still scratchRows
        arena.f32(y, M * N).fill(NaN);
        k.matmulQ(fmt, x, M, Kd, w, N, y, scratch, sb);
        const got = bitsOf(arena.f32(y, M * N)), exp = bitsOf(arena.f32(yRef, M * N));
        for (let i = 0; i < got.length; i++) assert.equal(got[i], exp[i], `${name} fmt ${fmt} ${M}×${Kd}×${N} panel ${scratchRows} [${i}]`);
      }
    }
  }
});

/** The GEMV's arithmetic in doubles from the packed bytes and the int8 activations: Σ blocks (Σ q_w q_x) d dx + m sx. */
function gemvRef(fmt: PackedFormat, row: Uint8Array, K: number, q8: Int8Array, d8: Float32Array, s8: Float32Array): { v: number; a: number } {
  const B = K / 32, f = new Float32Array(row.buffer, row.byteOffset, row.length >> 2), i8 = new Int8Array(row.buffer, row.byteOffset, row.length);
  let v = 0, a = 0;
  for (let b = 0; b < B; b++) {
    const code = (j: number) => fmt === 4 ? (j < 16 ? row[16 * b + j] & 15 : row[16 * b + j - 16] >> 4) : i8[32 * b + j];
    const half = [0, 0];
    for (let j = 0; j < 32; j++) half[j >> 4] += code(j) * q8[32 * b + j];
    let t: number[];
    if (fmt === 6) t = [half[0] * f[8 * B + 2 * b] * d8[b], half[1] * f[8 * B + 2 * b + 1] * d8[b]];
    else {
      const ds = fmt === 4 ? 4 * B : 8 * B;
      t = [(half[0] + half[1]) * f[ds + b] * d8[b], f[ds + B + b] * s8[b]];
    }
    for (const u of t) { v += u; a += Math.abs(u); }
  }
  return { v, a };
}

for (const flavor of hasRelaxedSimd() ? ['simd', 'relaxed'] as const : ['simd'] as const)
test(`gemvQ (${flavor}) fmt 4 / 8 / 6 equals the same arithmetic in doubles (int8 activations), tails and odd N`, async () => {
  const { kernels, arena } = await makeRig(64 << 20, flavor);
  const k = kernels as unknown as K, rng = new Rng(13);
  const sources: [string, number][] = [['Q4_K', 12], ['Q4_1', 3], ['Q5_K', 13], ['Q8_0', 8], ['Q5_1', 7], ['Q6_K', 14]];
  // 18 blocks: four 4-block steps and a 2-block tail; 3: the tail alone; 5: one step and one tail block; 128: 4096
  for (const Kd of [576, 96, 160, 4096]) {
    const N = 37, B = Kd / 32;
    const x = arena.alloc(4 * Kd), xq = arena.alloc(3 * Kd), dx = arena.alloc(4 * B), sx = arena.alloc(4 * B), y = arena.alloc(4 * N);
    arena.f32(x, Kd).set(Float32Array.from({ length: Kd }, () => rng.normal() * (rng.next() < 0.02 ? 20 : 1)));
    k.quantizeX(x, Kd, xq, dx, sx);
    const q8 = new Int8Array(arena.memory.buffer, xq, Kd).slice(), d8 = arena.f32(dx, B).slice(), s8 = arena.f32(sx, B).slice();
    for (const [name, type] of sources) {
      const fmt = packedFormatOf(type), full = typeInfo(type).blockSize === 256 ? Math.ceil(Kd / 256) * 256 : Kd;
      const src = ggufRandom(rng, name, N, full, true), rb = packedRowBytes(fmt, Kd), w = arena.alloc(N * rb);
      repackMatrix(type, src, N, full, arena.u8(w, N * rb), 0, Kd);
      k.gemvQ(fmt, xq, dx, sx, Kd, w, N, y);
      const got = arena.f32(y, N), packed = arena.u8(w, N * rb).slice();
      if (fmt === 4) { // gemvQ's two-row fmt 4 path does gemvQ4_1's arithmetic per row: the same bits
        const y1 = arena.alloc(4 * N);
        k.gemvQ4_1(xq, dx, sx, Kd, w, N, y1);
        assert.deepEqual(bitsOf(arena.f32(y1, N)), bitsOf(got), `${name}: gemvQ fmt 4 vs gemvQ4_1`);
      }
      for (let n = 0; n < N; n++) {
        const { v, a } = gemvRef(fmt, packed.subarray(n * rb, (n + 1) * rb), Kd, q8, d8, s8);
        assert.ok(Math.abs(got[n] - v) <= 1e-5 * a + 1e-30, `${name} fmt ${fmt} K ${Kd} row ${n}: ${got[n]} vs ${v} (Σ|terms| ${a})`);
      }
    }
  }
});
