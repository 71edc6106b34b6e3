// The automatic all-reduce policy follows the measured table (docs/results/device/allreduce-bench.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { autoChoice } from '../bindings/tp/policy.js';
import { parseCommMode } from '../bindings/calibrate/plan.js';

test('auto: exact in shared memory except at 16+ shards with large messages, where rs-ag int4 measured faster', () => {
  assert.equal(autoChoice(2, 2048 * 4096), 'exact');
  assert.equal(autoChoice(8, 2048 * 4096), 'exact');
  assert.equal(autoChoice(16, 1 * 576), 'exact');
  assert.equal(autoChoice(16, 512 * 2048), 'rs-ag');
  assert.equal(parseCommMode('auto').spec.bits, 4);
  assert.equal(parseCommMode('auto:int8-g32').spec.bits, 8);
  assert.equal(parseCommMode('auto').name, 'auto');
});

test('probe rotation: the signed Hadamard transform preserves energy (× block) and its inverse restores the input', async () => {
  const { hadamardBlocks } = await import('../bindings/tp/allreduce.js');
  const x = Float32Array.from({ length: 3 * 64 }, (_, i) => Math.sin(i * 1.7) * (i % 64 === 5 ? 300 : 1));
  const y = Float32Array.from(x);
  hadamardBlocks(y, 64, false);
  for (let o = 0; o < x.length; o += 64) {
    const e = (v: Float32Array) => v.subarray(o, o + 64).reduce((s, t) => s + t * t, 0);
    assert.ok(Math.abs(e(y) / (64 * e(x)) - 1) < 1e-5, 'H·D is √64 times an orthogonal map');
    const crest = (v: Float32Array) => Math.max(...v.subarray(o, o + 64).map(Math.abs)) / Math.sqrt(e(v) / 64);
    assert.ok(crest(x) > 6 && crest(y) < 2, `the outlier is spread over the block: peak/RMS ${crest(x).toFixed(1)} → ${crest(y).toFixed(1)}`);
  }
  hadamardBlocks(y, 64, true);
  for (let i = 0; i < x.length; i++) assert.ok(Math.abs(y[i] - x[i]) <= 1e-4 * (1 + Math.abs(x[i])), `round trip at ${i}`);
});
