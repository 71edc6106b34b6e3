// The tensor-parallel engine on the real SmolLM2 model: agreement with transformers, TP agreement, bitwise-
// identical shards after every all-reduce, counted wire bits, and failure behaviour. Gemma 3 runs the same
// agreement checks when LOWBIT_TP_FULL=1 (and in `npm run evidence`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Engine } from '../bindings/engine.js';
import { compareLogits, compareWithFixture, LogitsFixture } from '../bindings/eval/agreement.js';
import { generate } from '../bindings/generate.js';

const fixture = (m: string): LogitsFixture => JSON.parse(readFileSync(new URL(`./fixtures/logits-${m}.json`, import.meta.url), 'utf8'));
const models = process.env.LOWBIT_TP_FULL ? [['smollm2', [2, 3]], ['gemma3', [2, 4]]] as const : [['smollm2', [2, 3]]] as const;

for (const [model, tps] of models) {
  test(`${model}: TP 1 logits match transformers on 300 tokens of prose; TP ${tps.join(', ')} match TP 1`, async () => {
    const fx = fixture(model);
    const e1 = await Engine.load(model, { tp: 1 });
    const out1 = await e1.forward(fx.ids, true);
    await e1.close();
    const a = compareWithFixture(out1.logits, e1.cfg.vocab, fx);
    assert.ok(a.maxAbsDelta <= 1e-3, `max |Δlogit| ${a.maxAbsDelta}`);
    assert.ok(a.argmaxAgree >= 0.99, `argmax agreement ${a.argmaxAgree}`);
    const short = fx.ids.slice(0, 64), V = e1.cfg.vocab, ref = out1.logits.subarray(0, 64 * V);
    for (const tp of tps) {
      const e = await Engine.load(model, { tp });
      const out = await e.forward(short, true);
      await e.close();
      const c = compareLogits(out.logits, ref, V);
      assert.ok(c.maxRel <= 1e-4, `TP ${tp}: max relative difference ${c.maxRel}`);
      assert.equal(c.argmaxAgree, 1);
    }
  });
}

test('every shard holds bitwise-identical sums after every all-reduce, for every algorithm and codec', async () => {
  const ids = fixture('smollm2').ids.slice(0, 40);
  for (const tp of [2, 3]) {
    const e = await Engine.load('smollm2', { tp, maxBatch: 16 });
    await e.verifyIdentity(true);
    for (const comm of [null, { mode: 'int4-g32', algorithm: 'all-gather' as const, fraction: 1 / 64 },
      { mode: 'int4-g32-sym', algorithm: 'rs-ag' as const, fraction: 1 / 64 }, { mode: 'bf16', algorithm: 'rs-ag' as const, fraction: 1 / 64 },
      { mode: 'int3-g16', algorithm: 'all-gather' as const, fraction: 1 / 64 }, { mode: 'auto', algorithm: 'rs-ag' as const, fraction: 1 / 64 },
      { mode: 'rot128-int4-g64', algorithm: 'rs-ag' as const, fraction: 1 / 64 }, { mode: 'rot64-int3-g32', algorithm: 'all-gather' as const, fraction: 1 / 64 }]) {
      await e.setComm(comm);
      e.reset();
      const out = await e.forward(ids); // 40 tokens in chunks of 16: prefill-sized and partial chunks
      const step = await e.forward([ids[0]]); // one decode step
      const sites = 2 * e.cfg.layers;
      assert.equal(out.checks, 3 * sites * tp, `TP ${tp} ${comm?.mode ?? 'exact'}: every site checked on every shard`);
      assert.equal(out.mismatches + step.mismatches, 0, `TP ${tp} ${comm?.mode ?? 'exact'} ${comm?.algorithm ?? ''}: shards diverged`);
    }
    await e.close();
  }
});

test('wire bits/value are counted from the bytes each shard actually encodes', async () => {
  const e = await Engine.load('smollm2', { tp: 2, maxBatch: 64 });
  const ids = fixture('smollm2').ids.slice(0, 64);
  await e.setComm({ mode: 'int4-g32', algorithm: 'all-gather', fraction: 1 / 64 });
  const out = await e.forward(ids);
  const E = 576, M = 64, perMessage = 8 + M * (E / 32) * 4 + M * E / 2; // compact header (§11), bf16 scale+min per group, nibbles
  assert.equal(out.bytesSent, perMessage * 2 * 2 * e.cfg.layers);
  assert.equal(out.valuesSent, M * E * 2 * 2 * e.cfg.layers);
  const exact = await (async () => { await e.setComm(null); e.reset(); return e.forward(ids); })();
  assert.equal((8 * exact.bytesSent) / exact.valuesSent, 32);
  await e.close();
});

test('generation runs end to end over workers with a compressed all-reduce', async () => {
  const e = await Engine.load('smollm2', { tp: 2 });
  await e.setComm({ mode: 'int8-g32', algorithm: 'all-gather', fraction: 1 / 64 });
  const r = await generate(e, 'The capital of France is', { maxTokens: 4 });
  await e.close();
  assert.match(r.text, /Paris/);
  assert.ok(r.bitsPerValue > 8 && r.bitsPerValue < 10, `bits/value ${r.bitsPerValue}`);
});

test('quantized decode (GGUF Q4_1 blocks, int8 activations) tracks f32 decode, and shards stay identical', async () => {
  const text = 'Tensor parallelism splits each layer of a language model across devices, and the partial sums are added together.';
  const steps: Float32Array[][] = [];
  for (const quantizedDecode of [false, true]) {
    const e = await Engine.load('smollm2', { tp: 2, quantizedDecode, context: 128 });
    await e.verifyIdentity(true);
    const ids = e.encode(text), out: Float32Array[] = [];
    await e.forward(ids.slice(0, 8));
    for (let i = 8; i < ids.length; i++) {
      const r = await e.forward([ids[i]]);
      assert.equal(r.mismatches, 0, 'shards identical');
      out.push(r.logits.slice());
    }
    steps.push(out);
    await e.close();
  }
  const argmax = (v: Float32Array) => v.indexOf(Math.max(...v));
  const agree = steps[0].filter((v, i) => argmax(v) === argmax(steps[1][i])).length;
  const rel = Math.max(...steps[0].map((v, i) => Math.max(...v.map((x, j) => Math.abs(x - steps[1][i][j]))) / Math.max(...v.map(Math.abs))));
  assert.ok(agree >= steps[0].length - 1, `argmax agrees on ${agree} of ${steps[0].length} steps`);
  assert.ok(rel < 0.15, `largest logit change ${rel} of the largest |logit|`);
});

test('bad input: a prompt beyond the context and unknown token ids are clear errors', async () => {
  const e = await Engine.load('smollm2', { tp: 2, context: 32 });
  await assert.rejects(e.forward(new Array(40).fill(1)), /exceeds the context of 32/);
  await assert.rejects(e.forward([1e9]), /outside the vocabulary/);
  const ok = await e.forward([1, 2, 3]);
  assert.equal(ok.rows, 1);
  await e.close();
});

test('a worker killed mid-forward fails the call within a bounded time and closes the pool', async () => {
  const e = await Engine.load('smollm2', { tp: 2, barrierTimeoutMs: 2000, callTimeoutMs: 5000 });
  const t0 = Date.now();
  const pending = e.forward(fixture('smollm2').ids.slice(0, 64));
  setTimeout(() => e.pool.kill(1), 50);
  await assert.rejects(pending, /shard 1 exited|aborted|timed out/);
  assert.ok(Date.now() - t0 < 8000, `failed after ${Date.now() - t0} ms`);
  await assert.rejects(e.forward([1]), /shard 1|closed/);
  await e.close();
});

test('a stalled worker fails the call by its deadline instead of hanging', async () => {
  const e = await Engine.load('smollm2', { tp: 2, barrierTimeoutMs: 1000, callTimeoutMs: 3000 });
  const t0 = Date.now();
  void e.pool.call(1, { op: 'stall', ms: 10_000 }).catch(() => {});
  await assert.rejects(e.forward([1, 2, 3]), /did not answer|timed out|aborted/);
  assert.ok(Date.now() - t0 < 6000, `failed after ${Date.now() - t0} ms`);
  await e.close();
});

test('NaN and Inf in a partial sum propagate through every codec and algorithm as through the exact sum', async () => {
  const e = await Engine.load('smollm2', { tp: 2, maxBatch: 16 });
  await e.verifyIdentity(true);
  const ids = fixture('smollm2').ids.slice(0, 8), V = e.cfg.vocab;
  for (const value of [NaN, Infinity]) {
    const outcomes: string[] = [];
    for (const comm of [null, { mode: 'int4-g32', algorithm: 'all-gather' as const, fraction: 1 / 64 },
      { mode: 'int4-g32', algorithm: 'rs-ag' as const, fraction: 1 / 64 }, { mode: 'bf16', algorithm: 'all-gather' as const, fraction: 1 / 64 },
      { mode: 'rot128-int4-g128', algorithm: 'all-gather' as const, fraction: 1 / 64 }, { mode: 'rot128-int4-g128', algorithm: 'rs-ag' as const, fraction: 1 / 64 }]) {
      await e.setComm(comm);
      // shard 1's last-layer MLP partial gets the bad value at token 3, feature 100
      await e.pool.call(1, { op: 'poison', poison: { site: 2 * e.cfg.layers - 1, index: 3 * e.cfg.hidden + 100, value } });
      e.reset();
      const out = await e.forward(ids, true);
      await e.pool.call(1, { op: 'poison', poison: null });
      assert.equal(out.mismatches, 0, 'shards stay identical');
      const bad = (r: number) => out.logits.subarray(r * V, (r + 1) * V).some((x) => !Number.isFinite(x));
      outcomes.push(ids.map((_, r) => (bad(r) ? 'x' : '.')).join(''));
    }
    assert.equal(outcomes[0], '...x....', `exact: only token 3 is poisoned (${value})`);
    for (const o of outcomes) assert.equal(o, outcomes[0], `${value}: every mode poisons exactly what the exact sum does`);
  }
  await e.close();
});
