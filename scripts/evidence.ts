// Evidence for the engine (issue 3, item 10): TP 1 logits vs Hugging Face transformers on the same GGUF (fixtures
// from scripts/reference/logits_fixture.py), and TP N exact vs TP 1. Prints a table; run: npm run evidence
import { readFileSync } from 'node:fs';
import { Engine } from '../bindings/engine.js';
import { compareLogits, compareWithFixture } from '../bindings/eval/agreement.js';

const plan: [string, number[]][] = [['smollm2', [2, 3]], ['gemma3', [2, 4]]];
console.log('| model | comparison | positions | max abs Δlogit | mean abs Δlogit | max rel. diff | argmax agreement |');
console.log('|---|---|---|---|---|---|---|');
for (const [model, tps] of plan) {
  const fx = JSON.parse(readFileSync(new URL(`../tests/fixtures/logits-${model}.json`, import.meta.url), 'utf8'));
  const e1 = await Engine.load(model, { tp: 1 });
  const ref = await e1.forward(fx.ids, true);
  await e1.close();
  const V = e1.cfg.vocab, a = compareWithFixture(ref.logits, V, fx);
  console.log(`| ${model} | TP 1 vs transformers (f32, CPU) | ${a.positions} | ${a.maxAbsDelta.toExponential(2)} | ${a.meanAbsDelta.toExponential(2)} | | ${(100 * a.argmaxAgree).toFixed(1)} % |`);
  for (const tp of tps) {
    const e = await Engine.load(model, { tp });
    const out = await e.forward(fx.ids, true);
    await e.close();
    const c = compareLogits(out.logits, ref.logits, V);
    console.log(`| ${model} | TP ${tp} exact vs TP 1 | ${fx.ids.length} | | | ${c.maxRel.toExponential(2)} | ${(100 * c.argmaxAgree).toFixed(1)} % |`);
  }
}
