// Markdown, JSON and an SVG plot of evaluation results: task score (% of exact) against wire bits/value.
import { ModeResult } from './run.js';

export interface RunReport { model: string; tp: number; algorithm: string; profile: string | null; items: Record<string, number>; seconds: number; results: ModeResult[] }

export function markdownTable(runs: RunReport[]): string {
  const tasks = [...new Set(runs.flatMap((r) => r.results.flatMap((x) => Object.keys(x.tasks))))];
  const lines = [
    `| model | TP | mode | all-reduce | wire bits/value | ${tasks.join(' | ')} | % of exact | perplexity | mean KL (nat) | top-1 agree |`,
    `|---|---|---|---|---|${tasks.map(() => '---|').join('')}---|---|---|---|`,
  ];
  // 95 % bootstrap intervals in brackets where the run recorded its samples (bindings/eval/bootstrap.ts)
  const iv = (x: [number, number] | undefined, f: (v: number) => string) => (x && r0(x) ? ` [${f(x[0])}, ${f(x[1])}]` : '');
  const r0 = (x: [number, number]) => Number.isFinite(x[0]) && Number.isFinite(x[1]);
  for (const run of runs) for (const r of run.results) {
    const ci = r.mode === 'exact' ? undefined : r.ci;
    const pct = (v: number) => (100 * v).toFixed(1);
    lines.push(`| ${run.model} | ${run.tp} | ${r.label} | ${r.mode === 'exact' ? 'f32 sum' : r.algorithm} | ${r.bitsPerValue.toFixed(2)} | ` +
      tasks.map((t) => (r.tasks[t] === undefined ? '' : pct(r.tasks[t]) + iv(ci?.tasks[t], pct))).join(' | ') +
      ` | ${r.scorePct?.toFixed(2) ?? ''}${iv(ci?.scorePct, (v) => v.toFixed(1))} | ${r.ppl.toFixed(3)}${iv(ci?.ppl, (v) => v.toFixed(2))}` +
      ` | ${r.meanKL.toFixed(4)}${iv(ci?.meanKL, (v) => v.toFixed(4))} | ${(100 * r.top1).toFixed(1)} %${iv(ci?.top1, pct)} |`);
  }
  return lines.join('\n');
}

const family = (mode: string): string => {
  if (mode === 'exact' || mode === 'bf16' || mode === 'f16') return '16/32-bit';
  if (mode.startsWith('random-')) return 'random 16-bit selection';
  if (/^(outlier-)?rot\d/.test(mode)) return mode.startsWith('outlier-') ? 'Hadamard rotation + 16-bit outliers' : 'block-Hadamard rotation (codec 7)';
  if (mode.endsWith('-rows')) return 'paper + raw outlier tokens';
  if (mode.startsWith('outlier-') && mode.includes('static')) return 'top-range outliers + static int (paper)';
  if (mode.startsWith('outlier-')) return 'top-range outliers + group int';
  if (mode.includes('static')) return 'static int';
  return 'group int';
};
/** Mean KL (log scale) vs wire bits/value, one point per mode, 95 % interval as a vertical bar. */
export function svgKlPlot(runs: RunReport[]): string {
  const W = 640, H = 360, pad = { l: 64, r: 16, t: 30, b: 44 };
  const pts = runs.flatMap((run) => run.results.filter((r) => r.mode !== 'exact' && r.meanKL > 0).map((r) => ({ r, run })));
  const xmin = 2.5, xmax = 10, kmin = 1e-4, kmax = 2;
  const xs = (b: number) => pad.l + ((Math.min(b, xmax) - xmin) / (xmax - xmin)) * (W - pad.l - pad.r);
  const ys = (k: number) => H - pad.b - ((Math.log10(Math.min(Math.max(k, kmin), kmax)) - Math.log10(kmin)) / (Math.log10(kmax) - Math.log10(kmin))) * (H - pad.t - pad.b);
  const fams = [...new Set(pts.map((p) => family(p.r.mode)))];
  const g: string[] = [`<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">${runs.map((r) => `${r.model} TP ${r.tp}`).filter((v, i, a) => a.indexOf(v) === i).join(', ')}: mean KL to exact vs wire bits/value (prefill)</text>`,
    `<line x1="${pad.l}" y1="${H - pad.b}" x2="${W - pad.r}" y2="${H - pad.b}" stroke="#333"/>`, `<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${H - pad.b}" stroke="#333"/>`];
  for (let b = 3; b <= 10; b++) g.push(`<text x="${xs(b)}" y="${H - pad.b + 16}" text-anchor="middle" font-size="11">${b}</text>`);
  for (const k of [1e-4, 1e-3, 1e-2, 0.03, 0.1, 1]) g.push(`<text x="${pad.l - 6}" y="${ys(k) + 4}" text-anchor="end" font-size="11">${k}</text>`, `<line x1="${pad.l}" y1="${ys(k)}" x2="${W - pad.r}" y2="${ys(k)}" stroke="${k === 0.03 || k === 0.1 ? '#f99' : '#eee'}"/>`);
  g.push(`<text x="${W / 2}" y="${H - 8}" text-anchor="middle" font-size="11">wire bits/value</text>`, `<text transform="translate(14,${H / 2}) rotate(-90)" text-anchor="middle" font-size="11">mean KL (nat/token), log</text>`);
  for (const { r } of pts) {
    const col = COLORS[fams.indexOf(family(r.mode)) % COLORS.length];
    if (r.ci) g.push(`<line x1="${xs(r.bitsPerValue)}" x2="${xs(r.bitsPerValue)}" y1="${ys(r.ci.meanKL[0])}" y2="${ys(r.ci.meanKL[1])}" stroke="${col}"/>`);
    g.push(`<circle cx="${xs(r.bitsPerValue)}" cy="${ys(r.meanKL)}" r="4" fill="${col}"><title>${r.label}: ${r.bitsPerValue.toFixed(2)} bits, KL ${r.meanKL.toFixed(4)}</title></circle>`);
  }
  const legend = fams.map((f, i) => `<g transform="translate(${10 + (i % 2) * 320},${H + 14 + Math.floor(i / 2) * 18})"><circle r="5" cx="5" cy="-4" fill="${COLORS[i % COLORS.length]}"/><text x="16" y="0" font-size="12">${f}</text></g>`).join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H + 20 + 18 * Math.ceil(fams.length / 2)}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>\n${g.join('\n')}\n${legend}\n</svg>\n`;
}

const COLORS = ['#1b9e77', '#d95f02', '#7570b3', '#e7298a', '#66a61e', '#e6ab02', '#a6761d'];

/** Score (% of exact) vs bits/value, one series per codec family; one panel per model/TP run. */
export function svgPlot(runs: RunReport[]): string {
  const W = 460, H = 300, pad = { l: 56, r: 16, t: 30, b: 44 };
  const pts = runs.flatMap((r) => r.results.filter((x) => x.scorePct !== undefined));
  const ymin = Math.floor(Math.min(90, ...pts.map((p) => p.scorePct!)) / 5) * 5, ymax = Math.max(102, ...pts.map((p) => p.scorePct!));
  const xs = (b: number) => pad.l + ((Math.log2(Math.min(b, 32)) - 1) / (Math.log2(32) - 1)) * (W - pad.l - pad.r);
  const ys = (s: number) => H - pad.b - ((s - ymin) / (ymax - ymin)) * (H - pad.t - pad.b);
  const fams = [...new Set(pts.map((p) => family(p.mode)))];
  const panels = runs.map((run, i) => {
    const ox = i * W;
    const g: string[] = [`<g transform="translate(${ox},0)">`, `<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">${run.model}, TP ${run.tp}</text>`,
      `<line x1="${pad.l}" y1="${H - pad.b}" x2="${W - pad.r}" y2="${H - pad.b}" stroke="#333"/>`, `<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${H - pad.b}" stroke="#333"/>`];
    for (const b of [2, 4, 8, 16, 32]) g.push(`<text x="${xs(b)}" y="${H - pad.b + 16}" text-anchor="middle" font-size="11">${b}</text>`);
    for (let s = ymin; s <= ymax; s += 5) g.push(`<text x="${pad.l - 6}" y="${ys(s) + 4}" text-anchor="end" font-size="11">${s}</text>`, `<line x1="${pad.l}" y1="${ys(s)}" x2="${W - pad.r}" y2="${ys(s)}" stroke="#eee"/>`);
    g.push(`<text x="${W / 2}" y="${H - 8}" text-anchor="middle" font-size="11">wire bits/value (log scale)</text>`);
    if (i === 0) g.push(`<text transform="translate(14,${H / 2}) rotate(-90)" text-anchor="middle" font-size="11">task score, % of exact</text>`);
    for (const [fi, f] of fams.entries()) {
      const ps = run.results.filter((r) => r.scorePct !== undefined && family(r.mode) === f).sort((a, b) => a.bitsPerValue - b.bitsPerValue);
      if (ps.length > 1) g.push(`<polyline fill="none" stroke="${COLORS[fi % COLORS.length]}" points="${ps.map((p) => `${xs(p.bitsPerValue)},${ys(p.scorePct!)}`).join(' ')}"/>`);
      for (const p of ps) g.push(`<circle cx="${xs(p.bitsPerValue)}" cy="${ys(p.scorePct!)}" r="4" fill="${COLORS[fi % COLORS.length]}"><title>${p.label}: ${p.bitsPerValue.toFixed(2)} bits, ${p.scorePct!.toFixed(2)} %</title></circle>`);
    }
    g.push('</g>');
    return g.join('\n');
  });
  const legend = fams.map((f, i) => `<g transform="translate(${10 + (i % 3) * 300},${H + 14 + Math.floor(i / 3) * 18})"><circle r="5" cx="5" cy="-4" fill="${COLORS[i % COLORS.length]}"/><text x="16" y="0" font-size="12">${f}</text></g>`).join('\n');
  const width = Math.max(W * runs.length, 900), height = H + 20 + 18 * Math.ceil(fams.length / 3);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>\n${panels.join('\n')}\n${legend}\n</svg>\n`;
}
