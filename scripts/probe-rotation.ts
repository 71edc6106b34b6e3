// Probe (not a product mode): does a signed Hadamard rotation of each 64-feature block before group quantization
// make ≤ 3.5-bit all-reduce accurate enough? Mean KL and top-1 vs exact on evaluation windows, TP 2, no task items.
// Usage: node --import tsx scripts/probe-rotation.ts [model] [tp] [windows]
import { Engine } from '../bindings/engine.js';
import { loadCorpus, windows } from '../bindings/eval/corpus.js';
import { evaluate, ModeSpec } from '../bindings/eval/run.js';

const [model = 'smollm2', tp = '2', nWin = '2'] = process.argv.slice(2);
const engine = await Engine.load(model, { tp: Number(tp), maxBatch: 128 });
try {
  const corpus = await loadCorpus();
  const ws = windows(corpus.evaluation, (t) => engine.encode(t, false), 128 - (engine.tok.addBos ? 1 : 0), Number(nWin), 5)
    .map((w) => (engine.tok.addBos ? [engine.tok.bos, ...w] : w));
  const modes: ModeSpec[] = [{ label: 'exact', mode: 'exact', algorithm: 'all-gather' }];
  for (const codec of ['int4-g32', 'int4-g128', 'int3-g32', 'int3-g64', 'int3-g128', 'int2-g32'])
    for (const rotate of [0, 64]) modes.push({ label: `${rotate ? 'rot64 ' : ''}${codec}`, mode: codec, algorithm: 'all-gather', rotate: rotate || undefined });
  const res = await evaluate(engine, modes, { windows: ws, cloze: [], choice: [] }, null, 1 / 64, (m) => process.stderr.write(`\r\x1b[2K${m}`));
  console.log(`\n${model} TP ${tp}, ${ws.length} × 128-token evaluation windows\n\n| mode | wire bits/value | mean KL to exact | top-1 agree | perplexity |\n|---|---|---|---|---|`);
  for (const r of res) console.log(`| ${r.label} | ${r.bitsPerValue.toFixed(2)} | ${r.meanKL.toFixed(4)} | ${(100 * r.top1).toFixed(1)} % | ${r.ppl.toFixed(2)} |`);
} finally { await engine.close(); }
