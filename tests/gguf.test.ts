// GGUF reader and dequantizer: every tensor of both real models against the Python gguf package (hashes in
// tests/fixtures, made by scripts/reference/gguf_dequant_hashes.py), and malformed or truncated files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { parseGguf, GgufError, tensorBytes } from '../bindings/gguf/reader.js';
import { dequantize } from '../bindings/gguf/dequant.js';
import { typeInfo } from '../bindings/gguf/types.js';
import { configFromGguf } from '../bindings/model/config.js';
import { readModel } from '../bindings/models.js';
import { writeGguf } from '../bindings/gguf/writer.js';

for (const model of ['smollm2', 'gemma3']) {
  test(`${model}: every tensor dequantizes bit-identically to the Python gguf package`, async () => {
    const g = parseGguf((await readModel(model)).bytes);
    const ref = JSON.parse(readFileSync(new URL(`./fixtures/${model}-dequant.json`, import.meta.url), 'utf8'));
    assert.equal(g.tensors.size, Object.keys(ref).length);
    const types = new Set<string>();
    for (const [name, t] of g.tensors) {
      const out = new Float32Array(t.elements);
      dequantize(t.type, tensorBytes(g, name), t.elements, out);
      types.add(typeInfo(t.type).name);
      assert.equal(createHash('sha256').update(new Uint8Array(out.buffer)).digest('hex'), ref[name].sha256, `${name} (${typeInfo(t.type).name})`);
    }
    assert.ok(types.size >= 3, `types covered: ${[...types]}`);
  });
}

const tiny = () => writeGguf(
  [['general.architecture', 'str', 'llama'], ['general.alignment', 'u32', 32], ['llama.block_count', 'u32', 1], ['tokenizer.ggml.tokens', 'strs', ['a', 'b']]],
  [{ name: 'x', dims: [32, 2], type: 0, data: new Uint8Array(new Float32Array(64).map((_, i) => i).buffer) },
   { name: 'q', dims: [32], type: 8, data: new Uint8Array(34).fill(1) }],
);

test('a small valid file parses', () => {
  const g = parseGguf(tiny());
  assert.equal(g.metadata.get('general.architecture'), 'llama');
  const out = new Float32Array(64);
  dequantize(0, tensorBytes(g, 'x'), 64, out);
  assert.equal(out[63], 63);
});

test('every truncation of a file is a GgufError that says "truncated"', () => {
  const bytes = tiny();
  for (let len = 0; len < bytes.length; len++) {
    assert.throws(() => parseGguf(bytes.subarray(0, len)), (e: Error) => e instanceof GgufError && /truncated|not a GGUF/.test(e.message), `length ${len}`);
  }
});

test('a real model cut short is refused with the tensor that no longer fits', async () => {
  const { bytes } = await readModel('smollm2');
  assert.throws(() => parseGguf(bytes.subarray(0, bytes.length - 1000)), /truncated: tensor .* ends at byte/);
  assert.throws(() => parseGguf(bytes.subarray(0, 5000)), GgufError);
});

test('bad magic, version, tensor type, metadata type and architecture give clear errors', () => {
  const b = tiny();
  const bad = (at: number, v: number) => { const c = b.slice(); c[at] = v; return c; };
  assert.throws(() => parseGguf(bad(0, 0x47 ^ 0xff)), /not a GGUF file/);
  assert.throws(() => parseGguf(bad(4, 9)), /unsupported GGUF version 9/);
  const unknownType = writeGguf([], [{ name: 't', dims: [32], type: 99, data: new Uint8Array(32) }]);
  assert.throws(() => parseGguf(unknownType), /tensor t has unsupported type 99/);
  const other = writeGguf([['general.architecture', 'str', 'gptj']], []);
  assert.throws(() => configFromGguf(parseGguf(other)), /unsupported architecture "gptj"/);
});

test('random corruption: the parser either succeeds or throws a GgufError, never anything else', () => {
  const b = tiny();
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(b.length - 1), fc.nat(255)), { minLength: 1, maxLength: 8 }), (edits) => {
    const c = b.slice();
    for (const [at, v] of edits) c[at] = v;
    try { parseGguf(c); } catch (e) { assert.ok(e instanceof GgufError, `unexpected ${(e as Error).name}: ${(e as Error).message}`); }
  }), { numRuns: Number(process.env.FC_RUNS ?? 2000), seed: 11 });
});
