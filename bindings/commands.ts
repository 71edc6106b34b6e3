// The calibrate and eval commands (cli.ts parses the command line; these do the work).
import { Engine } from './engine.js';
import { calibrate } from './calibrate/calibrate.js';
import { Profile, profileSites } from './calibrate/profile.js';
import { BEST_FAMILIES, CommMode, needsCalibration, parseCommMode } from './calibrate/plan.js';
import { makeAllocation, measureSensitivity } from './calibrate/allocate.js';
import { Corpus, loadCorpus, windows } from './eval/corpus.js';
import { loadTextCorpus, overlap } from './eval/text.js';
import { choiceItems, clozeItems, parseChoiceJsonl } from './eval/tasks.js';
import { evaluate, ModeResult, ModeSpec, scoreAgainstExact } from './eval/run.js';
import { markdownTable, RunReport, svgPlot } from './eval/report.js';
import { Algorithm, CommConfig } from './tp/allreduce.js';
import { cacheDir } from './models.js';

export const PAPER_MODES = [
  'exact', 'bf16', 'int4-static', 'int4-g32', 'random-int4-static', 'outlier-int4-static', 'outlier-int4-static@rs-ag',
  'outlier-int4-g32', 'int8-g32', 'outlier-int3-static', 'outlier-int3-g128-sym',
];

/** Codecs that work, for help texts and hints: every codec of the paper's table and a few variants, each checked by the parser. */
export const COMM_EXAMPLES: string[] = [...new Set([...PAPER_MODES.map((m) => m.split('@')[0]), 'f16', 'int8-g32-sym', 'outlier-int4-g32-idx'])]
  .filter((m) => { try { return !parseCommMode(m).exact; } catch { return false; } });
export const CODEC_GRAMMAR = 'f32 | bf16 | f16 | [outlier-|random-]int<2,3,4,5,6,8>-(static | g<16,32,64,128>[-sym]) [-f16] [-idx] | [outlier-]rot<64,128>-int<b>-(g<G>[-lm|-ec] | row-ec) [-f16] [-idx] [-k<N>] | best[:B]';

/** parseCommMode, with a hint that lists working modes when the name is not one. */
export function parseComm(name: string): CommMode {
  try { return parseCommMode(name); } catch (e) {
    throw new Error(`${(e as Error).message.replace(/ \(try [^)]*\)/, '')}; --comm takes exact, auto[:CODEC] or a codec: ${COMM_EXAMPLES.join(', ')}, … (${CODEC_GRAMMAR})`);
  }
}

/** "codec" or "codec@algorithm" → what evaluate() runs. */
export function modeSpec(m: string, fallback: Algorithm): ModeSpec {
  const [mode, alg] = m.split('@');
  parseComm(mode);
  if (alg !== undefined && alg !== 'all-gather' && alg !== 'rs-ag') throw new Error(`mode "${m}": algorithm must be all-gather or rs-ag`);
  return { label: alg ? `${mode} (${alg})` : mode, mode, algorithm: (alg as Algorithm) ?? fallback };
}

/** `textSha256`: calibrated on a user's text (--text), which gets a profile of its own. */
export const defaultProfilePath = (model: string, tp: number, textSha256?: string): string =>
  `${cacheDir()}/profiles/${model.replace(/[^\w.-]+/g, '_')}-tp${tp}${textSha256 ? `-text-${textSha256.slice(0, 12)}` : ''}.json`;

/** The calibration/evaluation text: a user's file (--text) or the Python documentation (the default). */
const corpusOf = (text?: string): Promise<Corpus & { file?: string; sha256?: string }> => (text ? loadTextCorpus(text) : loadCorpus());

export interface CalibrationOptions {
  sequences: number; tokens: number; fraction: number; out: string; say: (m: string) => void; momentum?: number; outlierRows?: boolean; text?: string;
  /** Also measure per-site sensitivities and store a per-site allocation for `--comm best` at this budget (wire bits/value). */
  bits?: number;
  /** Calibration sequences the sensitivity pass runs (each costs 2 · layers forwards per codec family). */
  sensitivitySequences?: number;
}

export const DEFAULT_BUDGET = 4.25;
/**
 * Sensitivity sequences when `best` meets a profile without them: one, so a first `npm start` stays short (three
 * families × 60 sites ≈ 3 minutes for SmolLM2 at TP 2 on 2 cores); `calibrate --bits` takes 2 by default (less noise).
 */
const FIRST_USE_SEQUENCES = 1;

/** The calibration sequences: windows of the calibration part of the text (fixed seed: the same for every run). */
export const calibrationSequences = async (engine: Engine, text: string | undefined, tokens: number, count: number) => {
  const corpus = await corpusOf(text);
  return { corpus, seqs: withBos(engine, windows(corpus.calibration, (t) => engine.encode(t, false), tokens - (engine.tok.addBos ? 1 : 0), count, 1234)) };
};

export async function runCalibration(engine: Engine, opts: CalibrationOptions): Promise<Profile> {
  const { corpus, seqs } = await calibrationSequences(engine, opts.text, opts.tokens, opts.sequences);
  const t0 = Date.now();
  const profile = await calibrate(engine, seqs, opts.fraction, (d, n) => opts.say(`calibrating: sequence ${d}/${n}`), opts.momentum, opts.outlierRows);
  if (corpus.sha256) Object.assign(profile.calibration, { text: { file: corpus.file!, sha256: corpus.sha256 }, source: `${corpus.file} (calibration part)` });
  if (opts.bits !== undefined) await addAllocation(engine, profile, seqs.slice(0, opts.sensitivitySequences ?? 2), opts.bits, opts.say);
  const fs = await import('node:fs/promises');
  await fs.mkdir(opts.out.replace(/\/[^/]*$/, ''), { recursive: true });
  await fs.writeFile(opts.out, JSON.stringify(profile));
  opts.say(`calibrated on ${seqs.length} × ${opts.tokens} tokens in ${((Date.now() - t0) / 1000).toFixed(0)} s → ${opts.out}\n`);
  return profile;
}

/**
 * Per-site sensitivities of the `best` families on calibration sequences, and the allocation for `budget`, into the
 * profile (calibrate/allocate.ts). SmolLM2 at TP 3: about a minute per sequence and family on 2 cores.
 */
export async function addAllocation(engine: Engine, profile: Profile, seqs: number[][], budget: number, say: (m: string) => void): Promise<void> {
  const sites = profileSites(profile, { sha256: profile.model.sha256, tp: engine.tp, layers: engine.cfg.layers, hidden: engine.cfg.hidden });
  const probe = 4, old = profile.allocation;
  // families the profile already measured on the same sequences keep their sensitivities (a new family adds only itself)
  const same = old && old.probeBits === probe && old.calibration.sequences === seqs.length && old.calibration.tokens === (seqs[0]?.length ?? 0);
  const sensitivity: Record<string, number[]> = {}, bits: Record<string, number[]> = {};
  for (const f of BEST_FAMILIES) {
    const kept = same ? old.sensitivity[f] : undefined, keptBits = same ? old.probeWireBits?.[f] : undefined;
    if (kept && keptBits) { sensitivity[f] = kept; bits[f] = keptBits; continue; }
    ({ kl: sensitivity[f], bits: bits[f] } = await measureSensitivity(engine, seqs, f, probe, sites, profile.fraction, (m) => say(`${f} ${m}`)));
  }
  profile.allocation = makeAllocation(sensitivity, probe, budget, engine.cfg.hidden, profile.fraction, { sequences: seqs.length, tokens: seqs[0]?.length ?? 0 }, 128, bits);
  const a = profile.allocation;
  say(`per-site allocation at ${budget} bits/value: ${a.wireBits.toFixed(3)} bits/value on the wire, modelled KL ${a.predictedKL.toFixed(4)}\n`);
}

/**
 * `best` / `best:B` → each site's mode: the profile's allocation, or one re-made from its stored sensitivities for
 * budget B; measured first (and saved in the profile) when the profile has none.
 */
export async function bestSiteModes(engine: Engine, mode: CommMode, prof: { profile: Profile; path: string }, say: (m: string) => void): Promise<string[]> {
  const p = prof.profile;
  if (!p.allocation || p.allocation.families.join() !== BEST_FAMILIES.join()) {
    say(`${mode.name}: the profile has no per-site sensitivities yet: measuring them once (calibrate --bits does this up front)\n`);
    // a profile measured for other families keeps its sequence count, so the families it has keep their sensitivities
    const count = p.allocation?.calibration.sequences ?? FIRST_USE_SEQUENCES;
    const { seqs } = await calibrationSequences(engine, p.calibration.text?.file, p.calibration.tokensPerSequence, count);
    await addAllocation(engine, p, seqs, DEFAULT_BUDGET, say); // `best` alone then means the default budget
    await (await import('node:fs/promises')).writeFile(prof.path, JSON.stringify(p));
  }
  const a = p.allocation!;
  if (mode.best === null || mode.best === undefined || mode.best === a.budget) return a.siteModes;
  return makeAllocation(a.sensitivity, a.probeBits, mode.best, engine.cfg.hidden, p.fraction, a.calibration, a.rows, a.probeWireBits).siteModes;
}

/** The communication `run` and `serve` set: calibrated modes load (or make) the profile, `best` takes its per-site modes. */
export async function commConfigFor(engine: Engine, model: string, name: string, algorithm: Algorithm, profilePath: string | undefined,
                                    say: (m: string) => void): Promise<CommConfig | null> {
  const mode = parseComm(name);
  if (mode.exact) return null;
  if (!needsCalibration(mode)) return { mode: name, algorithm, fraction: 1 / 64 };
  const prof = await ensureProfile(engine, model, 1 / 64, profilePath, say);
  const siteModes = mode.best !== undefined ? await bestSiteModes(engine, mode, prof, say) : undefined;
  return { mode: name, algorithm, fraction: 1 / 64, sites: prof.sites, siteModes };
}

/** Models that expect BOS (Gemma) get it at the start of every window. */
const withBos = (engine: Engine, ws: number[][]): number[][] => (engine.tok.addBos ? ws.map((w) => [engine.tok.bos, ...w]) : ws);

/**
 * The profile for this engine: `explicit` if given, else the cached default, calibrated first (once, 32 × 128
 * tokens) when missing. Either way it is checked against the model and TP degree.
 */
export async function ensureProfile(engine: Engine, model: string, fraction: number, explicit: string | undefined, say: (m: string) => void,
                                    text?: { file: string; sha256: string }): Promise<{ sites: ReturnType<typeof profileSites>; path: string; sha256: string; profile: Profile }> {
  const path = explicit ?? defaultProfilePath(model, engine.tp, text?.sha256);
  const fs = await import('node:fs/promises');
  if (!explicit && !(await fs.access(path).then(() => true, () => false))) {
    say(`no calibration profile at ${path}: calibrating first (once)\n`);
    await runCalibration(engine, { sequences: 32, tokens: 128, fraction, out: path, say, text: text?.file });
  }
  return { ...(await loadProfileFor(engine, path)), path };
}

/** The profile at `path`, checked against this engine's model and TP degree, and the SHA-256 of its text. */
export async function loadProfileFor(engine: Engine, path: string): Promise<{ sites: ReturnType<typeof profileSites>; sha256: string; profile: Profile }> {
  const fs = await import('node:fs/promises');
  let text: string, p: Profile;
  try { text = await fs.readFile(path, 'utf8'); p = JSON.parse(text); } catch (e) { throw new Error(`cannot read calibration profile ${path}: ${(e as Error).message}`); }
  const sha256 = (await import('node:crypto')).createHash('sha256').update(text).digest('hex');
  return { sites: profileSites(p, { sha256: await engine.modelHash(), tp: engine.tp, layers: engine.cfg.layers, hidden: engine.cfg.hidden }), sha256, profile: p };
}

/**
 * Calibration and evaluation text must not overlap: the parts of one file never do (eval/text.ts); a profile made on
 * another user text is re-read (when the file is still there) and its calibration part checked against this evaluation.
 */
async function checkDisjoint(profile: Profile | undefined, corpus: Corpus & { sha256?: string }): Promise<void> {
  const t = profile?.calibration.text;
  if (!t || t.sha256 === corpus.sha256) return;
  const cal = await loadTextCorpus(t.file).catch(() => null);
  if (!cal || cal.sha256 !== t.sha256) return; // the calibration file is gone or changed: nothing left to compare
  const n = overlap(cal.calibration, corpus.evaluation);
  if (n) throw new Error(`the evaluation text shares ${n} paragraphs with the calibration text of this profile (${t.file}): evaluate on other text`);
}

export interface EvalOptions {
  model: string; tp: number; modes: string[]; algorithm: Algorithm; profile?: string; fraction: number;
  windows: number; windowTokens: number; cloze: number; choice: number; jsonl: string[]; seed: number; out: string;
  say: (m: string) => void;
  /** Keep the modes an earlier run of the same items already wrote to `out`, and run only the rest. */
  resume?: boolean;
  /** Shards 1… on other hosts (`lowbit-tp shard`), and their shared secret: TP is then peers + 1. */
  peers?: string[]; peerSecret?: string;
  /** Evaluate on the evaluation part of this UTF-8 file (and calibrate on its calibration part if no profile is given). */
  text?: string;
}

export async function runEval(o: EvalOptions): Promise<RunReport> {
  const t0 = Date.now();
  const engine = await Engine.load(o.model, { tp: o.tp, maxBatch: 64, progress: o.say, peers: o.peers, peerSecret: o.peerSecret });
  try {
    const needsProfile = o.modes.some((m) => needsCalibration(parseCommMode(modeSpec(m, o.algorithm).mode)));
    const corpus = await corpusOf(o.text);
    let profile = needsProfile ? await ensureProfile(engine, o.model, o.fraction, o.profile, o.say, corpus.sha256 ? { file: corpus.file!, sha256: corpus.sha256 } : undefined) : null;
    const specs = o.modes.map((m) => modeSpec(m, o.algorithm));
    for (const s of specs) {
      const cm = parseCommMode(s.mode);
      if (cm.best !== undefined) s.siteModes = await bestSiteModes(engine, cm, profile!, o.say);
    }
    if (profile) profile = { ...(await loadProfileFor(engine, profile.path)), path: profile.path }; // a first `best` may have added sensitivities
    await checkDisjoint(profile?.profile, corpus);
    const sites = profile?.sites ?? null;
    const profileSha256 = profile?.sha256;
    const usesProfile = (r: ModeResult) => needsCalibration(parseCommMode(r.mode));
    const enc = (t: string) => engine.encode(t, false);
    const choice = o.choice ? [{ name: 'choice', items: choiceItems(corpus.evaluation, o.choice, o.seed + 2) }] : [];
    const fs = await import('node:fs/promises');
    for (const f of o.jsonl) choice.push({ name: f.split('/').pop()!.replace(/\.jsonl$/, ''), items: parseChoiceJsonl(await fs.readFile(f, 'utf8')) });
    const data = {
      windows: withBos(engine, windows(corpus.evaluation, enc, o.windowTokens - (engine.tok.addBos ? 1 : 0), o.windows, o.seed)),
      cloze: o.cloze ? clozeItems(corpus.evaluation, o.cloze, o.seed + 1) : [], choice,
    };
    const items = { windows: data.windows.length, windowTokens: o.windowTokens, cloze: data.cloze.length, seed: o.seed, ...Object.fromEntries(choice.map((c) => [c.name, c.items.length])) };
    let done: ModeResult[] = [], spent = 0;
    if (o.resume) {
      const prev = await fs.readFile(o.out, 'utf8').then((t) => JSON.parse(t) as RunReport, () => null);
      if (prev && JSON.stringify(prev.items) === JSON.stringify(items) && prev.model === o.model && prev.tp === o.tp) {
        const same = prev.results.filter((r) => specs.some((s) => s.label === r.label));
        done = same.filter((r) => !usesProfile(r) || r.profileSha256 === profileSha256); // calibrated modes only with this profile
        spent = prev.seconds;
        o.say(`resuming: ${done.length} of ${specs.length} modes already in ${o.out}` +
          (same.length > done.length ? ` (${same.length - done.length} made with another calibration profile run again)` : '') + '\n');
      }
    }
    const report: RunReport = { model: o.model, tp: o.tp, algorithm: o.algorithm, profile: profile?.path ?? null, items, seconds: spent, results: done };
    await fs.mkdir(o.out.replace(/\/[^/]*$/, '') || '.', { recursive: true });
    const save = async () => { report.seconds = spent + (Date.now() - t0) / 1000; scoreAgainstExact(report.results); await fs.writeFile(o.out, JSON.stringify(report, null, 1)); };
    const todo = specs.filter((s) => !done.some((r) => r.label === s.label));
    await evaluate(engine, todo, data, sites, o.fraction, (m) => o.say(`eval ${o.model} TP ${o.tp}: ${m}`), async (r) => {
      if (usesProfile(r)) r.profileSha256 = profileSha256;
      report.results.push(r); await save();
    });
    report.results.sort((a, b) => specs.findIndex((s) => s.label === a.label) - specs.findIndex((s) => s.label === b.label));
    await save();
    return report;
  } finally {
    await engine.close();
  }
}

/**
 * One report from runs of the same model, TP degree and items that each evaluated some of the modes (so the modes
 * can run in parallel processes); modes come out in `order` (PAPER_MODES by default), seconds add up.
 */
export function mergeReports(parts: RunReport[], order: string[] = PAPER_MODES): RunReport {
  if (!parts.length) throw new Error('nothing to merge');
  const key = (r: RunReport) => JSON.stringify([r.model, r.tp, r.items]);
  const bad = parts.find((p) => key(p) !== key(parts[0]));
  if (bad) throw new Error(`cannot merge runs of different models, TP degrees or items: ${key(parts[0])} vs ${key(bad)}`);
  const profiles = new Set(parts.flatMap((p) => p.results.map((r) => r.profileSha256).filter((h) => h !== undefined)));
  if (profiles.size > 1) throw new Error(`cannot merge runs made with different calibration profiles (${[...profiles].map((h) => h!.slice(0, 12)).join(', ')})`);
  const results = new Map<string, ModeResult>();
  for (const p of parts) for (const r of p.results) results.set(r.label, r);
  const rank = (label: string) => { const i = order.indexOf(label.replace(/ \((all-gather|rs-ag)\)$/, (_, a) => `@${a}`)); return i < 0 ? order.length : i; };
  const merged: RunReport = { ...parts[0], profile: parts.find((p) => p.profile)?.profile ?? null, seconds: parts.reduce((s, p) => s + p.seconds, 0),
    results: [...results.values()].sort((a, b) => rank(a.label) - rank(b.label)) };
  scoreAgainstExact(merged.results);
  return merged;
}

/** Regenerate docs/results/accuracy.{md,svg} from every eval-*.json there. */
export async function writeAccuracyReport(dir: string): Promise<string> {
  const fs = await import('node:fs/promises');
  const files = (await fs.readdir(dir)).filter((f) => /^eval-.*\.json$/.test(f)).sort();
  const runs: RunReport[] = [];
  for (const f of files) runs.push(JSON.parse(await fs.readFile(`${dir}/${f}`, 'utf8')));
  const md = `# Accuracy of low-bit all-reduce (regenerate: npm run eval:paper)\n\n${markdownTable(runs)}\n\n` +
    runs.map((r) => `- ${r.model} TP ${r.tp}: ${Object.entries(r.items).map(([k, v]) => `${k} ${v}`).join(', ')}; ${r.seconds.toFixed(0)} s; profile ${r.profile?.split('/').pop() ?? 'none'}`).join('\n') +
    `\n\n![score vs bits](accuracy.svg)\n`;
  await fs.writeFile(`${dir}/accuracy.md`, md);
  await fs.writeFile(`${dir}/accuracy.svg`, svgPlot(runs));
  return md;
}
