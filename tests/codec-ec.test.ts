// Codec 7's entropy-coded variant (-ec, docs/wire-format.md §12): the Huffman tables, the stream's strictness (every
// malformed stream refused by both decoders with the same code, nothing written), NaN/Inf, and what the bits buy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { makeRig, bitsOf } from './helpers.js';
import { makeContext, parseCodec, CodecContext } from '../bindings/codec/spec.js';
import { encodeReference, decodeReference } from '../bindings/codec/reference.js';
import { SimdCodec } from '../bindings/codec/simd.js';
import { CodecId, ERR, readHeader, WireFormatError } from '../bindings/codec/wire.js';
import { huffmanCode, readStream, writeStream } from '../bindings/codec/entropy.js';
import { EC_BITS, EC_ROW_BITS, EC_ROW_TABLES, EC_TABLES } from '../bindings/codec/entropy-tables.js';
import { Rng } from '../bindings/util/rng.js';

const rig = await makeRig(64 << 20);
const src = rig.arena.alloc(4 * 100_000), dst = rig.arena.alloc(8 * 100_000 + 65536), out = rig.arena.alloc(4 * 100_000);
const SENTINEL = 7.25;

function simd(ctx: CodecContext): SimdCodec { return new SimdCodec(rig.kernels, rig.arena, ctx); }
/** A codec whose scratch holds every code of a 4-row message: its decoder reads the stream once instead of twice. */
function simdOnePass(ctx: CodecContext): SimdCodec {
  const cap = rig.kernels.scratchBytes(ctx.features) + 4 * ctx.features;
  return new SimdCodec(rig.kernels, rig.arena, ctx, { ptr: rig.arena.alloc(cap), cap });
}
function simdEncode(c: SimdCodec, x: Float32Array, T: number): Uint8Array {
  rig.arena.f32(src, x.length).set(x);
  return rig.arena.u8(dst, c.encode(src, T, dst, c.maxEncodedBytes(T))).slice();
}
/** SIMD decode-accumulate into a buffer of SENTINELs: the sums, or the error (and then the buffer must be untouched). */
function simdAccumulate(c: SimdCodec, block: Uint8Array, n: number): Float32Array | WireFormatError {
  rig.arena.u8(dst, block.length).set(block);
  rig.arena.f32(out, n).fill(SENTINEL);
  try { c.decode(dst, block.length, out, n, true); } catch (e) {
    assert.ok(rig.arena.f32(out, n).every((v) => v === SENTINEL), 'a refused block wrote nothing');
    return e as WireFormatError;
  }
  return rig.arena.f32(out, n).slice();
}
function refAccumulate(ctx: CodecContext, block: Uint8Array, n: number): Float32Array | WireFormatError {
  const y = new Float32Array(n).fill(SENTINEL);
  try { decodeReference(ctx, block, y, true); } catch (e) {
    assert.ok(y.every((v) => v === SENTINEL), 'a refused block wrote nothing (reference)');
    return e as WireFormatError;
  }
  return y;
}
function agree(ctx: CodecContext, c: SimdCodec, block: Uint8Array, n: number, what: string, onePass = simdOnePass(ctx)): WireFormatError | null {
  const want = refAccumulate(ctx, block, n), got = simdAccumulate(c, block, n), got1 = simdAccumulate(onePass, block, n);
  if (got1 instanceof WireFormatError) assert.ok(got instanceof WireFormatError && got.code === got1.code, `${what}: one-pass decoder refused, two-pass did not`);
  else assert.deepEqual(bitsOf(got1), bitsOf(got as Float32Array), `${what}: one-pass and two-pass decoders differ`);
  if (want instanceof WireFormatError) {
    assert.ok(got instanceof WireFormatError, `${what}: reference refused (${want.message}), SIMD accepted`);
    assert.equal(got.code, want.code, `${what}: ${got.message} vs ${want.message}`);
    return want;
  }
  assert.ok(!(got instanceof WireFormatError), `${what}: SIMD refused (${(got as Error).message})`);
  assert.deepEqual(bitsOf(got), bitsOf(want), what);
  return null;
}
const gaussian = (seed: number, n: number) => { const r = new Rng(seed); return Float32Array.from({ length: n }, () => r.normal()); };

/** A complete prefix code: Kraft sum exactly 1, and no code is a prefix of another. */
function assertCompletePrefixCode(hc: ReturnType<typeof huffmanCode>, what: string): void {
  const { lengths, codes } = hc;
  assert.equal(lengths.reduce((s, l) => s + 2 ** -l, 0), 1, `${what}: Kraft sum`);
  for (let s = 0; s < lengths.length; s++) for (let t = 0; t < lengths.length; t++) if (s !== t && lengths[s] <= lengths[t])
    assert.notEqual(codes[t] >>> (lengths[t] - lengths[s]), codes[s], `${what}: code ${s} is a prefix of ${t}`);
}

test('§12 tables: each width is a complete prefix code over 2M + 1 codes, and its mean length on fresh Gaussian blocks is the stated one', () => {
  for (const b of EC_BITS) {
    const hc = huffmanCode(b), { M, lengths, meanBits } = EC_TABLES[b];
    assert.equal(lengths.length, 2 * M + 1);
    assertCompletePrefixCode(hc, `b=${b}`);
    const F = 512, T = 64, ctx = makeContext(parseCodec(`rot128-int${b}-g128-ec`), F);
    const blk = encodeReference(ctx, gaussian(100 + b, T * F), T);
    const streamBits = 8 * (blk.length - 32 - 2 * T * 4) / (T * F); // minus header and 4 bf16 scales per row
    assert.ok(Math.abs(streamBits - meanBits) < 0.03, `b=${b}: ${streamBits.toFixed(3)} vs ${meanBits}`);
  }
});

test('§12 the stream: any symbols round-trip; a stream cut short, with a byte too many or with padding bits set is refused', () => {
  fc.assert(fc.property(fc.constantFrom(...EC_BITS), fc.array(fc.nat(255), { minLength: 0, maxLength: 300 }), (b, raw) => {
    const hc = huffmanCode(b), syms = Uint8Array.from(raw, (v) => v % (2 * hc.M + 1));
    const s = writeStream(syms, hc);
    assert.deepEqual(readStream(s, 0, s.length, syms.length, hc), syms);
    if (s.length > 0) assert.throws(() => readStream(s, 0, s.length - 1, syms.length, hc), (e: WireFormatError) => e.code === ERR.TRUNCATED);
    const longer = new Uint8Array(s.length + 1); longer.set(s);
    assert.throws(() => readStream(longer, 0, longer.length, syms.length, hc), (e: WireFormatError) => e.code === ERR.BAD_HEADER);
    const used = syms.reduce((t, v) => t + hc.lengths[v], 0);
    if (used % 8 !== 0) { const p = s.slice(); p[p.length - 1] |= 0x80; assert.throws(() => readStream(p, 0, p.length, syms.length, hc), WireFormatError); }
  }), { numRuns: 300, seed: 5 });
});

test('§12 malformed blocks: truncated, lengthened, lying about raw blocks or with flipped stream bytes — SIMD and reference agree, nothing is written', () => {
  for (const name of ['rot128-int4-g128-ec', 'outlier-rot128-int3-g128-ec-k2', 'rot64-int6-g64-ec', 'rot128-int4-row-ec', 'outlier-rot128-int2-row-ec-k2']) {
    const F = 200, T = 3, n = F * T, x = gaussian(7, n).map((v, i) => v * (1 + (i % 9)));
    const ctx = makeContext(parseCodec(name), F, { outliers: name.startsWith('outlier') ? [4, 150] : [] }), c = simd(ctx), c1 = simdOnePass(ctx);
    const block = encodeReference(ctx, x, T);
    assert.deepEqual(simdEncode(c, x, T), block);
    assert.equal(agree(ctx, c, block, n, `${name} intact`, c1), null);
    for (let len = 0; len < block.length; len += 3) assert.ok(agree(ctx, c, block.slice(0, len), n, `${name} cut to ${len}`, c1));
    const setTotal = (b: Uint8Array, total: number) => { const v = b.slice(); new DataView(v.buffer).setUint32(28, total, true); return v; };
    const longer = new Uint8Array(block.length + 1); longer.set(block);
    assert.equal(agree(ctx, c, setTotal(longer, longer.length), n, `${name} one byte more`, c1)?.code, ERR.BAD_HEADER);
    assert.equal(agree(ctx, c, setTotal(block, block.length - 1), n, `${name} one byte less`, c1)?.code, ERR.TRUNCATED);
    const raw = block.slice(); new DataView(raw.buffer).setUint32(24, 1, true);
    assert.equal(agree(ctx, c, raw, n, `${name} claims a raw block`, c1)?.code, ERR.BAD_HEADER);
    const streamAt = readHeader(block).totalBytes - Math.floor((block.length - 32) / 2);
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: streamAt, max: block.length - 1 }), fc.nat(255)), { minLength: 1, maxLength: 4 }), (edits) => {
      const bad = block.slice();
      for (const [at, v] of edits) bad[at] = v;
      agree(ctx, c, bad, n, `${name} edited stream`, c1);
    }), { numRuns: 200, seed: 11 });
  }
});

test('§12 NaN/±Inf: the whole block goes as f32, so decode-accumulate adds every value exactly', () => {
  const F = 300, T = 2, ctx = makeContext(parseCodec('rot128-int4-g128-ec'), F), x = gaussian(3, F * T);
  x[5] = NaN; x[F + 7] = -Infinity;
  const blk = encodeReference(ctx, x, T);
  assert.equal(readHeader(blk).codec, CodecId.F32);
  assert.deepEqual(simdEncode(simd(ctx), x, T), blk);
  const acc = refAccumulate(ctx, blk, F * T) as Float32Array;
  assert.ok(Number.isNaN(acc[5]) && acc[F + 7] === -Infinity && acc[9] === Math.fround(SENTINEL + x[9]));
});

test('§12 at no more bits, -ec has less squared error than Lloyd–Max and uniform levels on Gaussian blocks', () => {
  const F = 512, T = 64, x = gaussian(42, T * F);
  const measure = (name: string) => {
    const ctx = makeContext(parseCodec(name), F), blk = encodeReference(ctx, x, T), y = new Float32Array(T * F);
    decodeReference(ctx, blk, y, false);
    return { bits: (8 * blk.length) / (T * F), err: y.reduce((s, v, i) => s + (v - x[i]) ** 2, 0) / (T * F) };
  };
  for (const b of [3, 4]) {
    const ec = measure(`rot128-int${b}-g128-ec`), lm = measure(`rot128-int${b}-g128-lm`), un = measure(`rot128-int${b}-g128`);
    assert.ok(ec.bits <= lm.bits && ec.bits <= un.bits, `${b}: ${ec.bits} bits`);
    assert.ok(ec.err < 0.8 * lm.err && ec.err < 0.65 * un.err, `${b} bits: -ec ${ec.err.toExponential(3)}, -lm ${lm.err.toExponential(3)}, uniform ${un.err.toExponential(3)}`);
  }
  assert.throws(() => parseCodec('rot128-int8-g128-ec'), /exist for 2, 3, 4, 5, 6, 7 bits/);
});

test('§13 row-step tables: complete prefix codes over 2L + 1 codes; mean length on fresh Gaussian rows as stated; one bf16 step per row', () => {
  for (const b of EC_ROW_BITS) {
    const hc = huffmanCode(b, true), { L, k, lengths, meanBits } = EC_ROW_TABLES[b];
    assert.equal(lengths.length, 2 * L + 1);
    assert.equal(L, Math.min(127, Math.ceil(8 / k)));
    assert.equal(Math.fround(k), k, `b=${b}: k is an f32`);
    assertCompletePrefixCode(hc, `b=${b}`);
    const F = 576, T = 64, ctx = makeContext(parseCodec(`rot128-int${b}-row-ec`), F);
    const blk = encodeReference(ctx, gaussian(200 + b, T * F), T);
    const streamBits = 8 * (blk.length - 32 - 2 * T) / (T * F); // minus header and one bf16 step per row
    assert.ok(Math.abs(streamBits - meanBits) < 0.03, `b=${b}: ${streamBits.toFixed(3)} vs ${meanBits}`);
  }
  assert.throws(() => parseCodec('rot128-int7-row-ec'), /row-step levels \(-row-ec\) exist for 2, 3, 4, 5, 6 bits/);
});

test('§13 a finite value whose square could overflow the row sum (past 2^56 after rotation) sends the message as f32, exactly', () => {
  const F = 300, T = 2, ctx = makeContext(parseCodec('rot128-int4-row-ec'), F), x = gaussian(9, F * T);
  x[F + 3] = 1e18;
  const blk = encodeReference(ctx, x, T);
  assert.equal(readHeader(blk).codec, CodecId.F32);
  assert.deepEqual(simdEncode(simd(ctx), x, T), blk);
  x[F + 3] = 1e15; // within the limit: coded. The row is one spike: its block rotates to ±1e15 everywhere, about 5.4
  // steps (σ = 1e15/√300, step 0.28 σ · √128), so every rotated value rounds the same way and the spike comes back
  // within half a step of 1e15 (9 %), while the row's other values (σ = 1) are lost under that step
  const ok = encodeReference(ctx, x, T), y = new Float32Array(F * T);
  assert.equal(readHeader(ok).codec, CodecId.Rotated);
  decodeReference(ctx, ok, y, false);
  assert.ok(Math.abs(y[F + 3] - 1e15) <= 0.5 / 5.4 * 1e15, `${y[F + 3]}`);
});

test('§13 one step per row beats a scale per block on rows whose blocks differ in energy (squared error at equal bits)', () => {
  // Gaussian rows of 5 blocks of 128 whose block energies differ (×0.5 … ×2 in standard deviation), as partial sums do
  const F = 640, T = 64, g = gaussian(31, T * F), x = g.map((v, i) => v * [0.5, 1, 2, 0.7, 1.4][Math.floor((i % F) / 128)]);
  const measure = (name: string) => {
    const ctx = makeContext(parseCodec(name), F), blk = encodeReference(ctx, x, T), y = new Float32Array(T * F);
    decodeReference(ctx, blk, y, false);
    return { bits: (8 * (blk.length - 32)) / (T * F), err: y.reduce((s, v, i) => s + (v - x[i]) ** 2, 0) / (T * F) };
  };
  for (const b of [3, 4, 5]) {
    const row = measure(`rot128-int${b}-row-ec`), blk = measure(`rot128-int${b}-g128-ec`);
    // error power falls 4× per bit: compare err · 4^bits, the error at a common rate
    const gain = (blk.err * 4 ** blk.bits) / (row.err * 4 ** row.bits);
    console.log(`§13 vs §12 at ${b} bits: ${gain.toFixed(3)}×`);
    assert.ok(gain > 1.1, `${b} bits: row ${row.bits.toFixed(3)} b / ${row.err.toExponential(3)}, block ${blk.bits.toFixed(3)} b / ${blk.err.toExponential(3)}: ${gain.toFixed(3)}×`);
  }
});
