#!/usr/bin/env node
// lowbit-tp command line: run, demo (eval, calibrate and bench arrive with their issues).
import { parseArgs } from 'node:util';
import { codecDemo, formatDemo } from './demo.js';
import { Engine } from './engine.js';
import { generate } from './generate.js';
import { Algorithm } from './tp/allreduce.js';
import { needsCalibration } from './calibrate/plan.js';
import { loadTextCorpus } from './eval/text.js';
import { CODEC_GRAMMAR, COMM_EXAMPLES, commConfigFor, defaultProfilePath, mergeReports, modeSpec, PAPER_MODES, parseComm, runCalibration, runEval, writeAccuracyReport } from './commands.js';
import { ChatTemplate, encodeChat, readChatMeta } from './serve/template.js';
import { defaultShardListen, Launch, resolveLaunch } from './net/launch.js';

const HELP = `lowbit-tp — tensor-parallel LLM inference in WebAssembly SIMD with low-bit all-reduce

usage: lowbit-tp <command> [options]
  run          generate text:  --prompt "…"  [--model smollm2|gemma3|FILE.gguf (default smollm2)]  [--tp 2]
               [--comm exact|auto|CODEC (default exact)] [--algorithm all-gather|rs-ag] [--max-tokens 64]
               [--temperature 0] [--top-p 0.95] [--seed 1] [--chat] [--context 2048] [--profile FILE]
               [--decode-weights gguf|f32: single-token steps multiply int8 activations with the packed blocks (default) or
                dequantize them to f32 arithmetic; weights stay packed either way]
  serve        OpenAI-compatible HTTP API (GET /v1/models, POST /v1/completions, POST /v1/chat/completions):
               --model M --tp N [--comm exact|auto|CODEC] [--host 127.0.0.1] [--port 8080] [--api-key KEY: required
               off loopback] [--context 2048] [--max-tokens-cap 1024] [--max-body 1048576] [--max-queue 64] [--drain 60]
  calibrate    record per-feature ranges of the all-reduced partial sums on calibration text:
               --model M --tp N [--fraction 1/64] [--sequences 32] [--tokens 128] [--momentum 0.9 | 1 = running max] [--out FILE]
               [--text FILE: your UTF-8 prose; its calibration part (1 paragraph in 8), a profile of its own]
               [--bits B: also measure each site's sensitivity and store a per-site codec/width allocation under a mean
               budget of B wire bits/value, which --comm best runs (best:B re-allocates for another budget)]
               [--sensitivity-sequences 2: calibration sequences the sensitivity pass runs]
  eval         perplexity, KL and top-1 vs exact, zero-shot task accuracy and wire bits per mode:
               --model M --tp N [--comm paper|m1,m2@rs-ag,…] [--algorithm all-gather|rs-ag] [--profile FILE]
               [--windows 16] [--window-tokens 256] [--cloze 500] [--choice 500] [--jsonl FILE]… [--out FILE, default out/eval-M-tpN.json]
               [--resume: keep modes already in --out for the same items; each mode is saved when done]
               [--part: only the listed modes, not exact too (one part of a run; join parts with report --out)]
               [--text FILE: evaluate on the evaluation part of your text, calibrate on its disjoint calibration part]
  report       regenerate accuracy.md and accuracy.svg from the eval-*.json in a folder:  report DIR
               or join runs that each did some modes first:  report --out DIR/eval-M-tpN.json PART.json…
  demo         codec demo: synthetic TP partial sums with outlier features, bits/value and error per mode
  shard        host one shard for a root on another process or host:  --listen HOST:PORT [--model M]
               [--secret S | env LOWBIT_TP_SECRET: required off loopback]  (env LOWBIT_TP_LISTEN for launchers),
               or rank ≥ 1 of a launch (below): finds the root itself, exits when the root's job ends.
               [--shards N | env LOWBIT_TP_SHARDS: host N shards, each on its own worker thread; list the address N
               times in --peers, or in a launch this process is ranks RANK…RANK+N−1]
  help         this text

--peers h1:p1,h2:p2 (run, eval, serve; env LOWBIT_TP_PEERS): shards 1… on those shard processes, shard 0 here; TP = peers + 1.
  --secret S (or LOWBIT_TP_SECRET) must match theirs; every host needs the same GGUF (its SHA-256 is compared).

Launch like torch.distributed (run, eval, serve, shard): the same command on every rank, each told its rank by
  RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT (as torchrun sets them; mpirun's OMPI_COMM_WORLD_RANK / _SIZE and
  PMI_RANK / PMI_SIZE work too, with MASTER_* passed by -x) or --rank R --world-size W --master HOST:PORT. Rank 0 runs
  the command (TP = world size), listens at MASTER_ADDR:MASTER_PORT and waits (--join-timeout S or
  LOWBIT_TP_JOIN_TIMEOUT, default 300) until ranks 1…W−1 registered; they become shards (--listen HOST:PORT, default a
  free port: loopback if the root is, else every interface) and exit when the root's job ends. Two terminals:
    RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29500 lowbit-tp shard
    RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29500 lowbit-tp run --prompt "…"
  Several shards on one host: several processes (each its own rank and port), or one process with --shards N (ranks
  RANK…RANK+N−1 on N worker threads; WORLD_SIZE counts shards, so with mpirun give --rank). Off loopback every rank
  needs the same --secret.

--comm: exact (f32 sum), auto[:CODEC] (in one process: exact, or CODEC (default int4-g32) rs-ag for 16+ shards and large
messages; over the network: per message size, the fastest of exact, bf16, int8-g32 and CODEC predicted from the link
measured at connect, never one with fewer bits than CODEC),
best (each site its own rotation codec and width from the profile's per-site allocation; best:B for B bits/value),
or a CODEC: ${COMM_EXAMPLES.join(', ')}, … (grammar: ${CODEC_GRAMMAR}; docs/wire-format.md).
Calibrated codecs (${COMM_EXAMPLES.filter((m) => needsCalibration(parseComm(m))).join(', ')}) calibrate on first use (32 × 128
tokens, cached per model and TP degree in the cache folder) or take --profile FILE from "lowbit-tp calibrate".`;

/**
 * A torch.distributed-style launch (net/launch.ts): the same command on every rank, from flags or the launcher's
 * environment; rank 0 runs it, ranks ≥ 1 turn into shards (shardMain). --listen: where such a shard listens.
 */
const LAUNCH_OPTIONS = {
  rank: { type: 'string' }, 'world-size': { type: 'string' }, master: { type: 'string' }, 'join-timeout': { type: 'string' },
  listen: { type: 'string', default: process.env.LOWBIT_TP_LISTEN }, shards: { type: 'string', default: process.env.LOWBIT_TP_SHARDS },
} as const;

const RUN_OPTIONS = {
  model: { type: 'string', default: 'smollm2' }, tp: { type: 'string', default: '2' }, comm: { type: 'string', default: 'exact' },
  algorithm: { type: 'string', default: 'all-gather' }, prompt: { type: 'string' }, 'max-tokens': { type: 'string', default: '64' },
  temperature: { type: 'string', default: '0' }, 'top-p': { type: 'string', default: '0.95' }, seed: { type: 'string', default: '1' },
  chat: { type: 'boolean', default: false }, context: { type: 'string', default: '2048' }, quiet: { type: 'boolean', default: false },
  profile: { type: 'string' }, 'decode-weights': { type: 'string', default: 'gguf' },
  peers: { type: 'string', default: process.env.LOWBIT_TP_PEERS }, secret: { type: 'string', default: process.env.LOWBIT_TP_SECRET },
  ...LAUNCH_OPTIONS,
} as const;

function fraction(v: string | undefined): number {
  const m = /^(\d+)\/(\d+)$/.exec(v ?? '');
  const f = m ? Number(m[1]) / Number(m[2]) : Number(v);
  if (!(f > 0 && f < 1)) throw new Error(`--fraction must be in (0, 1), like 1/64; got "${v}"`);
  return f;
}
/**
 * Progress on stderr: redrawn in place on a terminal; in a log (not a TTY) plain lines, one when the kind of message
 * changes (its text without numbers) or every 5 s, so logs carry no escape codes and no flood of counters.
 */
function progress(quiet?: boolean): (m: string) => void {
  if (quiet) return () => {};
  if (process.stderr.isTTY) return (m) => process.stderr.write(`\r\x1b[2K${m}`);
  let lastKind = '', lastAt = 0;
  return (m) => {
    const text = m.trim(), kind = text.replace(/[\d.]+/g, '#'), now = Date.now();
    if (!text || (kind === lastKind && now - lastAt < 5000 && !m.endsWith('\n'))) return;
    lastKind = kind; lastAt = now;
    process.stderr.write(`${text}\n`);
  };
}
/** Ends a progress line on a terminal (plain-line progress needs nothing). */
const endProgress = (quiet?: boolean) => { if (!quiet && process.stderr.isTTY) process.stderr.write('\n'); };

async function calibrateCmd(argv: string[]): Promise<number> {
  const { values: o } = parseArgs({ args: argv, strict: true, options: {
    model: { type: 'string', default: 'smollm2' }, tp: { type: 'string', default: '2' }, fraction: { type: 'string', default: '1/64' },
    sequences: { type: 'string', default: '32' }, tokens: { type: 'string', default: '128' }, out: { type: 'string' }, quiet: { type: 'boolean', default: false },
    momentum: { type: 'string', default: '0.9' },
    text: { type: 'string' }, bits: { type: 'string' }, 'sensitivity-sequences': { type: 'string', default: '2' },
  } });
  const tp = num(o.tp, 'tp'), say = progress(o.quiet);
  const engine = await Engine.load(o.model!, { tp, maxBatch: 128, progress: say });
  try {
    say('\n');
    await runCalibration(engine, { sequences: num(o.sequences, 'sequences'), tokens: num(o.tokens, 'tokens'), fraction: fraction(o.fraction), out: o.out ?? defaultProfilePath(o.model!, tp, o.text ? (await loadTextCorpus(o.text)).sha256 : undefined), say, momentum: num(o.momentum, 'momentum'), text: o.text,
      bits: o.bits === undefined ? undefined : num(o.bits, 'bits'), sensitivitySequences: num(o['sensitivity-sequences'], 'sensitivity-sequences') });
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
    part: { type: 'boolean', default: false }, text: { type: 'string' }, peers: { type: 'string', default: process.env.LOWBIT_TP_PEERS },
    secret: { type: 'string', default: process.env.LOWBIT_TP_SECRET }, ...LAUNCH_OPTIONS,
  } });
  const launch = resolveLaunch(o);
  if (launch && launch.rank > 0) return shardMain(o, launch);
  const tp = launch ? launch.worldSize : o.peers ? o.peers.split(',').filter(Boolean).length + 1 : num(o.tp, 'tp');
  const algorithm = o.algorithm as Algorithm;
  if (algorithm !== 'all-gather' && algorithm !== 'rs-ag') throw new Error(`--algorithm must be all-gather or rs-ag, got ${algorithm}`);
  const modes = o.comm === 'paper' ? [...PAPER_MODES] : o.comm!.split(',');
  if (!o.part && !modes.includes('exact')) modes.unshift('exact');
  for (const m of modes) modeSpec(m, algorithm);
  // Runs go to the ignored out/ folder; the committed tables in docs/results/ are rewritten only when --out names them.
  const out = o.out ?? `out/eval-${o.model!.replace(/[^\w.-]+/g, '_')}-tp${tp}.json`;
  const report = await asRoot(o, launch, progress(o.quiet), (peers) => runEval({ model: o.model!, tp, modes, algorithm, profile: o.profile, fraction: fraction(o.fraction),
    windows: num(o.windows, 'windows'), windowTokens: num(o['window-tokens'], 'window-tokens'), cloze: num(o.cloze, 'cloze'),
    choice: num(o.choice, 'choice'), jsonl: o.jsonl as string[], seed: num(o.seed, 'seed'), out, say: progress(o.quiet), resume: o.resume, peers, peerSecret: o.secret, text: o.text }));
  endProgress(o.quiet);
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
  const { values: o, tokens } = parseArgs({ args: argv, options: RUN_OPTIONS, strict: true, tokens: true });
  const launch = resolveLaunch(o);
  if (launch && launch.rank > 0) return shardMain(o, launch);
  if (o.prompt === undefined) throw new Error('run needs --prompt "…"');
  if (!o.prompt.trim()) throw new Error('--prompt is empty (only whitespace): give the text to continue');
  const prompt = o.prompt;
  const mode = parseComm(o.comm!);
  const algorithm = o.algorithm as Algorithm;
  if (algorithm !== 'all-gather' && algorithm !== 'rs-ag') throw new Error(`--algorithm must be all-gather or rs-ag`);
  if (o['decode-weights'] !== 'gguf' && o['decode-weights'] !== 'f32') throw new Error('--decode-weights must be gguf or f32');
  const given = (name: string) => tokens.some((t) => t.kind === 'option' && t.name === name);
  const defaults = ['model', ...(launch || o.peers ? [] : ['tp']), 'comm'].filter((k) => !given(k));
  const tpFrom = launch ? `${launch.worldSize} (world size)` : o.peers && !given('tp') ? `${o.peers.split(',').filter(Boolean).length + 1} (peers + 1)` : `${o.tp}${given('tp') ? '' : ' (default)'}`;
  if (!o.quiet) console.error(`model: ${o.model}${given('model') ? '' : ' (default)'}, TP ${tpFrom}, comm ${o.comm}${given('comm') ? '' : ' (default)'}` +
    (defaults.length ? ` — set with ${defaults.map((k) => `--${k}`).join(' / ')}` : ''));
  const say = progress(o.quiet);
  const template = o.chat ? ChatTemplate.of(await readChatMeta(o.model!)) : null;
  if (launch && given('tp') && num(o.tp, 'tp') !== launch.worldSize) throw new Error(`--tp ${o.tp} but the launch's world size is ${launch.worldSize} (TP = world size)`);
  return asRoot(o, launch, say, async (peers) => {
  const engine = await Engine.load(o.model!, { tp: peers && !given('tp') ? peers.length + 1 : num(o.tp, 'tp'), context: num(o.context, 'context'), progress: say,
    quantizedDecode: o['decode-weights'] === 'gguf', peers, peerSecret: o.secret });
  endProgress(o.quiet);
  try {
    await engine.setComm(await commConfigFor(engine, o.model!, o.comm!, algorithm, o.profile, say));
    if (o.chat && !o.quiet) console.error(template ? 'chat: the model\'s own chat template' : 'chat: the GGUF has no chat template; using the built-in one for this architecture');
    const promptIds = template ? encodeChat(engine, template.render([{ role: 'user', content: prompt }]), template.meta.bosToken) : undefined;
    process.stdout.write(prompt);
    const r = await generate(engine, prompt, {
      promptIds, maxTokens: num(o['max-tokens'], 'max-tokens'), temperature: num(o.temperature, 'temperature'), topP: num(o['top-p'], 'top-p'),
      seed: num(o.seed, 'seed'), chat: o.chat, onText: (t) => process.stdout.write(t),
    });
    console.log('\n');
    // Prefill sends one message of P tokens per all-reduce, decode one of a single token: per-message headers and
    // (for group codecs) scales weigh more on short messages, so the two are reported apart.
    const b = (x: number) => (engine.tp > 1 && x ? x.toFixed(3) : 'n/a');
    console.log(`| model | TP | comm | prompt tokens | prefill tok/s | generated | decode tok/s | wire bits/value: prefill | single-token steps | all |`);
    console.log(`|---|---|---|---|---|---|---|---|---|---|`);
    console.log(`| ${engine.cfg.arch} | ${engine.tp} | ${o.comm}${mode.exact ? '' : ` (${algorithm})`} | ${r.promptTokens} | ${r.prefillTokS.toFixed(1)} | ${r.ids.length} (${r.stopped}) | ${r.decodeTokS.toFixed(1)} | ${b(r.prefillBitsPerValue)} | ${b(r.decodeBitsPerValue)} | ${engine.tp > 1 ? r.bitsPerValue.toFixed(3) : 'n/a (TP 1)'} |`);
  } finally {
    await engine.close();
  }
  return 0;
  });
}

async function serveCmd(argv: string[]): Promise<number> {
  const { values: o } = parseArgs({ args: argv, strict: true, options: {
    model: { type: 'string', default: 'smollm2' }, tp: { type: 'string', default: '2' }, comm: { type: 'string', default: 'exact' },
    algorithm: { type: 'string', default: 'all-gather' }, host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '8080' },
    'api-key': { type: 'string', default: process.env.LOWBIT_TP_API_KEY }, context: { type: 'string', default: '2048' },
    'max-tokens-cap': { type: 'string', default: '1024' }, 'max-body': { type: 'string', default: String(1 << 20) },
    'max-queue': { type: 'string', default: '64' }, drain: { type: 'string', default: '60' }, profile: { type: 'string' },
    'decode-weights': { type: 'string', default: 'gguf' }, quiet: { type: 'boolean', default: false },
    peers: { type: 'string', default: process.env.LOWBIT_TP_PEERS }, secret: { type: 'string', default: process.env.LOWBIT_TP_SECRET },
    ...LAUNCH_OPTIONS,
  } });
  const launch = resolveLaunch(o);
  if (launch && launch.rank > 0) return shardMain(o, launch);
  parseComm(o.comm!);
  const algorithm = o.algorithm as Algorithm;
  if (algorithm !== 'all-gather' && algorithm !== 'rs-ag') throw new Error('--algorithm must be all-gather or rs-ag');
  if (o['decode-weights'] !== 'gguf' && o['decode-weights'] !== 'f32') throw new Error('--decode-weights must be gguf or f32');
  const { serveModel } = await import('./serve/start.js');
  await asRoot(o, launch, progress(o.quiet), (peers) => serveModel({
    model: o.model!, tp: num(o.tp, 'tp'), comm: o.comm!, algorithm, context: num(o.context, 'context'), profile: o.profile,
    quantizedDecode: o['decode-weights'] === 'gguf', host: o.host, port: num(o.port, 'port'), apiKey: o['api-key'] || undefined,
    maxTokens: num(o['max-tokens-cap'], 'max-tokens-cap'), maxBodyBytes: num(o['max-body'], 'max-body'), maxQueue: num(o['max-queue'], 'max-queue'),
    drainMs: 1000 * num(o.drain, 'drain'), say: progress(o.quiet), peers, peerSecret: o.secret,
  }));
  return 0; // the server keeps the process alive until SIGTERM / SIGINT
}

/** `lowbit-tp shard`: one shard for a remote root (--peers), or rank ≥ 1 of a launch. */
async function shardCmd(argv: string[]): Promise<number> {
  const { values: o } = parseArgs({ args: argv, strict: true, options: {
    model: { type: 'string', default: 'smollm2' }, secret: { type: 'string', default: process.env.LOWBIT_TP_SECRET },
    quiet: { type: 'boolean', default: false }, ...LAUNCH_OPTIONS,
  } });
  const launch = resolveLaunch(o);
  if (launch?.rank === 0) throw new Error(`rank 0 is the root: start it with lowbit-tp run|eval|serve and the same launch settings; ranks 1…${launch.worldSize - 1} are shards`);
  return shardMain(o, launch);
}

/**
 * A shard process. With --peers roots (no launch) it serves until SIGTERM / SIGINT, across root restarts. In a
 * launch it registers with the root (net/rendezvous.ts) and lives as long as that registration: it exits 0 when the
 * root finished, 1 when the root failed or vanished — so launchers that wait for every rank see the job end.
 */
async function shardMain(o: { listen?: string; model?: string; secret?: string; quiet?: boolean; shards?: string }, launch: Launch | null): Promise<number> {
  const listen = o.listen || (launch ? defaultShardListen(launch.master) : undefined);
  const shards = o.shards ? num(o.shards, 'shards') : 1;
  if (!(Number.isInteger(shards) && shards >= 1)) throw new Error(`--shards (LOWBIT_TP_SHARDS) must be a whole number ≥ 1, got "${o.shards}"`);
  // in a launch, --shards N makes this process ranks RANK…RANK+N−1 (the world size counts shards, not processes)
  const ranks = launch ? Array.from({ length: shards }, (_, i) => launch.rank + i) : undefined;
  if (launch && launch.rank + shards > launch.worldSize) throw new Error(`--shards ${shards} from rank ${launch.rank} would host ranks ${launch.rank}…${launch.rank + shards - 1}, beyond the world size ${launch.worldSize}`);
  if (!listen) throw new Error('shard needs --listen HOST:PORT (or LOWBIT_TP_LISTEN), or a launch: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT (or --rank, --world-size, --master)');
  const { modelPath } = await import('./models.js');
  const { startShardServer } = await import('./net/server.js');
  const say = o.quiet ? () => {} : (m: string) => console.error(m.trimEnd());
  const server = await startShardServer({ listen, model: await modelPath(o.model!), secret: o.secret || undefined, say, shards, ranks });
  console.log(`listening ${server.address}`); // first stdout line: scripts wait for it
  const stop = new AbortController();
  const signal = new Promise<{ done: boolean; why: string }>((res) => {
    const on = (sig: string) => () => { stop.abort(); res({ done: true, why: sig }); };
    process.once('SIGTERM', on('SIGTERM')); process.once('SIGINT', on('SIGINT'));
  });
  if (!launch) { await signal; await server.close(); return 0; }
  const { joinRoot } = await import('./net/rendezvous.js');
  const { worldSize, master } = launch, name = ranks!.length > 1 ? `ranks ${ranks!.join(', ')}` : `rank ${ranks![0]}`;
  // one registration per hosted rank, all naming this process's address
  const joins = await Promise.allSettled(ranks!.map((rank) => joinRoot({ launch: { ...launch, rank }, listen: server.address, secret: o.secret, modelSha: server.modelSha, say, signal: stop.signal })));
  const joined = joins.flatMap((j) => (j.status === 'fulfilled' ? [j.value] : []));
  try {
    const failed = joins.find((j): j is PromiseRejectedResult => j.status === 'rejected');
    if (failed) throw failed.reason;
    say(`${name} of ${worldSize}: registered with the root at ${master}`);
    const end = await Promise.race([...joined.map((j) => j.ended), signal]);
    (end.done ? say : (m: string) => console.error(m))(`${name}: ${end.why}`);
    return end.done ? 0 : 1;
  } finally { joined.forEach((j) => j.close()); await server.close(); }
}

/**
 * The shards of a root: --peers, or those of the launch this process is rank 0 of — their addresses come from the
 * rendezvous, which the pool then owns; a failure before the pool exists still tells the waiting shards why.
 */
async function asRoot<T>(o: { peers?: string; secret?: string; model?: string; shards?: string }, launch: Launch | null, say: (m: string) => void,
                         body: (peers: string[] | undefined) => Promise<T>): Promise<T> {
  if (!launch) return body(o.peers ? o.peers.split(',').filter(Boolean) : undefined);
  if (o.shards && Number(o.shards) !== 1) throw new Error('--shards (LOWBIT_TP_SHARDS) is for ranks ≥ 1: rank 0 hosts shard 0 only');
  if (o.peers) throw new Error('both --peers (LOWBIT_TP_PEERS) and a launch (rank, world size, master) name the shards: give one');
  const { launchPeers, rendezvousOf } = await import('./net/rendezvous.js');
  const { modelPath } = await import('./models.js');
  const peers = await launchPeers(launch, { model: await modelPath(o.model!), secret: o.secret || undefined, say });
  try { return await body(peers); } catch (e) { await rendezvousOf(peers)?.close(`the root failed: ${(e as Error).message}`); throw e; }
}

async function main(argv: string[]): Promise<number> {
  const [cmd = 'help', ...rest] = argv;
  switch (cmd) {
    case 'run': return run(rest);
    case 'serve': return serveCmd(rest);
    case 'calibrate': return calibrateCmd(rest);
    case 'eval': return evalCmd(rest);
    case 'report': return reportCmd(rest);
    case 'demo': {
      console.log('lowbit-tp codec demo: TP 2, 64 tokens × 576 features, 12 planted outlier features, calibrated on separate samples');
      console.log(formatDemo(await codecDemo()));
      return 0;
    }
    case 'shard': return shardCmd(rest);
    case 'help': case '--help': case '-h': console.log(HELP); return 0;
    default: console.error(`unknown command "${cmd}"\n\n${HELP}`); return 2;
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err) => {
  console.error(`lowbit-tp: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
