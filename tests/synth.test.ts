// Synthetic large-model fixtures (bench/synth-models.ts): the tiny preset end to end (layout, Q4_K_M mix, valid and
// well-scaled blocks, a finite forward pass, caching, determinism); the big presets' layout without writing them.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureSyntheticModel, generateSynthetic, planSynthetic, useMoreBits } from '../bench/synth-models.js';
import { parseGguf, tensorBytes, meta, Gguf } from '../bindings/gguf/reader.js';
import { dequantize } from '../bindings/gguf/dequant.js';
import { configFromGguf } from '../bindings/model/config.js';
import { tokenizerFromGguf } from '../bindings/tokenizer/index.js';

const dir = mkdtempSync(join(tmpdir(), 'synth-test-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const deq = (g: Gguf, name: string): Float32Array => {
  const t = g.tensors.get(name)!, out = new Float32Array(t.elements);
  dequantize(t.type, tensorBytes(g, name), t.elements, out);
  return out;
};
const stats = (a: Float32Array) => {
  let s = 0, s2 = 0;
  for (const v of a) { s += v; s2 += v * v; }
  const mean = s / a.length;
  return { mean, std: Math.sqrt(s2 / a.length - mean * mean) };
};

test('use_more_bits picks the layers llama.cpp gives Q6_K attn_v / ffn_down in Q4_K_M', () => {
  const layers = (n: number) => Array.from({ length: n }, (_, i) => i).filter((i) => useMoreBits(i, n));
  assert.deepEqual(layers(32), [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]);
  assert.deepEqual(layers(16), [0, 1, 4, 7, 10, 13, 14, 15]);
  assert.deepEqual(layers(2), [1]);
});

test('tiny: shapes, Q4_K_M mix, valid well-scaled blocks, tokenizer, a finite 40-layer forward pass', async () => {
  const path = await ensureSyntheticModel('tiny', { out: dir });
  const bytes = new Uint8Array(readFileSync(path));
  const g = parseGguf(bytes), plan = planSynthetic('tiny');
  assert.equal(bytes.length, plan.fileBytes);
  assert.equal(meta<string>(g, 'general.name'), 'synthetic tiny (random weights)');
  const cfg = configFromGguf(g);
  assert.deepEqual([cfg.layers, cfg.hidden, cfg.ffn, cfg.heads, cfg.kvHeads, cfg.vocab, cfg.headDim], [2, 256, 768, 8, 2, 1024, 32]);
  assert.equal(cfg.ropeBase, 500000);
  assert.equal(Number(meta(g, 'llama.rope.dimension_count')), 32);

  const E = 256, KV = 64, F = 768, V = 1024;
  const want = new Map<string, [number[], number]>([['token_embd.weight', [[E, V], 12]], ['output_norm.weight', [[E], 0]], ['output.weight', [[E, V], 14]]]);
  for (let l = 0; l < 2; l++) {
    const more = l === 1 ? 14 : 12; // n = 2: only layer 1 (i ≥ 7n/8)
    for (const [n, dims, type] of [['attn_norm', [E], 0], ['ffn_norm', [E], 0], ['attn_q', [E, E], 12], ['attn_k', [E, KV], 12], ['attn_v', [E, KV], more],
      ['attn_output', [E, E], 12], ['ffn_gate', [E, F], 12], ['ffn_up', [E, F], 12], ['ffn_down', [F, E], more]] as const)
      want.set(`blk.${l}.${n}.weight`, [[...dims], type]);
  }
  assert.deepEqual([...g.tensors.keys()].sort(), [...want.keys()].sort());
  const W = new Map<string, Float32Array>();
  plan.tensors.forEach((p, i) => assert.equal(g.tensors.get(p.name)!.offset, plan.header.offsets[i]));
  for (const [name, [dims, type]] of want) {
    const t = g.tensors.get(name)!;
    assert.deepEqual(t.dims, dims, name);
    assert.equal(t.type, type, name);
    const w = deq(g, name);
    W.set(name, w);
    for (const v of w) if (!Number.isFinite(v)) assert.fail(`${name}: non-finite weight ${v}`);
    const { mean, std } = stats(w);
    if (type === 0) { assert.ok(Math.abs(mean - 1) < 0.02 && std < 0.1, `${name}: norm weights mean ${mean} std ${std}`); continue; }
    const target = 1 / Math.sqrt(dims[0]);
    assert.ok(std > target / 2 && std < target * 2, `${name}: std ${std}, want ≈ ${target}`);
    assert.ok(Math.abs(std / target - 1) < 0.1, `${name}: std ${std} is ${(std / target).toFixed(3)}× 1/√K`);
    assert.ok(Math.abs(mean) < 0.05 * std, `${name}: mean ${mean} vs std ${std}`);
  }

  const { tokenizer, bos, eos, addBos } = tokenizerFromGguf(g);
  assert.deepEqual([bos, eos, addBos], [1, 2, true]);
  const text = 'Tensor parallelism splits each layer, so: 42!';
  const ids = tokenizer.encode(text);
  assert.equal(ids.length, text.length);
  assert.equal(tokenizer.decode(ids), text);

  // A reference forward pass in plain JS (no rope: a rotation that keeps norms), cycling the file's two layers
  // through 40, as deep as Llama-2-13B: pre-norm keeps the residual stream finite and its growth modest.
  const matvec = (m: Float32Array, x: Float32Array, K: number, N: number) => {
    const y = new Float32Array(N);
    for (let n = 0; n < N; n++) { let s = 0; for (let k = 0; k < K; k++) s += m[n * K + k] * x[k]; y[n] = s; }
    return y;
  };
  const rmsnorm = (x: Float32Array, w: Float32Array) => {
    let s = 0; for (const v of x) s += v * v;
    const r = 1 / Math.sqrt(s / x.length + 1e-5);
    return x.map((v, i) => v * r * w[i]);
  };
  const rms = (x: Float32Array) => Math.sqrt(x.reduce((a, v) => a + v * v, 0) / x.length);
  const T = 6, D = 32, H = 8, HKV = 2, emb = W.get('token_embd.weight')!;
  const toks = [1, ...ids.slice(0, T - 1)];
  const xs = toks.map((t) => emb.slice(t * E, (t + 1) * E));
  const growth: number[] = [rms(xs[T - 1])];
  for (let L = 0; L < 40; L++) {
    const w = (n: string) => W.get(`blk.${L % 2}.${n}.weight`)!;
    const hs = xs.map((x) => rmsnorm(x, w('attn_norm')));
    const q = hs.map((h) => matvec(w('attn_q'), h, E, E)), k = hs.map((h) => matvec(w('attn_k'), h, E, KV)), v = hs.map((h) => matvec(w('attn_v'), h, E, KV));
    for (let t = 0; t < T; t++) {
      const att = new Float32Array(E);
      for (let h = 0; h < H; h++) {
        const kh = Math.floor(h / (H / HKV)), sc = [];
        for (let s = 0; s <= t; s++) { let d = 0; for (let i = 0; i < D; i++) d += q[t][h * D + i] * k[s][kh * D + i]; sc.push(d / Math.sqrt(D)); }
        const mx = Math.max(...sc), e = sc.map((x) => Math.exp(x - mx)), z = e.reduce((a, b) => a + b, 0);
        for (let s = 0; s <= t; s++) for (let i = 0; i < D; i++) att[h * D + i] += (e[s] / z) * v[s][kh * D + i];
      }
      const o = matvec(w('attn_output'), att, E, E);
      for (let i = 0; i < E; i++) xs[t][i] += o[i];
      const h2 = rmsnorm(xs[t], w('ffn_norm'));
      const gt = matvec(w('ffn_gate'), h2, E, F), up = matvec(w('ffn_up'), h2, E, F);
      const act = gt.map((x, i) => (x / (1 + Math.exp(-x))) * up[i]);
      const d = matvec(w('ffn_down'), act, F, E);
      for (let i = 0; i < E; i++) xs[t][i] += d[i];
    }
    growth.push(rms(xs[T - 1]));
  }
  for (const r of growth) assert.ok(Number.isFinite(r), `residual RMS by layer: ${growth}`);
  // Reusing two layers' weights makes the additions correlated, so the stream grows about linearly (~0.65 per layer,
  // 26 after 40); a blow-up would compound instead.
  const by = `by layer: ${growth.map((r) => r.toFixed(2))}`;
  assert.ok(growth[40] < 60, `residual RMS after 40 layers ${growth[40]} (${by})`);
  for (let L = 2; L <= 40; L++) assert.ok(growth[L] < 1.6 * growth[L - 1], `layer ${L} multiplies the residual RMS (${by})`);
  const logits = matvec(W.get('output.weight')!, rmsnorm(xs[T - 1], W.get('output_norm.weight')!), E, V);
  const ls = stats(logits);
  assert.ok(logits.every(Number.isFinite) && ls.std > 0.3 && ls.std < 3, `logits std ${ls.std}`);
});

test('tiny: a second call reuses the cached file; the same seed gives the same bytes, another seed others', () => {
  const a = generateSynthetic('tiny', { out: dir });
  const mtime = statSync(a.path).mtimeMs;
  const again = generateSynthetic('tiny', { out: dir });
  assert.ok(again.cached, 'second call regenerated');
  assert.equal(statSync(again.path).mtimeMs, mtime);
  const side = JSON.parse(readFileSync(join(dir, 'tiny.json'), 'utf8'));
  assert.deepEqual(Object.keys(side).sort(), ['bytes', 'generatorVersion', 'mix', 'seed', 'shape']);
  assert.equal(side.bytes, a.bytes);
  const same = generateSynthetic('tiny', { out: join(dir, 'same') }), other = generateSynthetic('tiny', { out: join(dir, 'other'), seed: 2 });
  assert.ok(!same.cached && !other.cached);
  const A = readFileSync(a.path), B = readFileSync(same.path), C = readFileSync(other.path);
  assert.ok(A.equals(B), 'same seed, different bytes');
  assert.equal(C.length, A.length);
  assert.ok(!A.equals(C), 'another seed, same bytes');
  // Another seed in the same place: the sidecar no longer matches, so the file is regenerated.
  assert.ok(!generateSynthetic('tiny', { out: join(dir, 'same'), seed: 3 }).cached);
});

test('big presets: layout and totals in line with the real Q4_K_M files, without writing them', () => {
  const GB = 1e9;
  const p1 = planSynthetic('llama-3.2-1b'), p8 = planSynthetic('llama-3.1-8b'), p13 = planSynthetic('llama-2-13b');
  assert.ok(p1.fileBytes > 0.75 * GB && p1.fileBytes < 0.85 * GB, `1B: ${p1.fileBytes}`);
  assert.ok(p8.fileBytes > 4.5 * GB && p8.fileBytes < 5.2 * GB, `8B: ${p8.fileBytes}`);
  assert.ok(p13.fileBytes > 7.0 * GB && p13.fileBytes < 8.2 * GB, `13B: ${p13.fileBytes}`);
  for (const p of [p1, p8, p13]) {
    const { header, offsets, sizes } = p.header;
    assert.equal(header.length % 32, 0);
    offsets.forEach((o, i) => {
      assert.equal(o % 32, 0);
      if (i) assert.ok(o >= offsets[i - 1] + sizes[i - 1] && o < offsets[i - 1] + sizes[i - 1] + 32, `${p.name}: gap before tensor ${i}`);
    });
    assert.equal(p.fileBytes, header.length + offsets.at(-1)! + sizes.at(-1)!);
    // The header parses (offsets beyond 4 GiB included) against the planned size.
    const g = parseGguf(header, p.fileBytes);
    assert.equal(g.tensors.size, p.tensors.length);
    assert.equal(g.dataOffset, header.length);
    assert.equal(g.tensors.get(p.tensors.at(-1)!.name)!.offset, offsets.at(-1));
  }
  assert.equal(p1.tensors.find((t) => t.name === 'token_embd.weight')!.type, 14); // tied: the embedding is the output matrix
  assert.ok(!p1.tensors.some((t) => t.name === 'output.weight'));
  assert.equal(p8.tensors.find((t) => t.name === 'output.weight')!.type, 14);
  assert.equal(p13.tensors.filter((t) => t.type === 14).length, 1 + 2 * 20); // n = 40: i < 5, i ≥ 35, i = 7, 10, …, 34
  assert.equal(p8.header.offsets.at(-1)! > 2 ** 32, true);
});
