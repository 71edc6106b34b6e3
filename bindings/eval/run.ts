// Evaluation of communication modes against exact communication: perplexity, mean KL and top-1 agreement on
// token windows, and zero-shot task accuracy (cloze, multiple choice, any lm-eval JSONL set).
import { Engine } from '../engine.js';
import { Algorithm, SiteProfile } from '../tp/allreduce.js';
import { needsCalibration, parseCommMode } from '../calibrate/plan.js';
import { argmax, kl, logSoftmax } from './metrics.js';
import { ChoiceItem, ClozeItem } from './tasks.js';
import { intervals } from './bootstrap.js';

/** siteModes: a mode per site (`best`: the profile's per-site allocation). */
export interface ModeSpec { label: string; mode: string; algorithm: Algorithm; rotate?: number; smooth?: boolean; siteModes?: string[] }
export interface EvalData { windows: number[][]; cloze: ClozeItem[]; choice: { name: string; items: ChoiceItem[] }[] }
export interface ModeResult {
  label: string; mode: string; algorithm: Algorithm; bitsPerValue: number;
  ppl: number; meanKL: number; top1: number; tasks: Record<string, number>; scorePct?: number;
  /** The mode of every site, when they differ (`best`: the profile's per-site allocation). */
  siteModes?: string[];
  /** SHA-256 of the calibration profile the mode used (calibrated modes only), so runs with other profiles never mix. */
  profileSha256?: string;
  /** Per-window sums and per-item outcomes, what the bootstrap intervals resample (bindings/eval/bootstrap.ts). */
  samples?: Samples;
  /** 95 % bootstrap intervals (over windows for perplexity/KL/top-1, over items for tasks; paired with exact). */
  ci?: Intervals;
}
export interface Samples { windows: { nll: number; kl: number; top1: number; n: number }[]; items: Record<string, number[]> }
export interface Intervals { ppl: [number, number]; meanKL: [number, number]; top1: [number, number]; tasks: Record<string, [number, number]>; scorePct?: [number, number] }
type Progress = (msg: string) => void;

/**
 * Evaluates the modes one after another (windows, then tasks); `onMode` sees each result as soon as it is done,
 * so a long run can be saved and resumed mode by mode. Exact logits are recomputed per window for each mode.
 */
export async function evaluate(engine: Engine, modes: ModeSpec[], data: EvalData, sites: SiteProfile[] | null, fraction: number,
                               progress: Progress = () => {}, onMode: (r: ModeResult) => void | Promise<void> = () => {}): Promise<ModeResult[]> {
  const V = engine.cfg.vocab;
  const configure = async (m: ModeSpec) => {
    const cm = parseCommMode(m.mode);
    if (needsCalibration(cm) && !sites) throw new Error(`mode ${m.mode} needs a calibration profile`);
    await engine.setComm(cm.exact ? null : { mode: m.mode, algorithm: m.algorithm, fraction, sites: sites ?? undefined, rotate: m.rotate, smooth: m.smooth, siteModes: m.siteModes });
  };
  const results: ModeResult[] = [];
  const lp = new Float64Array(V), lq = new Float64Array(V);
  for (const m of modes) {
    const a = { bytes: 0, values: 0, nll: 0, kl: 0, top1: 0, n: 0, tasks: {} as Record<string, number> };
    const samples: Samples = { windows: [], items: {} };
    const count = (o: { bytesSent: number; valuesSent: number }) => { a.bytes += o.bytesSent; a.values += o.valuesSent; };
    // Token windows: exact logits, then this mode on the same window.
    for (let w = 0; w < data.windows.length; w++) {
      const ids = data.windows[w];
      await engine.setComm(null); engine.reset();
      const exact = await engine.forward(ids, true);
      await configure(m); engine.reset();
      const out = await engine.forward(ids, true);
      count(out);
      const win = { nll: 0, kl: 0, top1: 0, n: 0 };
      for (let r = 0; r + 1 < ids.length; r++) {
        logSoftmax(exact.logits.subarray(r * V, (r + 1) * V), lp);
        logSoftmax(out.logits.subarray(r * V, (r + 1) * V), lq);
        win.nll -= lq[ids[r + 1]]; win.kl += kl(lp, lq); win.top1 += argmax(lp) === argmax(lq) ? 1 : 0; win.n++;
      }
      a.nll += win.nll; a.kl += win.kl; a.top1 += win.top1; a.n += win.n;
      samples.windows.push(win);
      progress(`${m.label}: windows ${w + 1}/${data.windows.length}`);
    }
    await configure(m);
    // Cloze: correct when greedy decoding reproduces every token of the final word.
    if (data.cloze.length) {
      let right = 0;
      const got: number[] = samples.items.cloze = [];
      for (let i = 0; i < data.cloze.length; i++) {
        const it = data.cloze[i], ctx = engine.encode(it.context), tgt = engine.tok.tokenizer.encode(it.target);
        engine.reset();
        const out = await engine.forward([...ctx, ...tgt], ctx.length - 1);
        count(out);
        const ok = tgt.every((t, j) => argmax(out.logits.subarray(j * V, (j + 1) * V)) === t);
        if (ok) right++;
        got.push(ok ? 1 : 0);
        if ((i + 1) % 25 === 0) progress(`${m.label}: cloze ${i + 1}/${data.cloze.length}`);
      }
      a.tasks.cloze = right / data.cloze.length;
    }
    // Multiple choice: context once, each ending from the same cache position; length-normalized log-likelihood.
    for (const set of data.choice) {
      let right = 0;
      const got: number[] = samples.items[set.name] = [];
      for (let i = 0; i < set.items.length; i++) {
        const it = set.items[i], ctx = engine.encode(it.context);
        engine.reset();
        const head = await engine.forward(ctx);
        count(head);
        logSoftmax(head.logits, lp);
        const firstLp = Float64Array.from(lp);
        const scores = [];
        for (const ending of it.endings) {
          const ids = engine.tok.tokenizer.encode(ending);
          engine.truncate(ctx.length);
          const out = await engine.forward(ids, true);
          count(out);
          let ll = firstLp[ids[0]];
          for (let j = 1; j < ids.length; j++) { logSoftmax(out.logits.subarray((j - 1) * V, j * V), lq); ll += lq[ids[j]]; }
          scores.push(ll / ending.length);
        }
        if (argmax(scores) === it.gold) right++;
        got.push(argmax(scores) === it.gold ? 1 : 0);
        if ((i + 1) % 25 === 0) progress(`${m.label}: ${set.name} ${i + 1}/${set.items.length}`);
      }
      a.tasks[set.name] = right / set.items.length;
    }
    const r: ModeResult = {
      label: m.label, mode: m.mode, algorithm: m.algorithm, bitsPerValue: a.values ? (8 * a.bytes) / a.values : 32,
      ppl: Math.exp(a.nll / Math.max(a.n, 1)), meanKL: a.kl / Math.max(a.n, 1), top1: a.top1 / Math.max(a.n, 1), tasks: a.tasks,
      samples, ...(m.siteModes ? { siteModes: m.siteModes } : {}),
    };
    results.push(r);
    await onMode(r);
  }
  scoreAgainstExact(results);
  return results;
}

/** "% of original performance" as the paper reports it: task score relative to exact, averaged over tasks. */
export function scoreAgainstExact(results: ModeResult[]): void {
  const exact = results.find((r) => r.mode === 'exact');
  if (!exact) return;
  const names = Object.keys(exact.tasks).filter((t) => exact.tasks[t] > 0);
  for (const r of results) r.scorePct = names.length ? (100 * names.reduce((s, t) => s + r.tasks[t] / exact.tasks[t], 0)) / names.length : undefined;
  for (const r of results) if (r.samples) r.ci = intervals(r.samples, exact.samples, names);
}
