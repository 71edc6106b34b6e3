// 95 % bootstrap intervals for evaluation results: perplexity, mean KL and top-1 agreement resample the token
// windows (each window's sums, so tokens of one window stay together); task scores resample items; the
// "% of exact" score resamples items jointly with exact's outcomes on the same items (a paired bootstrap).
// Seeded, so a report regenerates to the same digits.
import { Rng } from '../util/rng.js';
import type { Intervals, Samples } from './run.js';

export const BOOTSTRAP_RESAMPLES = 2000;

const quantiles = (xs: number[]): [number, number] => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return [NaN, NaN];
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.round(p * (s.length - 1))))];
  return [q(0.025), q(0.975)];
};

/** Resample index sets of size n, B times, with a fixed seed. */
function draws(n: number, B: number, seed: number): Uint32Array[] {
  const rng = new Rng(seed), out: Uint32Array[] = [];
  for (let b = 0; b < B; b++) { const d = new Uint32Array(n); for (let i = 0; i < n; i++) d[i] = Math.floor(rng.next() * n); out.push(d); }
  return out;
}

export function intervals(s: Samples, exact: Samples | undefined, taskNames: string[], B = BOOTSTRAP_RESAMPLES): Intervals {
  const W = s.windows;
  const ppl: number[] = [], kl: number[] = [], top1: number[] = [];
  for (const d of draws(W.length, B, 101)) {
    let nll = 0, k = 0, t1 = 0, n = 0;
    for (const i of d) { nll += W[i].nll; k += W[i].kl; t1 += W[i].top1; n += W[i].n; }
    ppl.push(Math.exp(nll / n)); kl.push(k / n); top1.push(t1 / n);
  }
  const tasks: Record<string, [number, number]> = {};
  for (const [name, items] of Object.entries(s.items)) {
    const m: number[] = [];
    for (const d of draws(items.length, B, 202)) { let r = 0; for (const i of d) r += items[i]; m.push(r / items.length); }
    tasks[name] = quantiles(m);
  }
  const out: Intervals = { ppl: quantiles(ppl), meanKL: quantiles(kl), top1: quantiles(top1), tasks };
  const paired = taskNames.filter((t) => s.items[t] && exact?.items[t] && exact.items[t].length === s.items[t].length);
  if (exact && paired.length === taskNames.length && paired.length) {
    const pct: number[] = [];
    const sets = paired.map((t, k) => ({ mine: s.items[t], ref: exact.items[t], d: draws(s.items[t].length, B, 303 + k) }));
    for (let b = 0; b < B; b++) {
      let sum = 0;
      for (const { mine, ref, d } of sets) { let a = 0, e = 0; for (const i of d[b]) { a += mine[i]; e += ref[i]; } sum += e > 0 ? a / e : NaN; }
      pct.push((100 * sum) / sets.length);
    }
    out.scorePct = quantiles(pct);
  }
  return out;
}
