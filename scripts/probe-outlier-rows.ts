// Calibration profile for the static codecs' -rows variants (issue 12, outlier tokens): the same calibration as
// `lowbit-tp calibrate` (32 × 128 tokens of the calibration split, EMA momentum 0.9), with outlier-token rows
// (bindings/calibrate/ranges.ts outlierRows) left out of the ranges. Evaluate with
//   node dist/bindings/cli.js eval --profile OUT --comm outlier-int4-static-rows …
// Usage: node --import tsx scripts/probe-outlier-rows.ts [model] [tp] [out]
import { Engine } from '../bindings/engine.js';
import { runCalibration } from '../bindings/commands.js';

const [model = 'smollm2', tp = '3', out = `out/frontier/profile-${model}-tp${tp}-rows.json`] = process.argv.slice(2);
const engine = await Engine.load(model, { tp: Number(tp), maxBatch: 128 });
try {
  const p = await runCalibration(engine, { sequences: 32, tokens: 128, fraction: 1 / 64, out, say: (m) => process.stderr.write(m.endsWith('\n') ? m : `${m}\r`), outlierRows: true });
  const skipped = p.calibration.rowsSkipped!;
  console.log(`outlier-token rows left out per site and shard (of ${32} sequences × ${128} rows):`);
  skipped.forEach((s, site) => { if (s.some((x) => x > 0)) console.log(`  site ${site}: ${s.join(', ')}`); });
} finally { await engine.close(); }
