// Rank 1 of tests/link.test.ts in a worker thread (registers tsx to load the TypeScript link).
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';
register();
const { SharedLink } = await import('../bindings/tp/link.ts');
const link = new SharedLink(workerData.spec, 1, 5000);
for (let r = 0; r < 5; r++) {
  link.send('all', Uint8Array.of(r, 1));
  link.send(0, Uint8Array.of(r, 9));
  link.fence();
  const all = new Uint8Array(64), one = new Uint8Array(16);
  const n = link.recv(0, 'all', all), m = link.recv(0, 'one', one);
  if (all[0] !== r || n !== 2 || one[0] !== r || m !== 3) throw new Error(`round ${r}: got ${all.subarray(0, n)} / ${one.subarray(0, m)}`);
}
