// The OpenAI-compatible server under load: 1, 4 and 16 concurrent streaming clients against SmolLM2 at TP 2
// (quantized decode, exact all-reduce), each asking for the same number of tokens. Aggregate tokens/s and
// per-request latency (time to first token, total), median and range over the repeats. The engine serves one
// sequence at a time (first come, first served), so aggregate tokens/s should stay flat and latency grow with
// the number of clients. Writes docs/results/serve-bench.json. Options: --clients 1,4,16 --repeats 5 --tokens 32
import { mkdirSync, writeFileSync } from 'node:fs';
import { Engine } from '../bindings/engine.js';
import { startServer } from '../bindings/serve/server.js';
import { ChatTemplate, readChatMeta } from '../bindings/serve/template.js';
import { machine } from './machine.js';

const arg = (k: string, d: string) => { const i = process.argv.indexOf(`--${k}`); return i > 0 ? process.argv[i + 1] : d; };
const clients = arg('clients', '1,4,16').split(',').map(Number);
const repeats = Number(arg('repeats', '5')), tokens = Number(arg('tokens', '32')), tp = Number(arg('tp', '2'));
const PROMPTS = ['Tensor parallelism splits each layer across devices, so', 'The history of the printing press begins', 'In a small village by the sea, there lived',
  'The main idea behind a hash table is', 'Photosynthesis is the process by which', 'Once upon a time, a programmer'];

const engine = await Engine.load('smollm2', { tp, context: 512, quantizedDecode: true });
const server = await startServer(engine, { modelId: 'smollm2', template: ChatTemplate.of(await readChatMeta('smollm2')), port: 0, maxQueue: 256, log: () => {} });

/** One streamed completion: time to first token, total time, completion tokens (from usage). */
async function one(i: number): Promise<{ ttftMs: number; totalMs: number; tokens: number }> {
  const t0 = performance.now();
  const res = await fetch(`${server.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: PROMPTS[i % PROMPTS.length], max_tokens: tokens, temperature: 0.8, seed: i, stop: [], stream: true, stream_options: { include_usage: true } }) });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  let ttftMs = -1, n = 0, buf = '';
  const dec = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += dec.decode(chunk, { stream: true });
    let k;
    while ((k = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, k); buf = buf.slice(k + 2);
      if (!ev.startsWith('data: ') || ev === 'data: [DONE]') continue;
      const d = JSON.parse(ev.slice(6));
      if (d.error) throw new Error(d.error.message);
      if (ttftMs < 0 && d.choices?.[0]?.text) ttftMs = performance.now() - t0;
      if (d.usage) n = d.usage.completion_tokens;
    }
  }
  return { ttftMs, totalMs: performance.now() - t0, tokens: n };
}

const stats = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return { median: s[Math.floor((s.length - 1) / 2)] / 2 + s[Math.ceil((s.length - 1) / 2)] / 2, min: s[0], max: s[s.length - 1] }; };
const round = (o: { median: number; min: number; max: number }, d = 1) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Number(v.toFixed(d))]));

await Promise.all([one(0), one(1)]); // warm-up
const rows = [];
console.log(`| clients | aggregate tok/s (median, range) | request latency ms (median of per-repeat medians, range) | time to first token ms (median, range) |`);
console.log(`|---|---|---|---|`);
for (const c of clients) {
  const agg: number[] = [], lat: number[] = [], ttft: number[] = [], latAll: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    const res = await Promise.all(Array.from({ length: c }, (_, i) => one(r * 100 + i)));
    const wall = performance.now() - t0;
    agg.push(res.reduce((a, x) => a + x.tokens, 0) / (wall / 1000));
    lat.push(stats(res.map((x) => x.totalMs)).median);
    latAll.push(...res.map((x) => x.totalMs));
    ttft.push(...res.map((x) => x.ttftMs));
  }
  const row = { clients: c, repeats, tokensPerRequest: tokens, aggregateTokS: round(stats(agg)), latencyMs: round(stats(lat), 0), latencyAllRequestsMs: round(stats(latAll), 0), ttftMs: round(stats(ttft), 0) };
  rows.push(row);
  const f = (s: Record<string, number>) => `${s.median} (${s.min}–${s.max})`;
  console.log(`| ${c} | ${f(row.aggregateTokS)} | ${f(row.latencyMs)} | ${f(row.ttftMs)} |`);
}
await server.drain(1000);
await engine.close();
mkdirSync('docs/results', { recursive: true });
writeFileSync('docs/results/serve-bench.json', JSON.stringify({
  bench: 'serve', model: 'smollm2', tp, comm: 'exact', decode: 'quantized (gguf blocks)', scheduling: 'one sequence at a time, FIFO',
  note: 'client and server in one process; temperature 0.8 with a seed per request; tokens are counted from each answer\'s usage (a request that samples EOS early counts fewer)',
  machine: machine(), rows,
}, null, 1));
console.log('wrote docs/results/serve-bench.json');
