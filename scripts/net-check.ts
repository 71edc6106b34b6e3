// Run by scripts/net-ns.sh (tests/net.test.ts, CI): the root in its namespace, one shard across a shaped veth link.
// Prints "ok …" lines; exits non-zero on any difference.
import assert from 'node:assert/strict';
import { Engine } from '../bindings/engine.js';

const peers = process.env.LOWBIT_TP_PEERS!.split(','), secret = process.env.LOWBIT_TP_SECRET;
const ids = Array.from({ length: 40 }, (_, i) => 300 + 41 * i);
const net = await Engine.load('smollm2', { peers, peerSecret: secret, maxBatch: 32, context: 256 });
const mem = await Engine.load('smollm2', { tp: peers.length + 1, maxBatch: 32, context: 256 });
await net.verifyIdentity(true);
for (const comm of [null, { mode: 'int4-g32', algorithm: 'all-gather' as const, fraction: 1 / 64 }]) {
  const run = async (e: Engine) => { await e.setComm(comm); e.reset(); return e.forward(ids, true); };
  const t0 = performance.now(), a = await run(net), ms = performance.now() - t0, b = await run(mem);
  assert.equal(Buffer.compare(Buffer.from(a.logits.buffer), Buffer.from(b.logits.buffer)), 0, `${comm?.mode ?? 'exact'}: logits differ`);
  assert.equal(a.mismatches, 0);
  console.log(`ok ${comm?.mode ?? 'exact'}: ${ids.length} tokens, ${a.bytesSent} bytes on the wire, ${ms.toFixed(0)} ms at ${process.env.NET_RATE}, bitwise equal, shards identical`);
}
process.kill(Number(process.env.NET_SHARD_PIDS!.split(' ')[0]), 'SIGKILL');
const t0 = Date.now();
await assert.rejects(net.forward(ids), (e: Error) => e.message.includes(peers[0]));
console.log(`ok killed peer named within ${Date.now() - t0} ms`);
await net.close(); await mem.close();
