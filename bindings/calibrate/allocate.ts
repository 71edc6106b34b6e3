// Per-site bit allocation (issue 12 item 2): the all-reduce error is not spread evenly over the 2 · layers
// row-parallel sites (on SmolLM2 a few MLP-down sites cost most of it), so a mean wire-bits budget is better spent
// unevenly. Each site's sensitivity is measured on calibration text as the mean KL against exact communication
// when only that site is quantized (every other site exact) at the probe width; the KL a site costs at b bits is
// modelled as sensitivity · (step(b) / step(probe))², the squared quantization step of a uniform b-bit code
// (rotation makes the partials near-Gaussian, so error power follows the step). The allocation then picks each
// site's option (family × width, or exact f32) under the budget by a Lagrangian relaxation (allocate()).
import { Engine } from '../engine.js';
import { SiteProfile } from '../tp/allreduce.js';
import { wireBytes } from '../tp/cost.js';
import { klGivenP, logSoftmax } from '../eval/metrics.js';
import { parseCommMode } from './plan.js';
import { EC_ROW_TABLES, EC_TABLES } from '../codec/entropy-tables.js';

/** What calibrate --bits stores in the profile, and what --comm best runs. */
export interface Allocation {
  families: string[];    // codec names with `*` for the bit width, e.g. rot128-int*-g128
  budget: number;        // mean wire bits/value over sites, at `rows`-row messages, headers included
  rows: number;
  probeBits: number;
  sensitivity: Record<string, number[]>; // [family][site] mean KL (nat/token) with only this site at probeBits
  /** [family][site] wire bits/value that site sent at probeBits on the calibration sequences (entropy-coded sizes vary with the data) */
  probeWireBits?: Record<string, number[]>;
  siteModes: string[];   // [site] the mode each site runs (`exact`: f32)
  wireBits: number;      // mean wire bits/value of the allocation (≤ budget)
  predictedKL: number;   // sum over sites of the modelled KL: an additive model, checked against eval
  calibration: { sequences: number; tokens: number };
}

export const MENU = [2, 3, 4, 5, 6, 7, 8, 32];

export function familyMode(family: string, bits: number): string {
  if (!family.includes('*')) throw new Error(`codec family "${family}" needs a * where the bit width goes (e.g. rot128-int*-g128)`);
  return bits === 32 ? 'exact' : family.replace('*', String(bits));
}

/** Wire bits per value of one site's message of `rows` rows × E features on the link (compact header; no exceptions). */
export const modeWireBits = (mode: string, E: number, rows: number, fraction: number): number => (8 * wireBytes(mode, rows, E, fraction)) / (rows * E);

/** How a family's step follows its width: 2^b uniform levels, §12's 2M + 1 entropy-coded ones, §13's row step k(b) · RMS. */
export type StepKind = 'uniform' | 'entropy' | 'row';
export const stepKind = (family: string): StepKind => (family.includes('-row-ec') ? 'row' : family.includes('-ec') ? 'entropy' : 'uniform');

/**
 * Relative error power of a b-bit code against the probe width: (step(b) / step(probe))², step ∝ 1/(2^b − 1) for
 * 2^b levels, ∝ 1/M(b) for the 2M + 1 levels of an entropy-coded family (-ec, wire-format §12), ∝ k(b) for a row-step
 * family (-row-ec, §13).
 */
export const errorPower = (bits: number, probe: number, kind: StepKind = 'uniform'): number =>
  (bits >= 32 ? 0 : kind === 'row' ? (EC_ROW_TABLES[bits].k / EC_ROW_TABLES[probe].k) ** 2
    : kind === 'entropy' ? (EC_TABLES[probe].M / EC_TABLES[bits].M) ** 2 : ((2 ** probe - 1) / (2 ** bits - 1)) ** 2);

/** One choice for one site: its mode, wire bits/value and modelled KL. */
export interface SiteOption { mode: string; cost: number; kl: number }

/**
 * Minimise Σ kl under mean cost ≤ budget, one option per site: Lagrangian relaxation (each site takes the option
 * that minimises kl + λ · cost; λ found by bisection so the mean cost just fits), then the leftover budget goes to
 * the single upgrades that save the most KL per bit. Handles menus that are not convex (several codec families).
 */
export function allocate(options: SiteOption[][], budget: number): { choice: number[]; wireBits: number; predictedKL: number } {
  const n = options.length;
  const cheapest = options.map((o) => o.reduce((b, x, i) => (x.cost < o[b].cost ? i : b), 0));
  const floor = cheapest.reduce((s, j, i) => s + options[i][j].cost, 0) / n;
  if (floor > budget + 1e-9) throw new Error(`a budget of ${budget} bits/value is below the cheapest allocation (${floor.toFixed(3)} bits/value on the wire)`);
  const pick = (lambda: number) => options.map((o) => o.reduce((b, x, i) => (x.kl + lambda * x.cost < o[b].kl + lambda * o[b].cost ? i : b), 0));
  const mean = (c: number[]) => c.reduce((s, j, i) => s + options[i][j].cost, 0) / n;
  let lo = 0, hi = 1;
  while (mean(pick(hi)) > budget && hi < 1e12) hi *= 2;
  for (let k = 0; k < 100; k++) { const mid = (lo + hi) / 2; if (mean(pick(mid)) > budget) lo = mid; else hi = mid; }
  const choice = mean(pick(hi)) <= budget ? pick(hi) : cheapest;
  let spent = mean(choice) * n;
  for (;;) { // fill: the upgrade with the best KL saved per extra bit that still fits
    let bi = -1, bj = -1, best = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < options[i].length; j++) {
      const a = options[i][choice[i]], b = options[i][j], extra = b.cost - a.cost;
      if (extra <= 0 || b.kl >= a.kl || spent + extra > budget * n + 1e-9) continue;
      if ((a.kl - b.kl) / extra > best) { best = (a.kl - b.kl) / extra; bi = i; bj = j; }
    }
    if (bi < 0) break;
    spent += options[bi][bj].cost - options[bi][choice[bi]].cost;
    choice[bi] = bj;
  }
  return { choice, wireBits: spent / n, predictedKL: choice.reduce((s, j, i) => s + options[i][j].kl, 0) };
}

/**
 * Sensitivity of every site: mean KL (nat/token) against exact when only that site runs `family` at `probe` bits, and
 * the wire bits/value the site sent doing so. Sequences outer, sites inner, so only one sequence's exact
 * log-probabilities are held at a time.
 */
export async function measureSensitivity(engine: Engine, sequences: number[][], family: string, probe: number, sites: SiteProfile[], fraction: number,
                                         say: (m: string) => void = () => {}): Promise<{ kl: number[]; bits: number[] }> {
  const n = 2 * engine.cfg.layers, V = engine.cfg.vocab, mode = familyMode(family, probe);
  const sum = new Float64Array(n), lq = new Float64Array(V), lp = new Float64Array(V), bytes = new Float64Array(n), values = new Float64Array(n);
  let rows = 0;
  for (let q = 0; q < sequences.length; q++) {
    const ids = sequences[q];
    await engine.setComm(null); engine.reset();
    const exact = await engine.forward(ids, true), R = ids.length;
    // exact log-probabilities and probabilities once per sequence: the KL of each site then needs one exp pass, not two
    const exactLp = new Float32Array(R * V), exactP = new Float32Array(R * V);
    for (let r = 0; r < R; r++) {
      logSoftmax(exact.logits.subarray(r * V, (r + 1) * V), lp); exactLp.set(lp, r * V);
      for (let v = 0; v < V; v++) exactP[r * V + v] = Math.exp(lp[v]);
    }
    for (let site = 0; site < n; site++) {
      const siteModes = Array.from({ length: n }, (_, i) => (i === site ? mode : 'exact'));
      await engine.setComm({ mode, siteModes, algorithm: 'all-gather', fraction, sites });
      engine.reset();
      const out = await engine.forward(ids, true);
      // every site all-reduces the same number of values and the n − 1 exact ones send 32 bits each: the rest is this site's
      bytes[site] += out.bytesSent - (4 * out.valuesSent * (n - 1)) / n; values[site] += out.valuesSent / n;
      for (let r = 0; r < R; r++) {
        logSoftmax(out.logits.subarray(r * V, (r + 1) * V), lq);
        sum[site] += klGivenP(exactP.subarray(r * V, (r + 1) * V), exactLp.subarray(r * V, (r + 1) * V), lq);
      }
      say(`sensitivity: sequence ${q + 1}/${sequences.length}, site ${site + 1}/${n}`);
    }
    rows += R;
  }
  await engine.setComm(null);
  return { kl: Array.from(sum, (s) => s / rows), bits: Array.from(bytes, (b, i) => (8 * b) / values[i]) };
}

/** Widths a family does not have (Lloyd–Max levels above 4 bits, entropy-coded ones above 7) are left out of its menu. */
const validMode = (mode: string): boolean => { try { parseCommMode(mode); return true; } catch { return false; } };

/**
 * Per family, each site's sensitivity at the probe width → every site's menu (each family at every width, and exact).
 * A width's cost is the modelled wire bits, moved by what the site measurably sent at the probe width (`probeWireBits`,
 * where measured): an entropy-coded stream costs what the site's own data makes of it.
 */
export function siteOptions(sensitivity: Record<string, number[]>, probe: number, E: number, fraction: number, rows = 128, menu = MENU,
                            probeWireBits: Record<string, number[]> = {}): SiteOption[][] {
  const fams = Object.keys(sensitivity), n = sensitivity[fams[0]].length;
  return Array.from({ length: n }, (_, site) => {
    const opts: SiteOption[] = [{ mode: 'exact', cost: 32, kl: 0 }];
    for (const f of fams) {
      const measured = probeWireBits[f]?.[site], shift = measured === undefined ? 0 : measured - modeWireBits(familyMode(f, probe), E, rows, fraction);
      for (const b of menu) if (b < 32 && validMode(familyMode(f, b)))
        opts.push({ mode: familyMode(f, b), cost: modeWireBits(familyMode(f, b), E, rows, fraction) + shift, kl: sensitivity[f][site] * errorPower(b, probe, stepKind(f)) });
    }
    return opts;
  });
}

/** Sensitivities → the allocation stored in the profile. */
export function makeAllocation(sensitivity: Record<string, number[]>, probe: number, budget: number, E: number, fraction: number,
                               calibration: Allocation['calibration'], rows = 128, probeWireBits: Record<string, number[]> = {}): Allocation {
  const options = siteOptions(sensitivity, probe, E, fraction, rows, MENU, probeWireBits);
  const { choice, wireBits, predictedKL } = allocate(options, budget);
  return { families: Object.keys(sensitivity), budget, rows, probeBits: probe, sensitivity, probeWireBits, siteModes: choice.map((j, i) => options[i][j].mode), wireBits, predictedKL, calibration };
}
