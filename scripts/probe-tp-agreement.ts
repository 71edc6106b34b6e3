// Why greedy text can differ between TP degrees under quantized decode: the logits of decode steps after the same
// prefill, TP 2 and 3 against TP 1, with f32 decode arithmetic and with int8-activation decode (--decode-weights gguf).
// Usage: node --import tsx scripts/probe-tp-agreement.ts [model = smollm2] [steps = 16]
import { Engine } from '../bindings/engine.js';
import { argmax } from '../bindings/eval/metrics.js';

const model = process.argv[2] ?? 'smollm2', steps = Number(process.argv[3] ?? 16);
const text = 'Tensor parallelism splits each layer of a language model across devices, and the partial sums are added.';
async function decodeLogits(tp: number, quantizedDecode: boolean): Promise<Float32Array[]> {
  const e = await Engine.load(model, { tp, quantizedDecode, context: 256 });
  const ids = e.encode(text), out: Float32Array[] = [];
  await e.forward(ids.slice(0, 8));
  for (let i = 8; i < Math.min(ids.length, 8 + steps); i++) out.push((await e.forward([ids[i]])).logits.slice());
  await e.close();
  return out;
}
const rel = (a: Float32Array[], b: Float32Array[]) => Math.max(...a.map((v, i) => {
  let d = 0, m = 0;
  for (let j = 0; j < v.length; j++) { d = Math.max(d, Math.abs(v[j] - b[i][j])); m = Math.max(m, Math.abs(v[j])); }
  return d / m;
}));
const agree = (a: Float32Array[], b: Float32Array[]) => a.filter((v, i) => argmax(v) === argmax(b[i])).length;
console.log(`| decode arithmetic | comparison | max |Δlogit| ÷ max |logit| over the steps | argmax agreement |\n|---|---|---|---|`);
for (const q of [false, true]) {
  const one = await decodeLogits(1, q);
  for (const tp of [2, 3]) {
    const other = await decodeLogits(tp, q);
    console.log(`| ${q ? 'int8 activations (gguf)' : 'f32'} | TP ${tp} vs TP 1 | ${rel(other, one).toExponential(1)} | ${agree(other, one)}/${one.length} |`);
  }
  if (q) console.log(`| int8 vs f32 | TP 1 | ${rel(one, await decodeLogits(1, false)).toExponential(1)} | |`);
}
