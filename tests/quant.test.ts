// Packed quantized weights (bindings/tp/repack.ts → assembly/dequant.ts, matmul_qgemm.ts, matmul_q.ts gemvQ):
//  · repack then kernel dequantization equals bindings/gguf/dequant.ts bit for bit, for every supported GGUF type,
//    on random blocks with adversarial scales (±0, subnormal, largest finite f16, negative) and all-min / all-max codes;
//  · matmulQ equals matmul on the dequantized matrix bit for bit (odd N, M = 1, 2, 3, 64, K = 32, 96, 4096, every fmt,
//    scratch sizes that force many panels);
//  · gemvQ (fmt 4, 8, 6) equals the same arithmetic in doubles on the same int8 activations, with B % 4 ≠ 0 tails;
//  · the compact K-quant formats 5 (Q4_K) and 7 (Q6_K): the same three checks, on whole rows and super-block-aligned
//    column slices ([256, 768)), adversarial sub-block scales (all 0 / all 63 scales and mins, i8 extremes), B = 8 … 448.
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
    // K-quant sub-block scales: all 0 / all 63 (Q4_K, Q5_K: every 6-bit scale and min), i8 extremes (Q6_K)
    const v = rng.next();
    if (!moderate && v < 0.2 && (name === 'Q4_K' || name === 'Q5_K')) out.fill(v < 0.1 ? 0x00 : 0xff, p + 4, p + 16);
    if (!moderate && v < 0.2 && name === 'Q6_K') out.fill([0x00, 0x80, 0x7f, 0xff][Math.floor(v * 20)], p + 192, p + 208);
  }
  return out;
}

test('repack + dequantRows equal dequantize() bit for bit, every GGUF type, whole rows and column ranges', async () => {
  const { kernels, arena } = await makeRig(64 << 20);
  const k = kernels as unknown as K, rng = new Rng(5);
  for (const [name, type] of TYPES) {
    const rows = 7, Kd = 1024;
    const src = ggufRandom(rng, name, rows, Kd);
    const want = new Float32Array(rows * Kd);
    dequantize(type, src, rows * Kd, want);
    // aligned slices: the compact format (Q4_K → 5, Q6_K → 7) and the 32-block one; unaligned: the 32-block one
    for (const [k0, k1, fmt] of [[0, Kd], [96, 416], [256, 288], [256, 768], [512, 768]].flatMap(([k0, k1]) => {
      const aligned = k0 % 256 === 0 && (k1 - k0) % 256 === 0;
      return [...new Set([packedFormatOf(type, aligned), packedFormatOf(type, false)])].map((f) => [k0, k1, f] as [number, number, PackedFormat]);
    })) {
      const W = k1 - k0, rb = packedRowBytes(fmt, W), w = arena.alloc(rows * rb), out = arena.alloc(4 * rows * W);
      repackMatrix(type, src, rows, Kd, arena.u8(w, rows * rb), k0, k1, fmt);
      k.dequantRows(fmt, w, W, rows, out);
      const got = bitsOf(arena.f32(out, rows * W));
      const exp = bitsOf(Float32Array.from({ length: rows * W }, (_, i) => want[Math.floor(i / W) * Kd + k0 + (i % W)]));
      for (let i = 0; i < got.length; i++) {
        if (got[i] === exp[i]) continue;
        // Q4_0 only: an exact zero may be +0 where ggml gives −0 (repack.ts says why no matmul can see it)
        const zeroSign = name === 'Q4_0' && ((got[i] | exp[i]) >>> 0) === 0x80000000 && (got[i] & exp[i]) === 0;
        assert.ok(zeroSign, `${name} fmt ${fmt} [${k0}, ${k1}) element ${i}: ${got[i].toString(16)} vs ggml ${exp[i].toString(16)}`);
      }
    }
  }
});

test('packed formats: sizes, unsupported types and short buffers are named errors', () => {
  assert.equal(packedRowBytes(4, 4096), 128 * 24);
  assert.equal(packedRowBytes(8, 4096), 128 * 40);
  assert.equal(packedRowBytes(6, 4096), 128 * 40);
  assert.equal(packedRowBytes(0, 100), 400);
  assert.equal(packedRowBytes(5, 4096), 16 * 152); // 19 B per 32 values (Q4_K: 18)
  assert.equal(packedRowBytes(7, 4096), 16 * 212); // 26.5 B per 32 values (Q6_K: 26.25)
  assert.equal(packedFormatOf(12), 5); assert.equal(packedFormatOf(12, false), 4);
  assert.equal(packedFormatOf(14), 7); assert.equal(packedFormatOf(14, false), 6);
  assert.equal(packedFormatOf(13), 8); assert.equal(packedFormatOf(8, true), 8);
  assert.throws(() => packedRowBytes(5, 288), /multiple of 256/);
  assert.throws(() => repackMatrix(12, new Uint8Array(288), 1, 512, new Uint8Array(1024), 0, 512, 8), /cannot be packed as fmt 8/);
  assert.throws(() => repackMatrix(12, new Uint8Array(288), 1, 512, new Uint8Array(1024), 32, 288, 5), /column range/);
  // the default format follows the slice: unaligned Q4_K slices get fmt 4
  { const d = new Uint8Array(24); repackMatrix(12, new Uint8Array(144), 1, 256, d, 32, 64); }
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
  // [M, K, N, k0]: columns [k0, k0 + K) of the source rows (k0 = 256, K = 512: the row-parallel slice [256, 768))
  const shapes: [number, number, number, number][] = [[1, 32, 5, 0], [2, 96, 37, 0], [3, 4096, 19, 0], [64, 96, 41, 0], [1, 4096, 45, 0], [64, 4096, 13, 0], [5, 32, 8, 0], [2, 4096, 64, 0],
    [1, 256, 7, 0], [2, 768, 9, 0], [3, 512, 11, 256], [64, 768, 5, 0], [1, 512, 33, 256], [64, 512, 3, 256]];
  for (const [M, Kd, N, k0] of shapes) {
    const x = arena.alloc(4 * M * Kd), y = arena.alloc(4 * M * N), yRef = arena.alloc(4 * M * N), deq = arena.alloc(4 * N * Kd);
    arena.f32(x, M * Kd).set(Float32Array.from({ length: M * Kd }, () => rng.normal()));
    for (const [name, type] of sources) for (const fmt of new Set([packedFormatOf(type, k0 % 256 === 0 && Kd % 256 === 0), packedFormatOf(type, false)])) {
      const full = typeInfo(type).blockSize === 256 ? Math.ceil((k0 + Kd) / 256) * 256 : k0 + Kd;
      const src = ggufRandom(rng, name, N, full, true), rb = packedRowBytes(fmt, Kd), w = arena.alloc(N * rb);
      repackMatrix(type, src, N, full, arena.u8(w, N * rb), k0, k0 + Kd, fmt);
      // the reference: today's f32 path, matmul on dequantize()'s output (columns [k0, k0 + K) of the source rows)
      const all = new Float32Array(N * full), cut = arena.f32(deq, N * Kd);
      dequantize(type, src, N * full, all);
      for (let n = 0; n < N; n++) cut.set(all.subarray(n * full + k0, n * full + k0 + Kd), n * Kd);
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
  if (fmt === 5 || fmt === 7) { // compact formats: per block, its record's codes and scales (matmul_qk.ts's layout)
    for (let b = 0; b < B; b++) {
      const j = b & 7, r = (b >> 3) * (fmt === 5 ? 152 : 212), c = r + 16 * j, H = r + 128 + 16 * (j >> 1), sh = 2 * (j & 1);
      const nib = (e: number) => e < 16 ? row[c + e] & 15 : row[c + e - 16] >> 4;
      const half = [0, 0];
      for (let e = 0; e < 32; e++) {
        const code = fmt === 5 ? nib(e) : nib(e) + 16 * (e < 16 ? (row[H + e] >> (4 + sh)) & 3 : (row[H + e - 16] >> sh) & 3) - 32;
        half[e >> 4] += code * q8[32 * b + e];
      }
      const t = fmt === 5
        ? [(half[0] + half[1]) * f[r / 4 + 36] * row[r + 128 + j] * d8[b], -f[r / 4 + 37] * row[r + 136 + j] * s8[b]]
        : [half[0] * f[r / 4 + 52] * i8[r + 192 + 2 * j] * d8[b], half[1] * f[r / 4 + 52] * i8[r + 193 + 2 * j] * d8[b]];
      for (const u of t) { v += u; a += Math.abs(u); }
    }
    return { v, a };
  }
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
test(`gemvQ (${flavor}) fmt 4 / 5 / 6 / 7 / 8 equals the same arithmetic in doubles (int8 activations), tails and odd N`, async () => {
  const { kernels, arena } = await makeRig(64 << 20, flavor);
  const k = kernels as unknown as K, rng = new Rng(13);
  const sources: [string, number][] = [['Q4_K', 12], ['Q4_1', 3], ['Q5_K', 13], ['Q8_0', 8], ['Q5_1', 7], ['Q6_K', 14]];
  // 18 blocks: four 4-block steps and a 2-block tail; 3: the tail alone; 5: one step and one tail block; 128: 4096
  // compact formats (whole super-blocks): B = 8, 16, 24, 128, 448
  for (const Kd of [576, 96, 160, 4096, 256, 512, 768, 14336]) {
    const N = 37, B = Kd / 32;
    const x = arena.alloc(4 * Kd), xq = arena.alloc(3 * Kd), dx = arena.alloc(4 * B), sx = arena.alloc(4 * B), y = arena.alloc(4 * N);
    arena.f32(x, Kd).set(Float32Array.from({ length: Kd }, () => rng.normal() * (rng.next() < 0.02 ? 20 : 1)));
    k.quantizeX(x, Kd, xq, dx, sx);
    const q8 = new Int8Array(arena.memory.buffer, xq, Kd).slice(), d8 = arena.f32(dx, B).slice(), s8 = arena.f32(sx, B).slice();
    for (const [name, type] of sources) for (const fmt of new Set([packedFormatOf(type, Kd % 256 === 0), packedFormatOf(type, false)])) {
      const full = typeInfo(type).blockSize === 256 ? Math.ceil(Kd / 256) * 256 : Kd;
      const src = ggufRandom(rng, name, N, full, true), rb = packedRowBytes(fmt, Kd), w = arena.alloc(N * rb);
      repackMatrix(type, src, N, full, arena.u8(w, N * rb), 0, Kd, fmt);
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
