// Codec 7 (block-Hadamard rotation, docs/wire-format.md §9) and raw outlier-token rows of the static codecs (§10):
// semantics the generic fuzz in codec.test.ts does not pin down. SIMD vs reference equality runs here too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { makeRig, bitsOf } from './helpers.js';
import { makeContext, parseCodec, staticParamsFromRange, CodecContext } from '../bindings/codec/spec.js';
import { encodeReference, decodeReference } from '../bindings/codec/reference.js';
import { rotForward, rotInverse } from '../bindings/codec/rotated.js';
import { SimdCodec } from '../bindings/codec/simd.js';
import { f32FromBf16, bf16Nearest } from '../bindings/codec/numerics.js';
import { CodecId, readHeader, rotBlocks, rotGroups } from '../bindings/codec/wire.js';
import { FeatureRanges, outlierRows } from '../bindings/calibrate/ranges.js';
import { LEVEL_BITS, LLOYD_MAX, levels, thresholds } from '../bindings/codec/levels.js';

const rig = await makeRig(64 << 20);
const src = rig.arena.alloc(4 * 200_000), dst = rig.arena.alloc(8 * 200_000 + 65536), out = rig.arena.alloc(4 * 200_000);

function simdRoundTrip(ctx: CodecContext, x: Float32Array, T: number): { bytes: Uint8Array; dec: Float32Array } {
  const c = new SimdCodec(rig.kernels, rig.arena, ctx);
  rig.arena.f32(src, x.length).set(x);
  const n = c.encode(src, T, dst, c.maxEncodedBytes(T));
  c.decode(dst, n, out, x.length, false);
  return { bytes: rig.arena.u8(dst, n).slice(), dec: rig.arena.f32(out, x.length).slice() };
}
const gauss = (seed: number) => { let s = seed >>> 0; return () => { let g = 0; for (let k = 0; k < 6; k++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; g += s / 2 ** 32; } return g - 3; }; };

test('§9 blocks: R-blocks then descending powers of two cover every feature once; group counts', () => {
  for (const F of [1, 7, 64, 96, 127, 128, 192, 576, 577, 640]) for (const R of [64, 128]) {
    const b = rotBlocks(F, R);
    let a = 0;
    for (const { start, width } of b) { assert.equal(start, a); assert.ok(width <= R && (width & (width - 1)) === 0); assert.equal(start % width, 0); a += width; }
    assert.equal(a, F);
  }
  assert.deepEqual(rotBlocks(192, 128).map((b) => b.width), [128, 64]);
  assert.equal(rotGroups(576, 128, 64), 4 * 2 + 1);
});

test('§9 rotation is exact-inverse-friendly: inverse(forward(x)) = x up to f32 rounding, exactly for small integers', () => {
  for (const w of [1, 2, 4, 8, 64, 128]) {
    const x = Float32Array.from({ length: w }, (_, i) => ((i * 7) % 11) - 5);
    const y = x.slice();
    rotForward(y, 0, w); rotInverse(y, 0, w);
    assert.deepEqual(Array.from(y, (v) => v + 0), Array.from(x, (v) => v + 0), `w=${w}`); // ±0 compare equal
  }
});

test('§9 a NaN/±Inf (or an overflowing) block is sent raw in f32: exact there, the other blocks stay finite and coded', () => {
  const F = 576, T = 3;
  for (const name of ['rot128-int4-g128', 'outlier-rot64-int3-g64', 'rot128-int4-g128-lm']) {
    const ctx = makeContext(parseCodec(name), F, { outliers: name.startsWith('outlier') ? [3, 200, 500] : [] });
    const g = gauss(1), x = Float32Array.from({ length: T * F }, () => g());
    x[10] = NaN; x[F + 300] = Infinity; x[2 * F + 520] = 3e38; x[2 * F + 521] = 3e38; // the last two overflow in the butterflies
    const blk = encodeReference(ctx, x, T);
    const h = readHeader(blk);
    assert.equal(h.codec, CodecId.Rotated);
    assert.equal(h.exceptions, 3, `${name}: three raw blocks`);
    const dec = new Float32Array(T * F);
    decodeReference(ctx, blk, dec, false);
    const R = parseCodec(name).rotate!, isOut = (f: number) => ctx.isOutlier[f] === 1;
    const rawBlock = (t: number, f: number) => (t === 0 && f < R) || (t === 1 && f >= 256 && f < 256 + R) || (t === 2 && f >= 512);
    for (let t = 0; t < T; t++) for (let f = 0; f < F; f++) {
      const i = t * F + f;
      if (isOut(f)) continue;
      if (rawBlock(t, f) && R === 128 || (R === 64 && ((t === 0 && f < 64) || (t === 1 && f >= 256 && f < 320) || (t === 2 && f >= 512)))) {
        if (Number.isNaN(x[i])) assert.ok(Number.isNaN(dec[i])); else assert.equal(dec[i], x[i], `${name} raw ${t},${f}`);
      } else assert.ok(Number.isFinite(dec[i]) && Math.abs(dec[i] - x[i]) < 1.5, `${name} coded ${t},${f}: ${dec[i]} vs ${x[i]}`);
    }
    const simd = simdRoundTrip(ctx, x, T);
    assert.deepEqual(simd.bytes, blk);
    assert.deepEqual(bitsOf(simd.dec), bitsOf(dec));
    // decode-accumulate adds NaN/Inf as an exact sum would
    const acc = new Float32Array(T * F).fill(1);
    decodeReference(ctx, blk, acc, true);
    assert.ok(Number.isNaN(acc[10]) && acc[F + 300] === Infinity && acc[2 * F + 520] === Math.fround(3e38 + 1));
  }
});

test('§9 rotation lowers the error of int4 on activations with outlier features (vs the same bits without rotation)', () => {
  const F = 576, T = 32, g = gauss(5);
  const x = Float32Array.from({ length: T * F }, (_, i) => g() * ([17, 250, 400].includes(i % F) ? 60 : 1));
  const err = (name: string) => {
    const ctx = makeContext(parseCodec(name), F);
    const d = new Float32Array(T * F);
    decodeReference(ctx, encodeReference(ctx, x, T), d, false);
    let e = 0; for (let i = 0; i < d.length; i++) e += (d[i] - x[i]) ** 2;
    return e;
  };
  assert.ok(err('rot128-int4-g128') < 0.5 * err('int4-g128-sym'), `${err('rot128-int4-g128')} vs ${err('int4-g128-sym')}`);
});

test('§9 SIMD = reference on odd shapes and outlier sets, random and adversarial values', () => {
  const names = ['rot64-int4-g16', 'rot128-int4-g64', 'rot128-int3-g128', 'outlier-rot128-int4-g32-f16', 'outlier-rot64-int2-g64-idx', 'rot128-int8-g128',
    'rot128-int4-g128-lm', 'rot64-int3-g16-lm', 'outlier-rot64-int2-g64-lm-idx', 'rot128-int4-g128-ec', 'rot64-int3-g16-ec', 'outlier-rot64-int6-g64-ec-idx',
    'rot128-int4-row-ec', 'rot64-int3-row-ec', 'outlier-rot64-int6-row-ec-idx', 'outlier-rot128-int2-row-ec-k2', 'rot128-int5-row-ec'];
  fc.assert(fc.property(fc.constantFrom(...names), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 4 }), fc.nat(100), (name, F, T, seed) => {
    const spec = parseCodec(name), g = gauss(seed);
    const outliers = spec.rotOutliers ? [...new Set([seed % F, (seed * 7) % F, F - 1])].sort((a, b) => a - b) : [];
    const ctx = makeContext(spec, F, { outliers });
    const x = Float32Array.from({ length: T * F }, (_, i) => (i % 37 === seed % 37 ? [NaN, Infinity, -0, 1e-42, 6e37][seed % 5] : g() * (1 + (i % 5) ** 3)));
    const blk = encodeReference(ctx, x, T), dec = new Float32Array(T * F);
    decodeReference(ctx, blk, dec, false);
    const simd = simdRoundTrip(ctx, x, T);
    assert.deepEqual(simd.bytes, blk, `${name} ${T}×${F}`);
    assert.deepEqual(bitsOf(simd.dec), bitsOf(dec));
  }), { numRuns: 300, seed: 12 });
});

test('§9 fused 64/128 blocks (one pass for stages h ≤ 16, one for the rest, range check on the way): SIMD = reference on edge blocks', () => {
  // Each 128-value row block is one adversarial case: butterfly overflow from finite values, a value past 2^100 that
  // the block's sum cancels, NaN next to huge values, -0 and subnormals, one spike per 32-value octet (the group
  // maxima of g32/g64 come from the fused pass), and plain Gaussian values. F = 6·128 + 64 + 32 adds a fused 64-block
  // and an unfused tail.
  const g = gauss(77), F = 6 * 128 + 64 + 32, T = 3;
  const x = Float32Array.from({ length: T * F }, () => g());
  const put = (t: number, b: number, f: (i: number) => number) => { for (let i = 0; i < 128; i++) x[t * F + b * 128 + i] = f(i); };
  put(0, 0, () => 3e38);                                // finite, the butterflies overflow to Inf
  put(0, 1, (i) => (i < 2 ? (i ? -2e30 : 2e30) : 0));   // past 2^100, the block sums to 0
  put(0, 2, (i) => (i === 5 ? NaN : i === 6 ? 1e29 : 1)); // NaN: the max alone would miss it
  put(1, 0, (i) => (i % 2 ? -0 : 1e-42));
  put(1, 1, (i) => (i % 32 === 7 ? 50 * (1 + (i >> 5)) : g()));
  put(2, 3, (i) => (i === 127 ? -Infinity : g()));
  for (const name of ['rot128-int4-g128', 'rot128-int3-g32', 'rot128-int5-g64', 'rot64-int4-g64', 'outlier-rot128-int4-g32', 'rot128-int4-g128-lm',
    'rot128-int4-g128-ec', 'rot64-int2-g32-ec', 'rot128-int4-row-ec', 'rot64-int6-row-ec']) {
    const spec = parseCodec(name);
    const ctx = makeContext(spec, F, { outliers: spec.rotOutliers ? [3, 200, 860] : [] });
    for (const rows of [x.subarray(F, 2 * F), x]) { // row 1 alone has no raw block (-ec codes it); all rows have
      const n = rows.length / F, blk = encodeReference(ctx, rows, n), dec = new Float32Array(rows.length);
      decodeReference(ctx, blk, dec, false);
      const simd = simdRoundTrip(ctx, rows, n);
      assert.deepEqual(simd.bytes, blk, `${name} ${n} rows`);
      assert.deepEqual(bitsOf(simd.dec), bitsOf(dec), `${name} ${n} rows`);
    }
  }
  // the raw blocks: the overflow, the 2^100 one, the NaN one, the -Inf one (rot128 without outliers)
  assert.equal(readHeader(encodeReference(makeContext(parseCodec('rot128-int4-g128'), F, { outliers: [] }), x, T)).exceptions, 4);
});

test('§10 outlier-token rows: a row far outside the calibrated range is sent raw in bf16, others coded; SIMD = reference', () => {
  const F = 96, T = 20, spec = parseCodec('outlier-int4-static-rows');
  const outliers = [5, 50];
  const C = F - outliers.length;
  const ctx = makeContext(spec, F, { outliers, ...staticParamsFromRange(new Array(C).fill(-4), new Array(C).fill(4), 4) });
  const g = gauss(3), x = Float32Array.from({ length: T * F }, () => g());
  x[0 * F + 10] = 24500; x[0 * F + 11] = -900;  // row 0: the massive first token
  x[7 * F + 30] = 9;                             // row 7: slightly out of range (clips, not raw)
  x[12 * F + 40] = 800;                          // row 12: raw too, but the cap is ⌈20/16⌉ = 2
  x[15 * F + 41] = -800;                         // row 15: beyond the cap, clips
  const blk = encodeReference(ctx, x, T), h = readHeader(blk);
  assert.equal(h.rawRows, 2);
  const dec = new Float32Array(T * F);
  decodeReference(ctx, blk, dec, false);
  for (const t of [0, 12]) for (let f = 0; f < F; f++) assert.equal(dec[t * F + f], f32FromBf16(bf16Nearest(x[t * F + f])));
  assert.ok(Math.abs(dec[7 * F + 30] - 4) < 0.6, 'row 7 clips');
  assert.ok(dec[15 * F + 41] < -3.4 && dec[15 * F + 41] > -4.6, 'row 15 clips (cap reached)');
  const simd = simdRoundTrip(ctx, x, T);
  assert.deepEqual(simd.bytes, blk);
  assert.deepEqual(bitsOf(simd.dec), bitsOf(dec));
  // Without -rows the same codec clips row 0 to the range.
  const plain = makeContext(parseCodec('outlier-int4-static'), F, { outliers, ...staticParamsFromRange(new Array(C).fill(-4), new Array(C).fill(4), 4) });
  const d2 = new Float32Array(T * F);
  decodeReference(plain, encodeReference(plain, x, T), d2, false);
  assert.ok(d2[10] < 5);
});

test('calibration: outlier-token rows are detected and kept out of the -rows ranges, not out of the plain ones', () => {
  const F = 16, T = 32, x = new Float32Array(T * F);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i) * 3;
  x[3] = 24500; x[5] = -600;
  assert.deepEqual(outlierRows(x, T, F), [0]);
  const r = new FeatureRanges(F, 0.9);
  r.update(x, T);
  assert.equal(r.hi[3], 24500);
  assert.ok(r.hiRows[3] <= 3 && r.loRows[5] >= -3);
  assert.equal(r.rowsSkipped, 1);
  const j = FeatureRanges.fromJSON(JSON.parse(JSON.stringify(r.toJSON())));
  assert.deepEqual(Array.from(j.withoutOutlierRows().hi), Array.from(r.hiRows));
});

test('§9 -lm: the level tables are the Gaussian Lloyd–Max levels over the outermost; they cut the error of uniform levels', () => {
  for (const b of LEVEL_BITS) {
    const h = LLOYD_MAX[b], o = h[h.length - 1];
    assert.deepEqual(Array.from(levels(b)), [...h.map((x) => -x).reverse(), ...h].map((x) => Math.fround(x / o)));
    assert.ok(thresholds(b).every((m, k) => m > levels(b)[k] && m < levels(b)[k + 1]));
  }
  assert.throws(() => parseCodec('rot128-int5-g128-lm'), /exist for 2, 3, 4 bits/);
  const F = 512, T = 64, g = gauss(9), x = Float32Array.from({ length: T * F }, () => g());
  const err = (name: string) => {
    const ctx = makeContext(parseCodec(name), F), y = new Float32Array(T * F);
    decodeReference(ctx, encodeReference(ctx, x, T), y, false);
    return y.reduce((s, v, i) => s + (v - x[i]) ** 2, 0);
  };
  for (const b of [3, 4]) assert.ok(err(`rot128-int${b}-g128-lm`) < 0.85 * err(`rot128-int${b}-g128`), `${b} bits: ${err(`rot128-int${b}-g128-lm`)} vs ${err(`rot128-int${b}-g128`)}`);
});
