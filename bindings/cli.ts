#!/usr/bin/env node
// lowbit-tp command line: run, demo (eval, calibrate and bench arrive with their issues).
import { parseArgs } from 'node:util';
import { codecDemo, formatDemo } from './demo.js';
import { Engine } from './engine.js';
import { generate } from './generate.js';
import { Algorithm } from './tp/allreduce.js';
import { parseCommMode, needsCalibration } from './calibrate/plan.js';
import { defaultProfilePath, ensureProfile, mergeReports, modeSpec, PAPER_MODES, runCalibration, runEval, writeAccuracyReport } from './commands.js';

const HELP = `lowbit-tp — tensor-parallel LLM inference in WebAssembly SIMD with low-bit all-reduce

usage: lowbit-tp <command> [options]
  run          generate text:  --model smollm2|gemma3|FILE.gguf  --tp N  --comm exact|CODEC  --prompt "…"
               [--algorithm all-gather|rs-ag] [--max-tokens 64] [--temperature 0] [--top-p 0.95] [--seed 1]
               [--chat] [--context 2048] [--profile FILE]
               [--decode-weights gguf|f32: decode from the Q4_1/Q8_0 blocks with int8 activations (default) or f32]
  calibrate    record per-feature ranges of the all-reduced partial sums on calibration text:
               --model M --tp N [--fraction 1/64] [--sequences 32] [--tokens 128] [--momentum 0.9 | 1 = running max] [--out FILE]
  eval         perplexity, KL and top-1 vs exact, zero-shot task accuracy and wire bits per mode:
               --model M --tp N [--comm paper|m1,m2@rs-ag,…] [--algorithm all-gather|rs-ag] [--profile FILE]
               [--windows 16] [--window-tokens 256] [--cloze 500] [--choice 500] [--jsonl FILE]… [--out FILE]
               [--resume: keep modes already in --out for the same items; each mode is saved when done]
               [--part: only the listed modes, not exact too (one part of a run; join parts with report --merge)]
  report       regenerate accuracy.md and accuracy.svg from the eval-*.json in a folder:  report DIR
               or join runs that each did some modes first:  report --out DIR/eval-M-tpN.json PART.json…
  demo         codec demo: synthetic TP partial sums with outlier features, bits/value and error per mode
  help         this text

CODEC: bf16, f16, int4-g32, int8-g32, int4-g32-sym, … (see docs/wire-format.md); calibrated codecs
(int4-static, outlier-int4-static, random-int4-static) need a profile from "lowbit-tp calibrate".`;

const RUN_OPTIONS = {
  model: { type: 'string', default: 'smollm2' }, tp: { type: 'string', default: '2' }, comm: { type: 'string', default: 'exact' },
  algorithm: { type: 'string', default: 'all-gather' }, prompt: { type: 'string' }, 'max-tokens': { type: 'string', default: '64' },
  temperature: { type: 'string', default: '0' }, 'top-p': { type: 'string', default: '0.95' }, seed: { type: 'string', default: '1' },
  chat: { type: 'boolean', default: false }, context: { type: 'string', default: '2048' }, quiet: { type: 'boolean', default: false },
  profile: { type: 'string' }, 'decode-weights': { type: 'string', default: 'gguf' },
} as const;

function fraction(v: string | undefined): number {
  const m = /^(\d+)\/(\d+)$/.exec(v ?? '');
  const f = m ? Number(m[1]) / Number(m[2]) : Number(v);
  if (!(f > 0 && f < 1)) throw new Error(`--fraction must be in (0, 1), like 1/64; got "${v}"`);
  return f;
}
const progress = (quiet?: boolean) => (quiet ? () => {} : (m: string) => process.stderr.write(`\r\x1b[2K${m}`));

async function calibrateCmd(argv: string[]): Promise<number> {
  const { values: o } = parseArgs({ args: argv, strict: true, options: {
    model: { type: 'string', default: 'smollm2' }, tp: { type: 'string', default: '2' }, fraction: { type: 'string', default: '1/64' },
    sequences: { type: 'string', default: '32' }, tokens: { type: 'string', default: '128' }, out: { type: 'string' }, quiet: { type: 'boolean', default: false },
    momentum: { type: 'string', default: '0.9' },
  } });
  const tp = num(o.tp, 'tp'), say = progress(o.quiet);
  const engine = await Engine.load(o.model!, { tp, maxBatch: 128, progress: say });
  try {
    say('\n');
    await runCalibration(engine, { sequences: num(o.sequences, 'sequences'), tokens: num(o.tokens, 'tokens'), fraction: fraction(o.fraction), out: o.out ?? defaultProfilePath(o.model!, tp), say, momentum: num(o.momentum, 'momentum') });
  } finally { await engine.close(); }
  return 0;
}

async function evalCmd(argv: string[]): Promise<number> {
  const { values: o } = parseArgs({ args: argv, strict: true, options: {
    model: { type: 'string', default: 'smollm2' }, tp: { type: 'string', default: '2' }, comm: { type: 'string', default: 'paper' },
    algorithm: { type: 'string', default: 'all-gather' }, profile: { type: 'string' }, fraction: { type: 'string', default: '1/64' },
    windows: { type: 'string', default: '16' }, 'window-tokens': { type: 'string', default: '256' }, cloze: { type: 'string', default: '500' },
    choice: { type: 'string', default: '500' }, jsonl: { type: 'string', multiple: true, default: [] }, seed: { type: 'string', default: '5' },
    out: { type: 'string' }, quiet: { type: 'boolean', default: false }, resume: { type: 'boolean', default: false },
    part: { type: 'boolean', default: false },
  } });
  const tp = num(o.tp, 'tp');
  const algorithm = o.algorithm as Algorithm;
  if (algorithm !== 'all-gather' && algorithm !== 'rs-ag') throw new Error(`--algorithm must be all-gather or rs-ag, got ${algorithm}`);
  const modes = o.comm === 'paper' ? [...PAPER_MODES] : o.comm!.split(',');
  if (!o.part && !modes.includes('exact')) modes.unshift('exact');
  for (const m of modes) modeSpec(m, algorithm);
  const out = o.out ?? `docs/results/eval-${o.model!.replace(/[^\w.-]+/g, '_')}-tp${tp}.json`;
  const report = await runEval({ model: o.model!, tp, modes, algorithm, profile: o.profile, fraction: fraction(o.fraction),
    windows: num(o.windows, 'windows'), windowTokens: num(o['window-tokens'], 'window-tokens'), cloze: num(o.cloze, 'cloze'),
    choice: num(o.choice, 'choice'), jsonl: o.jsonl as string[], seed: num(o.seed, 'seed'), out, say: progress(o.quiet), resume: o.resume });
  process.stderr.write('\n');
  const { markdownTable } = await import('./eval/report.js');
  console.log(markdownTable([report]));
  console.log(`\nwrote ${out} (${report.seconds.toFixed(0)} s)`);
  const dir = out.replace(/\/[^/]*$/, '');
  await writeAccuracyReport(dir);
  console.log(`updated ${dir}/accuracy.md and ${dir}/accuracy.svg`);
  return 0;
}

async function reportCmd(argv: string[]): Promise<number> {
  const { values: o, positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { out: { type: 'string' } } });
  const fs = await import('node:fs/promises');
  let dir = positionals[0];
  if (o.out) {
    const parts = await Promise.all(positionals.map(async (f) => JSON.parse(await fs.readFile(f, 'utf8'))));
    const merged = mergeReports(parts);
    await fs.writeFile(o.out, JSON.stringify(merged, null, 1));
    console.log(`merged ${parts.length} runs (${merged.results.length} modes) into ${o.out}`);
    dir = o.out.replace(/\/[^/]*$/, '');
  }
  if (!dir) throw new Error('report needs a folder of eval-*.json (or --out FILE and the part files to join)');
  console.log(await writeAccuracyReport(dir));
  return 0;
}

function num(v: string | undefined, name: string): number {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got "${v}"`);
  return n;
}

async function run(argv: string[]): Promise<number> {
  const { values: o } = parseArgs({ args: argv, options: RUN_OPTIONS, strict: true });
  if (!o.prompt) throw new Error('run needs --prompt "…"');
  const mode = parseCommMode(o.comm!);
  const algorithm = o.algorithm as Algorithm;
  if (algorithm !== 'all-gather' && algorithm !== 'rs-ag') throw new Error(`--algorithm must be all-gather or rs-ag`);
  const say = o.quiet ? () => {} : (m: string) => process.stderr.write(`\r\x1b[2K${m}`);
  if (o['decode-weights'] !== 'gguf' && o['decode-weights'] !== 'f32') throw new Error('--decode-weights must be gguf or f32');
  const engine = await Engine.load(o.model!, { tp: num(o.tp, 'tp'), context: num(o.context, 'context'), progress: say, quantizedDecode: o['decode-weights'] === 'gguf' });
  if (!o.quiet) process.stderr.write('\n');
  try {
    const sites = needsCalibration(mode) ? (await ensureProfile(engine, o.model!, 1 / 64, o.profile, say)).sites : undefined;
    await engine.setComm(mode.exact ? null : { mode: o.comm!, algorithm, fraction: 1 / 64, sites });
    process.stdout.write(o.prompt);
    const r = await generate(engine, o.prompt, {
      maxTokens: num(o['max-tokens'], 'max-tokens'), temperature: num(o.temperature, 'temperature'), topP: num(o['top-p'], 'top-p'),
      seed: num(o.seed, 'seed'), chat: o.chat, onText: (t) => process.stdout.write(t),
    });
    console.log('\n');
    console.log(`| model | TP | comm | prompt tokens | prefill tok/s | generated | decode tok/s | wire bits/value |`);
    console.log(`|---|---|---|---|---|---|---|---|`);
    console.log(`| ${engine.cfg.arch} | ${engine.tp} | ${o.comm}${mode.exact ? '' : ` (${algorithm})`} | ${r.promptTokens} | ${r.prefillTokS.toFixed(1)} | ${r.ids.length} (${r.stopped}) | ${r.decodeTokS.toFixed(1)} | ${engine.tp > 1 ? r.bitsPerValue.toFixed(3) : 'n/a (TP 1)'} |`);
  } finally {
    await engine.close();
  }
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [cmd = 'help', ...rest] = argv;
  switch (cmd) {
    case 'run': return run(rest);
    case 'calibrate': return calibrateCmd(rest);
    case 'eval': return evalCmd(rest);
    case 'report': return reportCmd(rest);
    case 'demo': {
      console.log('lowbit-tp codec demo: TP 2, 64 tokens × 576 features, 12 planted outlier features, calibrated on separate samples');
      console.log(formatDemo(await codecDemo()));
      return 0;
    }
    case 'help': case '--help': case '-h': console.log(HELP); return 0;
    default: console.error(`unknown command "${cmd}"\n\n${HELP}`); return 2;
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err) => {
  console.error(`lowbit-tp: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
