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
