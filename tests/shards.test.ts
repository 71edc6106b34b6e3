// Shards as devices: each owns its memory, weights stay in packed quantized blocks, the memory plan is checked
// before loading (large shapes planned from their header alone, never written), and the link is the only channel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, closeSync, ftruncateSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Engine } from '../bindings/engine.js';
import { parseGguf } from '../bindings/gguf/reader.js';
import { configFromGguf } from '../bindings/model/config.js';
import { planMemory, planProblem, smallestFittingTp, WASM32_MAX_BYTES } from '../bindings/tp/budget.js';
import { MatrixName } from '../bindings/tp/memory.js';
import { generateSynthetic, planSynthetic } from '../bench/synth-models.js';
import { compareLogits } from '../bindings/eval/agreement.js';

const dir = mkdtempSync(`${tmpdir()}/lowbit-shards-`);
const opts = { maxBatch: 64, cap: 2048, heapBase: 65536, packed: true };

/** A synthetic model's header as a sparse file of the model's full size: plans and refusals without 5 GB of disk. */
function sparseModel(name: string): string {
  const p = planSynthetic(name), path = `${dir}/${name}-sparse.gguf`, fd = openSync(path, 'w');
  writeSync(fd, p.header.header);
  ftruncateSync(fd, p.fileBytes);
  closeSync(fd);
  return path;
}

test('memory plan (context 2048): an 8B-shaped Q4_K_M model needs TP ≥ 2, a 13B-shaped one TP ≥ 3; no f32 matrix larger than a norm vector', () => {
  for (const [name, minTp] of [['llama-3.1-8b', 2], ['llama-2-13b', 3]] as const) {
    const p = planSynthetic(name), g = parseGguf(p.header.header, p.fileBytes), cfg = configFromGguf(g);
    const one = planMemory(g, cfg, 1, opts);
    assert.match(planProblem(one, null) ?? '', /over the 4 GiB of one wasm32 memory/);
    assert.equal(smallestFittingTp(g, cfg, opts, null), minTp, `${name}: smallest TP`);
    const fits = planMemory(g, cfg, minTp, opts);
    for (const s of fits.shards) {
      assert.ok(s.bytes <= WASM32_MAX_BYTES);
      const mats = [...s.layers.flatMap((l) => (Object.keys(l.w) as MatrixName[]).map((k) => l.w[k])), s.embed, s.lmHead];
      for (const m of mats) assert.notEqual(m.fmt, 0, `${name}: ${m.tensor} is kept in packed blocks, not f32`);
    }
    // weights in the plan stay close to the file's size (packed blocks), far from an f32 copy (7× the file)
    const weights = fits.shards.reduce((a, s) => a + s.budget.weights, 0);
    assert.ok(weights < 1.1 * p.fileBytes, `${name}: packed weights ${weights} for a file of ${p.fileBytes}`);
    // and a host with too little memory is refused too
    assert.match(planProblem(fits, 1 << 30) ?? '', /available/);
  }
});

test('Engine.load refuses a model that does not fit before reading any weights, naming the smallest TP that fits', async () => {
  const path = sparseModel('llama-3.1-8b');
  const t0 = Date.now();
  await assert.rejects(Engine.load(path, { tp: 1, availableBytes: null }), /does not fit at TP 1: a shard needs .* GiB, over the 4 GiB.*smallest TP degree that fits is 2 \(--tp 2\)/);
  await assert.rejects(Engine.load(path, { tp: 2, availableBytes: 1 << 30 }), /does not fit at TP 2: .*available/);
  assert.ok(Date.now() - t0 < 5000, 'refused from the header alone');
});

test('packed Q4_K / Q6_K weights give the f32 path\'s logits bit for bit; TP 2 and 3 over per-shard memories match TP 1', async () => {
  const { path } = generateSynthetic('tiny', { out: dir });
  const ids = Array.from({ length: 40 }, (_, i) => 3 + ((i * 37) % 1000));
  const run = async (tp: number, weights: 'packed' | 'f32') => {
    const e = await Engine.load(path, { tp, weights, maxBatch: 16, context: 64 });
    await e.verifyIdentity(true);
    const out = await e.forward(ids, true);
    await e.close();
    assert.equal(out.mismatches, 0, `TP ${tp} ${weights}: shards identical after every all-reduce`);
    return out.logits;
  };
  const f32 = await run(1, 'f32'), packed = await run(1, 'packed');
  assert.ok(f32.every(Number.isFinite));
  assert.deepEqual(new Uint32Array(packed.buffer), new Uint32Array(f32.buffer), 'prefill on packed blocks = f32 arithmetic on the dequantized weights');
  for (const tp of [2, 3]) {
    const c = compareLogits(await run(tp, 'packed'), f32, 1024);
    assert.ok(c.maxRel <= 1e-5, `TP ${tp}: max relative difference ${c.maxRel}`);
  }
});
