// Probe (issue 12): does one step per row (§13, -row-ec) beat a scale per 128-block (§12, -g128-ec) in `best`?
// One profile holds the per-site sensitivities of all six families (the ones it lacks are measured here, on the
// profile's own sensitivity sequences, and saved into it), so the three allocations below differ only in the families
// they may choose from: same ranges, same sensitivity sequences, same evaluation windows. Writes a RunReport-shaped
// JSON (scripts/probe-frontier.ts reads that shape).
// Usage: node --import tsx scripts/probe-row-step.ts MODEL TP PROFILE OUT.json [windows = 4] [windowTokens = 128] [budgets = 3.25,4.25,5.25]
import { writeFileSync } from 'node:fs';
import { Engine } from '../bindings/engine.js';
import { loadCorpus, windows } from '../bindings/eval/corpus.js';
import { evaluate, ModeSpec, scoreAgainstExact } from '../bindings/eval/run.js';
import { RunReport } from '../bindings/eval/report.js';
import { calibrationSequences, loadProfileFor } from '../bindings/commands.js';
import { makeAllocation, measureSensitivity } from '../bindings/calibrate/allocate.js';

const ROW = ['rot128-int*-row-ec', 'outlier-rot128-int*-row-ec-k2', 'outlier-rot128-int*-row-ec'];
const BLOCK = ['rot128-int*-g128-ec', 'outlier-rot128-int*-g128-ec-k2', 'outlier-rot128-int*-g128-ec'];
const FAMILIES = [...ROW, ...BLOCK];
const [model, tp, path, out, nWin = '4', winTok = '128', budgets = '3.25,4.25,5.25'] = process.argv.slice(2);
const t0 = Date.now();
const engine = await Engine.load(model, { tp: Number(tp), maxBatch: 64 });
try {
  let prof = await loadProfileFor(engine, path);
  const a = prof.profile.allocation;
  if (!a) throw new Error(`${path} has no per-site sensitivities (run calibrate --bits)`);
  const missing = FAMILIES.filter((f) => !a.sensitivity[f] || !a.probeWireBits?.[f]);
  if (missing.length) {
    const p = prof.profile, { seqs } = await calibrationSequences(engine, p.calibration.text?.file, a.calibration.tokens, a.calibration.sequences);
    for (const f of missing) {
      const m = await measureSensitivity(engine, seqs, f, a.probeBits, prof.sites, p.fraction, (msg) => process.stderr.write(`${f} ${msg}\n`));
      a.sensitivity[f] = m.kl; (a.probeWireBits ??= {})[f] = m.bits;
    }
    a.families = [...new Set([...a.families, ...missing])];
    writeFileSync(path, JSON.stringify(p));
    prof = await loadProfileFor(engine, path);
  }
  const sets: Record<string, string[]> = {
    'row step (§13)': ROW, 'block scales (§12)': BLOCK, 'both': FAMILIES,
  };
  const specs: ModeSpec[] = [{ label: 'exact', mode: 'exact', algorithm: 'all-gather' }];
  const a2 = prof.profile.allocation!;
  for (const b of budgets.split(',').map(Number)) for (const [name, fams] of Object.entries(sets)) {
    const pick = <T>(r: Record<string, T>) => Object.fromEntries(fams.map((f) => [f, r[f]]));
    const alloc = makeAllocation(pick(a2.sensitivity), a2.probeBits, b, engine.cfg.hidden, prof.profile.fraction, a2.calibration, a2.rows, pick(a2.probeWireBits ?? {}));
    specs.push({ label: `best:${b} ${name}`, mode: `best:${b}`, algorithm: 'all-gather', siteModes: alloc.siteModes });
    console.error(`best:${b} ${name}: modelled ${alloc.wireBits.toFixed(3)} bits, KL ${alloc.predictedKL.toFixed(4)}`);
  }
  const corpus = await loadCorpus();
  const ws = windows(corpus.evaluation, (t) => engine.encode(t, false), Number(winTok) - (engine.tok.addBos ? 1 : 0), Number(nWin), 5)
    .map((w) => (engine.tok.addBos ? [engine.tok.bos, ...w] : w));
  const results = await evaluate(engine, specs, { windows: ws, cloze: [], choice: [] }, prof.sites, prof.profile.fraction, (m) => process.stderr.write(`${m}\n`));
  scoreAgainstExact(results);
  const report: RunReport = { model, tp: Number(tp), algorithm: 'all-gather', profile: path, items: { windows: ws.length, windowTokens: Number(winTok), cloze: 0, seed: 5 },
    seconds: (Date.now() - t0) / 1000, results };
  writeFileSync(out, JSON.stringify(report, null, 1));
  console.log(`| allocation | wire bits/value | mean KL [95 %] | perplexity |\n|---|---|---|---|`);
  for (const r of results) console.log(`| ${r.label} | ${r.bitsPerValue.toFixed(3)} | ${r.meanKL.toFixed(4)} [${r.ci?.meanKL?.map((v) => v.toFixed(4)).join(', ') ?? '–'}] | ${r.ppl.toFixed(2)} |`);
} finally { await engine.close(); }
