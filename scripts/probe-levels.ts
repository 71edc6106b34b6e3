// Probe (issue 12 item 2, not a product mode): would non-uniform 16-level codes beat codec 7's uniform levels at the
// same 4 bits + one bf16 scale per 128-value group? Error power (mean squared error / variance) on blocks that look
// like rotated partial sums: Gaussian (what a Hadamard rotation of many features tends to) and Student-t with 5 degrees
// of freedom (heavier tails: a block that still holds an outlier feature). The allocation's model (KL ∝ error power,
// calibrate/allocate.ts) turns a ratio into a KL estimate: best:4.25's measured KL × ratio.
// Usage: node --import tsx scripts/probe-levels.ts [groups = 20000]
import { Rng } from '../bindings/util/rng.js';
import { bf16Up, f32FromBf16 } from '../bindings/codec/numerics.js';

const groups = Number(process.argv[2] ?? 20000), G = 128, rng = new Rng(42);
// Lloyd–Max levels of N(0, 1) for 16 levels (positive half; Max 1960), and QLoRA's NF4 on [−1, 1].
const LLOYD = [0.1284, 0.3881, 0.6568, 0.9424, 1.2562, 1.6181, 2.0690, 2.7326];
const NF4 = [-1, -0.6962, -0.5251, -0.3949, -0.2844, -0.1848, -0.0911, 0, 0.0796, 0.1609, 0.2461, 0.3379, 0.4407, 0.5626, 0.7230, 1];
const sym = (h: number[]) => [...h.map((x) => -x).reverse(), ...h];

/** Nearest level of `levels` (sorted) × s. */
const nearest = (x: number, levels: number[], s: number) => {
  let best = levels[0] * s;
  for (const l of levels) if (Math.abs(l * s - x) < Math.abs(best - x)) best = l * s;
  return best;
};
const quantizers: Record<string, (b: Float64Array) => Float64Array> = {
  // codec 7 today: levels (q − 7.5) · s, s = bf16_up(absmax / 7.5)
  'uniform, absmax scale (codec 7)': (b) => { const a = Math.max(...b.map(Math.abs)), s = f32FromBf16(bf16Up(a / 7.5)); return b.map((x) => nearest(x, Array.from({ length: 16 }, (_, q) => q - 7.5), s)); },
  'uniform, MSE-optimal clip 2.73 σ': (b) => { const r = Math.sqrt(b.reduce((t, x) => t + x * x, 0) / b.length), s = f32FromBf16(bf16Up((2.73 * r) / 7.5)); return b.map((x) => nearest(x, Array.from({ length: 16 }, (_, q) => q - 7.5), s)); },
  'Lloyd–Max, outer level at absmax': (b) => { const a = Math.max(...b.map(Math.abs)), s = f32FromBf16(bf16Up(a / LLOYD[7])); return b.map((x) => nearest(x, sym(LLOYD), s)); },
  'Lloyd–Max, scale = RMS': (b) => { const r = Math.sqrt(b.reduce((t, x) => t + x * x, 0) / b.length), s = f32FromBf16(bf16Up(r)); return b.map((x) => nearest(x, sym(LLOYD), s)); },
  'NF4, scale = absmax': (b) => { const a = Math.max(...b.map(Math.abs)), s = f32FromBf16(bf16Up(a)); return b.map((x) => nearest(x, NF4, s)); },
};
const t5 = () => { let c = 0; for (let k = 0; k < 5; k++) c += rng.normal() ** 2; return rng.normal() / Math.sqrt(c / 5); };
const sources: Record<string, () => number> = { Gaussian: () => rng.normal(), 'Student-t, 5 dof': t5 };

console.log(`| blocks of ${G} values, ${groups} groups | ${Object.keys(sources).join(' | ')} |\n|---|${Object.keys(sources).map(() => '---').join('|')}|`);
const rows: Record<string, string[]> = {};
for (const [sname, draw] of Object.entries(sources)) {
  const blocks = Array.from({ length: groups }, () => Float64Array.from({ length: G }, draw));
  const power = (q: (b: Float64Array) => Float64Array) => {
    let err = 0, sig = 0;
    for (const b of blocks) { const y = q(b); for (let i = 0; i < G; i++) { err += (y[i] - b[i]) ** 2; sig += b[i] ** 2; } }
    return err / sig;
  };
  const base = power(quantizers['uniform, absmax scale (codec 7)']);
  for (const [qname, q] of Object.entries(quantizers)) {
    const p = power(q);
    (rows[qname] ??= []).push(`${p.toFixed(5)} (${(base / p).toFixed(2)}× less than codec 7)`);
  }
  process.stderr.write(`${sname} done\n`);
}
for (const [qname, cells] of Object.entries(rows)) console.log(`| ${qname} | ${cells.join(' | ')} |`);
