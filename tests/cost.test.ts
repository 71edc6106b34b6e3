// The all-reduce cost model and the network `auto` plan made from it (bindings/tp/cost.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { autoPlan, codecSpeed, CODEC_SPEED, describePlan, predict, ROTATION_SPEED, wireBytes } from '../bindings/tp/cost.js';
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
  assert.deepEqual(codecSpeed('int8-g32'), CODEC_SPEED['int4-g32']); // no measurement: the int4-g32 one
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

test('auto picks the codec on a slow link, exact for small messages on a fast one, and the same plan from the same inputs', () => {
  const slow = autoPlan(2, E, 64, 'int4-g32', { rttMs: 0.2, mbps: 100 });
  assert.equal(slow.minRows, 1, describePlan(slow));
  const fast = autoPlan(2, E, 64, 'int4-g32', { rttMs: 0.05, mbps: 10_000 });
  assert.ok(fast.minRows > 1, describePlan(fast));
  // two rounds (rs-ag, 8 shards) against exact's one: exact for single tokens, the codec for long messages
  const mid = autoPlan(8, 4096, 512, 'int4-g32', { rttMs: 0.5, mbps: 10_000 });
  assert.ok(mid.minRows > 1 && mid.minRows < Infinity, describePlan(mid));
  assert.match(describePlan(mid), /^auto: exact for ≤ \d+ rows, int4-g32 rs-ag above$/);
  assert.deepEqual(autoPlan(8, 4096, 512, 'int4-g32', { rttMs: 0.5, mbps: 10_000 }), mid);
  assert.equal(autoPlan(8, 4096, 64, 'int4-g32', { rttMs: 0.1, mbps: 1000 }).algorithm, 'rs-ag', 'more shards: reduce-scatter sends fewer bytes');
  assert.equal(autoChoice(2, 576, 3, 4), 'exact');
  assert.equal(autoChoice(2, 576 * 4, 4, 4), 'codec');
  assert.equal(autoChoice(2, 576, 1, Infinity), 'exact');
});
