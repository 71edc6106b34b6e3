// Two small SVG chart kinds for the benchmark plots (no plotting dependency: the output is a few dozen elements).
const COLORS = ['#1b9e77', '#d95f02', '#7570b3', '#e7298a', '#66a61e', '#e6ab02', '#a6761d', '#666666'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
const W = 760, H = 340, P = { l: 64, r: 16, t: 34, b: 86 };

function frame(title: string, yLabel: string, ticks: { y: number; label: string }[], body: string[], legend: string[]): string {
  const lg = legend.map((n, i) => `<g transform="translate(${P.l + (i % 4) * 175},${H + 4 + Math.floor(i / 4) * 16})"><rect width="10" height="10" y="-9" fill="${COLORS[i % COLORS.length]}"/><text x="14" font-size="11">${esc(n)}</text></g>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H + 16 * Math.ceil(legend.length / 4) + 8}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="20" text-anchor="middle" font-size="13">${esc(title)}</text>
<text transform="translate(14,${(H - P.b + P.t) / 2}) rotate(-90)" text-anchor="middle" font-size="11">${esc(yLabel)}</text>
${ticks.map((t) => `<line x1="${P.l}" x2="${W - P.r}" y1="${t.y}" y2="${t.y}" stroke="#eee"/><text x="${P.l - 6}" y="${t.y + 4}" text-anchor="end" font-size="10">${t.label}</text>`).join('\n')}
<line x1="${P.l}" y1="${H - P.b}" x2="${W - P.r}" y2="${H - P.b}" stroke="#333"/><line x1="${P.l}" y1="${P.t}" x2="${P.l}" y2="${H - P.b}" stroke="#333"/>
${body.join('\n')}
${lg.join('\n')}
</svg>
`;
}

/** y axis (linear from 0, or log10) mapped into the plot area. */
function yAxis(values: number[], log: boolean): { y: (v: number) => number; ticks: { y: number; label: string }[] } {
  const pos = values.filter((v) => v > 0 && Number.isFinite(v));
  const top = Math.max(...pos, 1e-9);
  if (!log) {
    const step = 10 ** Math.floor(Math.log10(top / 2)) * (top / 10 ** Math.floor(Math.log10(top)) > 5 ? 2 : 1);
    const max = Math.ceil(top / step) * step;
    const y = (v: number) => H - P.b - (v / max) * (H - P.b - P.t);
    return { y, ticks: Array.from({ length: Math.round(max / step) + 1 }, (_, i) => ({ y: y(i * step), label: String(+(i * step).toPrecision(3)) })) };
  }
  const lo = Math.floor(Math.log10(Math.min(...pos))), hi = Math.ceil(Math.log10(top));
  const y = (v: number) => H - P.b - ((Math.log10(v) - lo) / Math.max(hi - lo, 1)) * (H - P.b - P.t);
  return { y, ticks: Array.from({ length: hi - lo + 1 }, (_, i) => ({ y: y(10 ** (lo + i)), label: String(10 ** (lo + i)) })) };
}

/** Grouped bars: one group per x label, one bar per series. */
export function barChart(o: { title: string; yLabel: string; groups: string[]; series: { name: string; values: (number | undefined)[] }[]; log?: boolean }): string {
  const { y, ticks } = yAxis(o.series.flatMap((s) => s.values.filter((v): v is number => v !== undefined)), !!o.log);
  const gw = (W - P.l - P.r) / o.groups.length, bw = (gw * 0.8) / o.series.length, base = H - P.b;
  const body: string[] = [];
  o.groups.forEach((g, gi) => {
    const gx = P.l + gi * gw;
    body.push(`<text transform="translate(${gx + gw / 2},${base + 10}) rotate(30)" font-size="10">${esc(g)}</text>`);
    o.series.forEach((s, si) => {
      const v = s.values[gi];
      if (v === undefined || !(v > 0)) return;
      const top = Math.min(y(v), base);
      body.push(`<rect x="${gx + gw * 0.1 + si * bw}" y="${top}" width="${bw - 1}" height="${base - top}" fill="${COLORS[si % COLORS.length]}"><title>${esc(`${s.name}, ${g}: ${+v.toPrecision(4)}`)}</title></rect>`);
    });
  });
  return frame(o.title, o.yLabel, ticks, body, o.series.map((s) => s.name));
}

/** Lines over a numeric x (log2 axis when `logX`). */
export function lineChart(o: { title: string; xLabel: string; yLabel: string; series: { name: string; points: [number, number][] }[]; logX?: boolean; logY?: boolean }): string {
  const { y, ticks } = yAxis(o.series.flatMap((s) => s.points.map((p) => p[1])), !!o.logY);
  const xs = [...new Set(o.series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const f = (v: number) => (o.logX ? Math.log2(v) : v);
  const x = (v: number) => P.l + 10 + ((f(v) - f(xs[0])) / Math.max(f(xs.at(-1)!) - f(xs[0]), 1e-9)) * (W - P.l - P.r - 20);
  const body = xs.map((v) => `<text x="${x(v)}" y="${H - P.b + 14}" text-anchor="middle" font-size="10">${v}</text>`);
  body.push(`<text x="${(W + P.l) / 2}" y="${H - P.b + 32}" text-anchor="middle" font-size="11">${esc(o.xLabel)}</text>`);
  o.series.forEach((s, si) => {
    const pts = [...s.points].sort((a, b) => a[0] - b[0]);
    body.push(`<polyline fill="none" stroke="${COLORS[si % COLORS.length]}" stroke-width="2" points="${pts.map((p) => `${x(p[0])},${y(p[1])}`).join(' ')}"/>`);
    for (const p of pts) body.push(`<circle cx="${x(p[0])}" cy="${y(p[1])}" r="3" fill="${COLORS[si % COLORS.length]}"><title>${esc(`${s.name}: ${p[0]} → ${+p[1].toPrecision(4)}`)}</title></circle>`);
  });
  return frame(o.title, o.yLabel, ticks, body, o.series.map((s) => s.name));
}
