// The link contract (tp/link.ts) on its shared-memory transport: messages to all and to one peer, rounds alternating
// between two slot sets, size checks, and an abort that fails a waiting fence at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { createSharedLink, SharedLink } from '../bindings/tp/link.js';

test('SharedLink: a peer thread exchanges messages to all and to one over alternating rounds; bad sizes and peers are errors', async () => {
  const spec = createSharedLink(2, 64, 16);
  // rank 1 in a worker (tests/helpers-link-peer.mjs): per round r it sends [r, 1] to all and [r, 9] to rank 0
  const peer = new Worker(new URL('./helpers-link-peer.mjs', import.meta.url), { workerData: { spec } });
  const me = new SharedLink(spec, 0, 5000);
  const got: number[][] = [];
  for (let r = 0; r < 5; r++) {
    me.send('all', Uint8Array.of(r, 0));
    me.send(1, Uint8Array.of(r, 7, 7));
    me.fence();
    const all = new Uint8Array(64), one = new Uint8Array(16);
    const n = me.recv(1, 'all', all), m = me.recv(1, 'one', one);
    got.push([...all.subarray(0, n), ...one.subarray(0, m)]);
  }
  assert.deepEqual(got, [0, 1, 2, 3, 4].map((r) => [r, 1, r, 9]));
  assert.throws(() => me.send('all', new Uint8Array(65)), /exceeds the broadcast slot of 64/);
  assert.throws(() => me.send(1, new Uint8Array(17)), /exceeds the point-to-point slot of 16/);
  assert.throws(() => me.send(0, new Uint8Array(1)), /no peer 0/);
  assert.throws(() => me.recv(0, 'all', new Uint8Array(4)), /no peer 0/);
  await peer.terminate();
});

test('SharedLink: abort fails a waiting fence at once; a missing peer fails it by the deadline', () => {
  const spec = createSharedLink(2, 8, 8);
  const lonely = new SharedLink(spec, 0, 300);
  const t0 = Date.now();
  assert.throws(() => lonely.fence(), /timed out after 300 ms/);
  assert.ok(Date.now() - t0 < 2000);
  assert.throws(() => new SharedLink(spec, 1, 300).fence(), /aborted/); // the timeout raised the shared abort flag
});
