// P4 against peers: prefill and decode tokens/s of lowbit-tp vs llama.cpp on the same GGUF, same prompt, same thread
// count — node-llama-cpp (native llama.cpp, CPU) in Node as the native ceiling, and wllama (llama.cpp in
// WebAssembly) in headless Chromium against lowbit-tp in the same browser. Peers come from `bash
// scripts/setup-peers.sh`; Chromium from Debian. Writes docs/results/peers-bench.json.
// Usage: node dist/bench/peers.bench.js [--model smollm2] [--threads 1,2] [--prompt 128] [--decode 32]
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Engine } from '../bindings/engine.js';
import { cacheDir, MODELS, readModel } from '../bindings/models.js';
import { machine } from './machine.js';

const arg = (k: string, d: string) => { const i = process.argv.indexOf(`--${k}`); return i > 0 ? process.argv[i + 1] : d; };
const model = arg('model', 'smollm2'), threads = arg('threads', '1,2').split(',').map(Number);
const promptLen = Number(arg('prompt', '128')), decode = Number(arg('decode', '32'));
const PEERS = resolve('bench/peers/node_modules'), CHROMIUM = '/usr/bin/chromium';
if (!existsSync(`${PEERS}/node-llama-cpp`)) { console.error('peers missing: run "bash scripts/setup-peers.sh" first'); process.exit(1); }

interface Row { runtime: string; engine: string; threads: number; promptTokens: number; prefillTokS: number; decodeTokS: number }
const rows: Row[] = [];
const say = (r: Row) => { rows.push(r); console.error(`.. ${r.runtime} ${r.engine} ×${r.threads}: prefill ${r.prefillTokS.toFixed(1)} tok/s, decode ${r.decodeTokS.toFixed(1)} tok/s`); };

// One prompt for everyone: the first `promptLen` tokens of a paragraph, as text (each engine tokenizes it itself).
const { path: modelPath } = await readModel(model);
const PARAGRAPH = 'Tensor parallelism splits each layer of a language model across devices. After every row-parallel ' +
  'matrix multiplication each device holds a partial sum, and the partial sums are added together by an all-reduce. ';
let prompt: number[] = [], text = '';
for (const tp of threads) for (const quantizedDecode of [false, true]) {
  const engine = await Engine.load(modelPath, { tp, maxBatch: promptLen, context: promptLen + decode + 8, quantizedDecode });
  if (!prompt.length) { prompt = engine.encode(PARAGRAPH.repeat(Math.ceil(promptLen / 30))).slice(0, promptLen); text = engine.tok.tokenizer.decode(prompt.slice(engine.tok.addBos ? 1 : 0)); }
  for (const comm of tp === 1 || quantizedDecode ? ['exact'] : ['exact', 'int4-g32']) {
    await engine.setComm(comm === 'exact' ? null : { mode: comm, algorithm: 'all-gather', fraction: 1 / 64 });
    engine.reset(); await engine.forward(prompt.slice(0, 8)); engine.reset();
    let t = performance.now();
    await engine.forward(prompt);
    const pre = performance.now() - t;
    t = performance.now();
    for (let i = 0; i < decode; i++) await engine.forward([prompt[i]]);
    say({ runtime: 'node', engine: `lowbit-tp TP ${tp} ${comm}${quantizedDecode ? ', GGUF-block decode' : ''}`, threads: tp, promptTokens: prompt.length, prefillTokS: prompt.length / (pre / 1000), decodeTokS: decode / ((performance.now() - t) / 1000) });
  }
  await engine.close();
}

// node-llama-cpp: its prebuilt CPU binary only (build: 'never'), the same thread counts.
{
  const { getLlama } = await import(pathToFileURL(`${PEERS}/node-llama-cpp/dist/index.js`).href);
  const llama = await getLlama({ gpu: false, build: 'never' });
  const m = await llama.loadModel({ modelPath });
  const toks = m.tokenize(text);
  for (const n of threads) {
    const ctx = await m.createContext({ contextSize: 512, batchSize: 512, threads: n });
    const seq = ctx.getSequence();
    await seq.evaluateWithoutGeneratingNewTokens(toks.slice(0, 8)); await seq.clearHistory(); // warm-up
    let t = performance.now();
    await seq.evaluateWithoutGeneratingNewTokens(toks);
    const pre = performance.now() - t;
    t = performance.now();
    let k = 0;
    for await (const _ of seq.evaluate([toks[0]], { temperature: 0 })) if (++k >= decode) break;
    say({ runtime: 'node', engine: 'node-llama-cpp (native)', threads: n, promptTokens: toks.length, prefillTokS: toks.length / (pre / 1000), decodeTokS: decode / ((performance.now() - t) / 1000) });
    await ctx.dispose();
  }
  await m.dispose(); await llama.dispose();
}

// Headless Chromium: wllama and lowbit-tp on the same page (web/bench.js), model served from the cache.
if (existsSync(CHROMIUM)) {
  const { chromium } = await import('playwright-core');
  // @ts-expect-error -- plain ESM helper without types
  const { serve } = await import('../../web/serve.mjs');
  const port = 21000 + Math.floor(Math.random() * 20000);
  const server = await serve(port, { '/peers/': `${PEERS}/`, '/models/': `${cacheDir()}/` });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
    await page.goto(`http://127.0.0.1:${port}/web/bench.html`);
    await page.waitForSelector('body[data-ready]');
    const url = `/models/${MODELS[model]?.file ?? modelPath.split('/').pop()}`;
    for (const n of threads) {
      const w = await page.evaluate((o) => (window as any).benchWllama(o), { url, wllamaUrl: '/peers/@wllama/wllama/esm/index.js', wasmUrl: '/peers/@wllama/wllama/esm/wasm/wllama.wasm', threads: n, text, decode });
      say({ runtime: 'chromium', engine: 'wllama (llama.cpp wasm)', threads: n, ...w });
      for (const quantizedDecode of [false, true]) {
        const l = await page.evaluate((o) => (window as any).benchLowbit(o), { url, tp: n, comm: 'exact', prompt, decode, quantizedDecode });
        say({ runtime: 'chromium', engine: `lowbit-tp TP ${n} exact${quantizedDecode ? ', GGUF-block decode' : ''}`, threads: n, ...l });
      }
    }
  } finally { await browser.close(); server.close(); }
} else console.error(`no ${CHROMIUM}: skipping the browser half (wllama)`);

console.log(`\n${model}: ${promptLen}-token prompt, ${decode} decoded tokens (${machine().cpu}, ${machine().cores} cores, ${process.version})`);
console.log('| runtime | engine | threads | prompt tokens | prefill tok/s | decode tok/s | lowbit-tp exact ÷ this, prefill | decode |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const ours = rows.find((o) => o.runtime === r.runtime && o.engine === `lowbit-tp TP ${r.threads} exact`);
  console.log(`| ${r.runtime} | ${r.engine} | ${r.threads} | ${r.promptTokens} | ${r.prefillTokS.toFixed(1)} | ${r.decodeTokS.toFixed(1)} | ${ours ? (ours.prefillTokS / r.prefillTokS).toFixed(2) : ''} | ${ours ? (ours.decodeTokS / r.decodeTokS).toFixed(2) : ''} |`);
}
mkdirSync('docs/results', { recursive: true });
writeFileSync(`docs/results/peers-bench-${model}.json`, JSON.stringify({ machine: machine(), model, promptLen, decode, rows }, null, 1));
