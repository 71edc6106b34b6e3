// Soak (issue 6): N short generations in one process over one engine (TP 2, compressed all-reduce), reporting
// resident memory at the start and the end. Usage: node --import tsx scripts/soak.ts [N]
import { Engine } from '../bindings/engine.js';
import { generate } from '../bindings/generate.js';

const N = Number(process.argv[2] ?? 1000);
const e = await Engine.load('smollm2', { tp: 2, context: 64 });
await e.setComm({ mode: 'int4-g32', algorithm: 'all-gather', fraction: 1 / 64 });
const prompts = ['The capital of France is', 'Python is a', 'Once upon a time', 'The answer is'];
const mb = () => process.memoryUsage().rss / 2 ** 20;
await generate(e, prompts[0], { maxTokens: 4 });
const start = mb(), t0 = Date.now();
let tokens = 0;
for (let i = 0; i < N; i++) {
  const r = await generate(e, prompts[i % prompts.length], { maxTokens: 4, temperature: i % 10 === 0 ? 0.8 : 0, seed: i });
  tokens += r.ids.length;
  if ((i + 1) % 100 === 0) console.error(`${i + 1}/${N}: RSS ${mb().toFixed(0)} MiB`);
}
const end = mb();
await e.close();
console.log(JSON.stringify({ generations: N, tokens, seconds: (Date.now() - t0) / 1000, rssStartMiB: +start.toFixed(1), rssEndMiB: +end.toFixed(1) }));
