#!/usr/bin/env node
// lowbit-tp command line: run, demo (eval, calibrate and bench arrive with their issues).
import { parseArgs } from 'node:util';
import { codecDemo, formatDemo } from './demo.js';
import { Engine } from './engine.js';
import { generate } from './generate.js';
import { Algorithm } from './tp/allreduce.js';
import { parseCommMode, needsCalibration } from './calibrate/plan.js';

const HELP = `lowbit-tp — tensor-parallel LLM inference in WebAssembly SIMD with low-bit all-reduce

usage: lowbit-tp <command> [options]
  run          generate text:  --model smollm2|gemma3|FILE.gguf  --tp N  --comm exact|CODEC  --prompt "…"
               [--algorithm all-gather|rs-ag] [--max-tokens 64] [--temperature 0] [--top-p 0.95] [--seed 1]
               [--chat] [--context 2048]
  demo         codec demo: synthetic TP partial sums with outlier features, bits/value and error per mode
  help         this text

CODEC: bf16, f16, int4-g32, int8-g32, int4-g32-sym, … (see docs/wire-format.md); calibrated codecs
(int4-static, outlier-int4-static, random-int4-static) need a profile from "lowbit-tp calibrate".`;

const RUN_OPTIONS = {
  model: { type: 'string', default: 'smollm2' }, tp: { type: 'string', default: '2' }, comm: { type: 'string', default: 'exact' },
  algorithm: { type: 'string', default: 'all-gather' }, prompt: { type: 'string' }, 'max-tokens': { type: 'string', default: '64' },
  temperature: { type: 'string', default: '0' }, 'top-p': { type: 'string', default: '0.95' }, seed: { type: 'string', default: '1' },
  chat: { type: 'boolean', default: false }, context: { type: 'string', default: '2048' }, quiet: { type: 'boolean', default: false },
} as const;

function num(v: string | undefined, name: string): number {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got "${v}"`);
  return n;
}

async function run(argv: string[]): Promise<number> {
  const { values: o } = parseArgs({ args: argv, options: RUN_OPTIONS, strict: true });
  if (!o.prompt) throw new Error('run needs --prompt "…"');
  const mode = parseCommMode(o.comm!);
  if (needsCalibration(mode)) throw new Error(`--comm ${o.comm} needs a calibration profile; calibration is not available yet (use int4-g32)`);
  const algorithm = o.algorithm as Algorithm;
  if (algorithm !== 'all-gather' && algorithm !== 'rs-ag') throw new Error(`--algorithm must be all-gather or rs-ag`);
  const say = o.quiet ? () => {} : (m: string) => process.stderr.write(`\r\x1b[2K${m}`);
  const engine = await Engine.load(o.model!, { tp: num(o.tp, 'tp'), context: num(o.context, 'context'), progress: say });
  if (!o.quiet) process.stderr.write('\n');
  try {
    await engine.setComm(mode.exact ? null : { mode: o.comm!, algorithm, fraction: 1 / 64 });
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
