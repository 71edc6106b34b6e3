// Probe (not a product mode): divide each feature of a partial by its calibrated range before dynamic group
// quantization and multiply it back per shard after decoding (SmoothQuant-style), for the ≤ 3.5-bit target.
// Calibration split only for the ranges; mean KL and top-1 vs exact on evaluation windows, no task items.
// Usage: node --import tsx scripts/probe-smooth.ts [model] [tp] [windows]
import { Engine } from '../bindings/engine.js';
import { ensureProfile } from '../bindings/commands.js';
import { loadCorpus, windows } from '../bindings/eval/corpus.js';
import { evaluate, ModeSpec } from '../bindings/eval/run.js';

const [model = 'smollm2', tp = '2', nWin = '2'] = process.argv.slice(2);
const engine = await Engine.load(model, { tp: Number(tp), maxBatch: 128 });
try {
  const { sites } = await ensureProfile(engine, model, 1 / 64, undefined, (m) => process.stderr.write(m));
  const corpus = await loadCorpus();
  const ws = windows(corpus.evaluation, (t) => engine.encode(t, false), 128 - (engine.tok.addBos ? 1 : 0), Number(nWin), 5)
    .map((w) => (engine.tok.addBos ? [engine.tok.bos, ...w] : w));
  const modes: ModeSpec[] = [{ label: 'exact', mode: 'exact', algorithm: 'all-gather' }];
  const codecs = (process.env.CODECS ?? 'int4-g32,int4-g128-sym,int4-g128,int3-g32,int3-g64,int3-g128,outlier-int3-g64,outlier-int4-g128').split(',');
  for (const codec of codecs)
    for (const smooth of [false, true]) modes.push({ label: `${smooth ? 'smooth ' : ''}${codec}`, mode: codec, algorithm: 'all-gather', smooth });
  const res = await evaluate(engine, modes, { windows: ws, cloze: [], choice: [] }, sites, 1 / 64, (m) => process.stderr.write(`\r\x1b[2K${m}`));
  console.log(`\n${model} TP ${tp}, ${ws.length} × 128-token evaluation windows\n\n| mode | wire bits/value | mean KL to exact | top-1 agree | perplexity |\n|---|---|---|---|---|`);
  for (const r of res) console.log(`| ${r.label} | ${r.bitsPerValue.toFixed(2)} | ${r.meanKL.toFixed(4)} | ${(100 * r.top1).toFixed(1)} % | ${r.ppl.toFixed(2)} |`);
} finally { await engine.close(); }
