// §11 compact header on the link: the full header is rebuilt bit for bit for every codec and for the f32 fallback;
// a tampered or random compact header is an error (from expandHeader or the decoder's own checks), never a crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeContext, parseCodec, staticParamsFromRange } from '../bindings/codec/spec.js';
import { decodeReference, encodeReference } from '../bindings/codec/reference.js';
import { COMPACT_SKIP, compactHeader, expandHeader } from '../bindings/codec/compact.js';
import { WireFormatError } from '../bindings/codec/wire.js';
import { Rng } from '../bindings/util/rng.js';

const F = 96, T = 5;
function ctxOf(name: string) {
  const spec = parseCodec(name), outliers = [3, 40, 77];
  const lo = new Array(F).fill(-2), hi = new Array(F).fill(2);
  const coded = spec.codec === 5 ? F - outliers.length : F;
  const { scale, min } = staticParamsFromRange(lo.slice(0, coded), hi.slice(0, coded), spec.bits);
  return makeContext(spec, F, { outliers, scale, min });
}
const MODES = ['f32', 'bf16', 'f16', 'int4-g32', 'int8-g32-sym', 'int4-static', 'outlier-int4-static', 'outlier-int4-static-rows', 'outlier-int3-g64-sym-idx',
  'rot64-int4-g32', 'outlier-rot64-int4-g64-f16', 'outlier-rot64-int4-g64-k2'];

test('§11: compact then expand gives back the full header, for every codec, exceptions, raw rows and the f32 fallback', () => {
  const rng = new Rng(11);
  for (const name of MODES) {
    const ctx = ctxOf(name);
    for (const kind of ['normal', 'exceptions', 'fallback']) {
      const x = new Float32Array(T * F).map(() => rng.normal());
      if (kind === 'exceptions') { x[7] = NaN; x[F + 1] = Infinity; x[0] = 1e6; }
      if (kind === 'fallback') for (let i = 0; i < x.length; i += 3) x[i] = NaN; // more than n/64 exceptions, raw blocks everywhere
      const full = encodeReference(ctx, x, T);
      const msg = full.slice(); // what the shard sends is msg[COMPACT_SKIP …)
      const len = compactHeader(msg, 0, msg.length);
      assert.equal(len, full.length - COMPACT_SKIP);
      const rx = new Uint8Array(full.length);
      rx.set(msg.subarray(COMPACT_SKIP), COMPACT_SKIP);
      assert.equal(expandHeader(ctx, T, rx, 0, len), full.length);
      assert.deepEqual(rx, full, `${name} ${kind}`);
      const a = new Float32Array(T * F), b = new Float32Array(T * F);
      decodeReference(ctx, full, a, false); decodeReference(ctx, rx, b, false);
      assert.deepEqual(new Uint32Array(b.buffer), new Uint32Array(a.buffer));
    }
  }
});

test('§11: a tampered or random compact header fails with a wire-format error, never a crash or a wrong-length read', () => {
  const ctx = ctxOf('outlier-rot64-int4-g64'), rng = new Rng(5);
  const full = encodeReference(ctx, new Float32Array(T * F).map(() => rng.normal()), T);
  const msg = full.slice(), len = compactHeader(msg, 0, msg.length);
  const expandAndDecode = (m: Uint8Array, n: number, tokens = T) => {
    const rx = new Uint8Array(COMPACT_SKIP + Math.max(n, 8));
    rx.set(m.subarray(COMPACT_SKIP, COMPACT_SKIP + n), COMPACT_SKIP);
    const total = expandHeader(ctx, tokens, rx, 0, n);
    decodeReference(ctx, rx.subarray(0, total), new Float32Array(tokens * F), false);
  };
  const bad = (patch: (m: Uint8Array) => void, n = len, tokens = T, re = /wire format/) => {
    const m = msg.slice(); patch(m);
    assert.throws(() => expandAndDecode(m, n, tokens), (e: Error) => e instanceof WireFormatError && re.test(e.message));
  };
  bad((m) => { m[COMPACT_SKIP] = 0; }, len, T, /not a compact header/);
  bad((m) => { m[COMPACT_SKIP + 1] = 3; }, len, T, /names codec 3/);
  bad((m) => { m[COMPACT_SKIP + 4] = 9; });           // exception count the bytes do not hold
  bad(() => {}, len - 1);                              // one byte short
  bad(() => {}, len, T + 1);                           // the round has another row count
  bad(() => {}, 7, T, /truncated/);
  let errors = 0;
  for (let i = 0; i < 20000; i++) { // random compact headers on real payloads, and random lengths
    const m = msg.slice();
    for (let k = 0; k < 8; k++) if (rng.next() < 0.5) m[COMPACT_SKIP + k] = Math.floor(256 * rng.next());
    if (i % 2) m[COMPACT_SKIP] = 0xc7;
    const n = rng.next() < 0.2 ? Math.floor(rng.next() * len) : len;
    try { expandAndDecode(m, n); } catch (e) { assert.ok(e instanceof WireFormatError, String(e)); errors++; }
  }
  assert.ok(errors > 10000, `most random headers are refused (${errors})`);
});
