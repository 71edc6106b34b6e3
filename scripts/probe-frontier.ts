// Regenerates docs/results/accuracy-frontier.{md,svg} from the eval JSONs in docs/results/frontier/ (issue 12):
// the tables with 95 % bootstrap intervals, wire bits/value at prefill (measured in the run) and for a single-token
// message (bytes on the link for one row: the encoder's block with the compact header of wire-format §11), and the
// KL-vs-bits plot.
// Usage: node --import tsx scripts/probe-frontier.ts [dir = docs/results/frontier]
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { markdownTable, RunReport, svgKlPlot } from '../bindings/eval/report.js';
import { parseCommMode, contextFor } from '../bindings/calibrate/plan.js';
import { encodeReference } from '../bindings/codec/reference.js';
import { COMPACT_SKIP } from '../bindings/codec/compact.js';
import { FeatureRanges } from '../bindings/calibrate/ranges.js';
import { Rng } from '../bindings/util/rng.js';

const dir = process.argv[2] ?? 'docs/results/frontier';
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
const runs: RunReport[] = files.map((f) => JSON.parse(readFileSync(`${dir}/${f}`, 'utf8')));

/** Bits/value of one message of `tokens` rows × F features on the link (compact header, §11); sites: the mean over them. */
function messageBits(mode: string, F: number, tokens: number, siteModes?: string[]): number {
  if (siteModes) return siteModes.reduce((a, sm) => a + messageBits(sm, F, tokens), 0) / siteModes.length;
  const m = parseCommMode(mode.split('@')[0]);
  if (m.exact) return 32;
  const r = new FeatureRanges(F); r.lo.fill(-4); r.hi.fill(4); r.batches = 1;
  const ctx = contextFor(m, F, r, 1 / 64, 1);
  // Gaussian values: fixed-rate codes do not care, and an entropy-coded stream (-ec) costs what its tables assume; the
  // mean over 16 messages, so a one-row figure is not one row's luck
  const rng = new Rng(5);
  let bits = 0;
  for (let k = 0; k < 16; k++) {
    const x = Float32Array.from({ length: tokens * F }, () => rng.normal() * 2);
    bits += (8 * (encodeReference(ctx, x, tokens).length - COMPACT_SKIP)) / (tokens * F) / 16;
  }
  return bits;
}

// one row per mode label (SmolLM2's F = 576; `best` rows use the per-site modes of the SmolLM2 TP 3 run of today's
// families, the row-step ones of the *-best-row.json files)
const results = new Map<string, RunReport['results'][number]>();
const today = runs.filter((_, i) => files[i].includes('-best-row'));
for (const x of today.filter((r) => r.model === 'smollm2').concat(runs.filter((r) => r.model === 'smollm2'), runs).flatMap((r) => r.results)) if (!results.has(x.label)) results.set(x.label, x);
const single = ['| mode | bits/value, 128 × 576 message | 1 × 576 message (all-gather decode step) | decode − prefill | 1 × 192 (rs-ag chunk, TP 3) |', '|---|---|---|---|---|'];
for (const [label, r] of results) {
  const mode = label.replace(/ \((all-gather|rs-ag)\)$/, '');
  if (mode === 'exact') continue;
  const pre = messageBits(mode, 576, 128, r.siteModes), dec = messageBits(mode, 576, 1, r.siteModes);
  single.push(`| ${label} | ${pre.toFixed(3)} | ${dec.toFixed(3)} | +${(dec - pre).toFixed(3)} | ${r.siteModes ? '–' : messageBits(mode, 192, 1).toFixed(3)} |`);
}
const md = `# Bits–accuracy frontier of the all-reduce codecs (issue 12)

Regenerate: \`node --import tsx scripts/probe-frontier.ts\` (reads docs/results/frontier/*.json; the commands that made
them: [frontier/commands.md](frontier/commands.md)). Intervals in brackets: 95 % bootstrap (2000 resamples; perplexity, KL and
top-1 over the 4 token windows, task scores over items, "% of exact" paired with exact's outcomes on the same items).

Per-site allocation (\`best:B\`): the \`*-best-row.json\` runs are today's \`best\`: three families with one step per
row and entropy-coded levels (\`-row-ec\`, wire-format §13; rotation without outliers, with 2 and with E/64 16-bit
features), each site's cost taken from the bits it measurably sent on the calibration sequences. The \`*-best-ec.json\`
runs allocated over the same three families with a bf16 scale per 128-block instead (\`-g128-ec\`, §12), on the
profiles of sessions 12–13. The \`*-best-lm.json\` runs allocate over the six
families before \`-ec\` (uniform and Lloyd–Max levels); \`kl-smollm2-tp3-best.json\`, \`kl-smollm2-tp3-best-s3.json\`
(sensitivities from 3 sequences) and \`kl-gemma3-tp*.json\` over three uniform families. Probes (not read here) are in
\`frontier/probes/\`: best over all nine families with -ec costs modelled at the Gaussian mean (it took -ec at every
site and sent 0.03 bits/value over budget), and the first row of a prompt at 7 bits.

${runs.map((r, i) => `### ${r.model} TP ${r.tp} (${files[i]}): ${Object.entries(r.items).map(([k, v]) => `${k} ${v}`).join(', ')}; profile ${r.profile?.split('/').pop() ?? 'none'}\n\n${markdownTable([r])}\n`).join('\n')}

## Wire bits/value per message size (on the link: encoder output with the 8-byte compact header of wire-format §11)

${single.join('\n')}

![KL vs bits](accuracy-frontier.svg)
`;
writeFileSync('docs/results/accuracy-frontier.md', md + (process.env.FRONTIER_NOTES ? readFileSync(process.env.FRONTIER_NOTES, 'utf8') : ''));
writeFileSync('docs/results/accuracy-frontier.svg', svgKlPlot(runs));
console.log(md);
