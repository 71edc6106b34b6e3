// Tokenizers from GGUF metadata against Hugging Face transformers loading the same file (fixtures made by
// scripts/reference/tokenizer_fixture.py over >= 1000 lines of python3.11-doc text plus edge cases).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseGguf } from '../bindings/gguf/reader.js';
import { tokenizerFromGguf } from '../bindings/tokenizer/index.js';
import { readModel } from '../bindings/models.js';

for (const model of ['smollm2', 'gemma3']) {
  test(`${model}: token ids identical to transformers on every fixture line`, async () => {
    const { tokenizer } = tokenizerFromGguf(parseGguf((await readModel(model)).bytes));
    const lines = readFileSync(new URL(`./fixtures/tokenizer-${model}.jsonl`, import.meta.url), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(lines.length >= 1000);
    assert.ok(lines.some((l) => /[^\x00-\x7f]/.test(l.text)) && lines.some((l) => /\d/.test(l.text)) && lines.some((l) => /\s{2,}/.test(l.text)));
    let same = 0;
    for (const { text, ids } of lines) {
      const got = tokenizer.encode(text);
      assert.deepEqual(got, ids, JSON.stringify(text).slice(0, 80));
      same++;
      if (!/<\|im_start\|>|<start_of_turn>/.test(text)) assert.equal(tokenizer.decode(got), text, 'decode round trip');
    }
    assert.equal(same, lines.length);
  });
}
