// The all-reduce cost model and the network `auto` plan made from it (bindings/tp/cost.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { autoCandidates, autoPlan, bandFor, codecSpeed, CODEC_SPEED, describePlan, predict, ROTATION_SPEED, wireBytes } from '../bindings/tp/cost.js';
import { autoChoice } from '../bindings/tp/policy.js';

const E = 576;
const at = (mode: string, M: number, mbps: number, rttMs = 0.1, S = 2, algorithm: 'all-gather' | 'rs-ag' = 'all-gather') =>
  predict({ S, M, E, mode, algorithm, link: { rttMs, mbps } });

test('wire bytes match the measured bits per value (docs/results/net-bench.json)', () => {
  for (const [mode, bits] of [['exact', 32], ['bf16', 16.007], ['int8-g32', 9.007], ['int4-g32', 5.007], ['outlier-int4-static', 4.201]] as const)
    assert.ok(Math.abs((8 * wireBytes(mode, 64, E)) / (64 * E) - bits) < 0.01, mode);
});

test('predicted time grows with the bytes: more rows, more shards, a wider codec', () => {
  for (const mode of ['exact', 'int4-g32', 'bf16']) {
    let last = 0;
    for (const M of [1, 2, 8, 64, 512]) { const c = at(mode, M, 1000); assert.ok(c.ms > last && c.bytes > 0, `${mode} ${M}`); last = c.ms; }
  }
  assert.ok(at('int8-g32', 64, 1000).ms > at('int4-g32', 64, 1000).ms);
  assert.ok(at('exact', 64, 1000, 0.1, 4).ms > at('exact', 64, 1000, 0.1, 2).ms);
});

test('codec time: rotation codecs take their own measured speed, the entropy-coded ones the slowest', () => {
  assert.deepEqual(codecSpeed('outlier-rot128-int3-g128-ec-k2'), ROTATION_SPEED.entropy);
  assert.deepEqual(codecSpeed('rot128-int4-g128'), ROTATION_SPEED.uniform);
  assert.deepEqual(codecSpeed('outlier-rot64-int4-g64-lm'), ROTATION_SPEED.uniform);
  assert.deepEqual(codecSpeed('int4-g32'), CODEC_SPEED['int4-g32']);
  assert.deepEqual(codecSpeed('int2-g32'), CODEC_SPEED['int4-g32']); // no measurement: the int4-g32 one
  // at 1 Gbit/s a 512-row prompt all-reduce: -ec's codec time outweighs the ~0.2 bit/value it saves over uniform rotation
  assert.ok(at('rot128-int4-g128-ec', 512, 1000).ms > at('rot128-int4-g128', 512, 1000).ms);
  assert.ok(at('rot128-int4-g128-ec', 512, 100).ms < at('exact', 512, 100).ms);
});

test('a single-token message is dominated by the round trip; rs-ag pays two', () => {
  const c = at('exact', 1, 1000, 0.2);
  assert.ok(c.latencyMs > 0.5 * c.ms, `${c.latencyMs} of ${c.ms}`);
  assert.equal(at('int4-g32', 1, 1000, 0.2, 3, 'rs-ag').rounds, 2);
  assert.ok(at('int4-g32', 1, 1e5, 0.2, 3, 'rs-ag').ms > at('int4-g32', 1, 1e5, 0.2, 3, 'all-gather').ms);
});

test('auto picks the codec on a slow link, exact on one as fast as memory, rs-ag for long messages of many shards, the same plan from the same inputs', () => {
  const only = (p: ReturnType<typeof autoPlan>) => p.bands.map((b) => `${b.minRows}:${b.mode}:${b.algorithm}`).join(' ');
  const slow = autoPlan(2, E, 64, 'int4-g32', { rttMs: 0.2, mbps: 100 });
  assert.equal(only(slow), '1:int4-g32:all-gather', describePlan(slow));
  assert.equal(describePlan(slow), 'auto: int4-g32 all-gather for every message (≤ 64 rows)');
  // one round either way, so a link as fast as memory makes exact (no codec time) the cheapest at every size
  const fast = autoPlan(2, E, 64, 'int4-g32', { rttMs: 0.05, mbps: 100_000 });
  assert.equal(only(fast), '1:exact:all-gather', describePlan(fast));
  // rs-ag's second round pays only for long messages: 8 shards send 2 (S − 1) / S of a message instead of S − 1
  const mid = autoPlan(8, 4096, 512, 'int4-g32', { rttMs: 0.5, mbps: 10_000 });
  assert.match(describePlan(mid), /^auto: int4-g32 all-gather for 1–\d+ rows, int4-g32 rs-ag for ≥ \d+ rows$/);
  assert.deepEqual(autoPlan(8, 4096, 512, 'int4-g32', { rttMs: 0.5, mbps: 10_000 }), mid);
  assert.equal(bandFor(mid.bands, 1).algorithm, 'all-gather');
  assert.equal(bandFor(mid.bands, 512).algorithm, 'rs-ag');
  assert.equal(autoChoice(2, 576), 'exact');
  assert.equal(autoChoice(16, 512 * 2048), 'rs-ag');
});

test('auto chooses between codecs, never below the accuracy asked for', () => {
  assert.deepEqual(autoCandidates('int4-g32', E), ['exact', 'bf16', 'int8-g32', 'int4-g32']);
  assert.deepEqual(autoCandidates('int8-g32', E), ['exact', 'bf16', 'int8-g32']);
  assert.deepEqual(autoCandidates('bf16', E), ['exact', 'bf16']);
  assert.deepEqual(autoCandidates('exact', E), ['exact']);
  // the slow entropy-coded codec: on a fast link a wider but cheaper mode wins, on a slow one its fewer bytes do
  const ec = 'rot128-int4-g128-ec';
  const fast = autoPlan(2, E, 64, ec, { rttMs: 0.1, mbps: 1000, roundMs: 0.05 });
  assert.equal(bandFor(fast.bands, 64).mode, 'int8-g32', describePlan(fast));
  assert.equal(bandFor(autoPlan(2, E, 64, ec, { rttMs: 0.1, mbps: 100 }).bands, 64).mode, ec);
  // every band is the candidate of lowest predicted time at its sizes; the bands tile 1…maxRows
  for (const link of [{ rttMs: 0.3, mbps: 1000 }, { rttMs: 0.3, mbps: 10_000, roundMs: 0.08 }, { rttMs: 1, mbps: 50_000 }]) {
    const p = autoPlan(4, 2048, 128, ec, link);
    assert.equal(p.bands[0].minRows, 1);
    for (let i = 1; i < p.bands.length; i++) assert.ok(p.bands[i].minRows > p.bands[i - 1].minRows);
    for (const M of [1, 7, 64, 128]) {
      const b = bandFor(p.bands, M), chosen = predict({ S: 4, M, E: 2048, mode: b.mode, algorithm: b.algorithm, link }).ms;
      for (const mode of autoCandidates(ec, 2048)) for (const algorithm of ['all-gather', 'rs-ag'] as const)
        assert.ok(chosen <= predict({ S: 4, M, E: 2048, mode, algorithm, link }).ms + 1e-12, `${M} rows: ${b.mode} over ${mode} ${algorithm}`);
    }
  }
});

test('a round costs the data path\'s measured round when there is one, else half the control round trip', () => {
  const base = predict({ S: 2, M: 1, E, mode: 'exact', algorithm: 'all-gather', link: { rttMs: 0.4, mbps: 1000 } });
  assert.ok(Math.abs(base.latencyMs - 0.2) < 1e-12);
  const data = predict({ S: 2, M: 1, E, mode: 'exact', algorithm: 'all-gather', link: { rttMs: 0.4, mbps: 1000, roundMs: 0.07 } });
  assert.ok(Math.abs(data.latencyMs - 0.07) < 1e-12);
  assert.ok(Math.abs(predict({ S: 3, M: 1, E, mode: 'int4-g32', algorithm: 'rs-ag', link: { rttMs: 0.4, mbps: 1000, roundMs: 0.07 } }).latencyMs - 0.14) < 1e-12);
});
