// `lowbit-tp serve` driven by the official openai client: SmolLM2 at TP 2, the server in-process on port 0.
// Greedy decoding (temperature 0) makes every answer reproducible, so streamed, concurrent and stopped answers are
// checked against the same request answered alone.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { Engine } from '../bindings/engine.js';
import { GenerateEngine } from '../bindings/generate.js';
import { RunningServer, startServer } from '../bindings/serve/server.js';
import { ChatTemplate, encodeChat, readChatMeta } from '../bindings/serve/template.js';
import { stopCut } from '../bindings/generate.js';

const engine = await Engine.load('smollm2', { tp: 2, context: 256 });
const template = ChatTemplate.of(await readChatMeta('smollm2'));
let forwards = 0, failAfter = Infinity;
/** The engine's public API, counting forwards (and failing on demand, as a dead shard would). */
const counted: GenerateEngine = {
  encode: (t, b) => engine.encode(t, b), reset: () => engine.reset(), tok: engine.tok, cfg: engine.cfg,
  get position() { return engine.position; }, get context() { return engine.context; },
  forward: async (ids, from) => {
    if (++forwards > failAfter) throw new Error('shard 1 died (simulated)');
    return engine.forward(ids, from);
  },
};
const servers: RunningServer[] = [];
async function serve(opts: Partial<Parameters<typeof startServer>[1]> = {}, e: GenerateEngine = counted): Promise<RunningServer> {
  const s = await startServer(e, { modelId: 'smollm2', template, port: 0, log: () => {}, ...opts });
  servers.push(s);
  return s;
}
const client = (s: RunningServer, apiKey = 'none') => new OpenAI({ baseURL: `${s.url}/v1`, apiKey, maxRetries: 0, timeout: 30_000 });
after(async () => { for (const s of servers) await s.drain(1000); await engine.close(); });

const main = await serve();
const api = client(main);
const greedy = { model: 'smollm2', temperature: 0 } as const;

async function streamText(s: AsyncIterable<OpenAI.Completions.Completion>): Promise<{ text: string; finish: string | null }> {
  let text = '', finish: string | null = null;
  for await (const c of s) { text += c.choices[0]?.text ?? ''; finish = c.choices[0]?.finish_reason ?? finish; }
  return { text, finish };
}

test('the chat template of the GGUF renders the prompt (system line added by the template), BOS as the model wants', () => {
  assert.ok(template);
  const text = template!.render([{ role: 'user', content: 'Hi' }]);
  assert.equal(text, '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
  assert.equal(encodeChat(engine, text, template!.meta.bosToken)[0], engine.tok.tokenizer.encode('<|im_start|>')[0]); // SmolLM2: add_bos_token false
  const withBos = new ChatTemplate({ template: '{{ bos_token }}{{ messages[0].content }}', bosToken: '<|endoftext|>', eosToken: '' });
  const fake = { encode: (t: string, b?: boolean) => (b ? [-1] : []).concat(engine.encode(t, false)), tok: { addBos: true } };
  const ids = encodeChat(fake, withBos.render([{ role: 'user', content: 'x' }]), '<|endoftext|>');
  assert.notEqual(ids[0], -1, 'a template that writes bos_token gets no second BOS');
});

test('models, chat and completion, streamed and not, with usage', async () => {
  const models = await api.models.list();
  assert.deepEqual(models.data.map((m) => m.id), ['smollm2']);

  const chat = await api.chat.completions.create({ ...greedy, messages: [{ role: 'user', content: 'What is the capital of France?' }], max_tokens: 12 });
  assert.equal(chat.object, 'chat.completion');
  assert.equal(chat.choices[0].message.role, 'assistant');
  assert.match(chat.choices[0].message.content!, /Paris/);
  assert.ok(chat.usage!.prompt_tokens > 20 && chat.usage!.completion_tokens <= 12);
  assert.equal(chat.usage!.total_tokens, chat.usage!.prompt_tokens + chat.usage!.completion_tokens);

  const chunks = await api.chat.completions.create({ ...greedy, messages: [{ role: 'user', content: 'What is the capital of France?' }], max_tokens: 12, stream: true, stream_options: { include_usage: true } });
  let text = '', usage;
  for await (const c of chunks) { text += c.choices[0]?.delta?.content ?? ''; usage ??= c.usage ?? undefined; }
  assert.equal(text, chat.choices[0].message.content, 'streamed chat = the same chat answered at once');
  assert.deepEqual(usage, chat.usage);

  const done = await api.completions.create({ ...greedy, prompt: 'The capital of France is', max_tokens: 8 });
  assert.equal(done.choices[0].finish_reason, 'length');
  assert.equal(done.usage!.completion_tokens, 8);
  const streamed = await streamText(await api.completions.create({ ...greedy, prompt: 'The capital of France is', max_tokens: 8, stream: true }));
  assert.deepEqual(streamed, { text: done.choices[0].text, finish: 'length' });
});

test('two concurrent streams each get the answer they would get alone (first come, first served)', async () => {
  const prompts = ['Tensor parallelism splits', 'The quick brown fox'];
  const alone = [];
  for (const prompt of prompts) alone.push((await api.completions.create({ ...greedy, prompt, max_tokens: 10 })).choices[0].text);
  const both = await Promise.all(prompts.map(async (prompt) => streamText(await api.completions.create({ ...greedy, prompt, max_tokens: 10, stream: true }))));
  assert.deepEqual(both.map((b) => b.text), alone);
});

test('a stop sequence ends the text before it, streamed and not', async () => {
  const prompt = 'One, two, three, four, five, six,';
  const full = (await api.completions.create({ ...greedy, prompt, max_tokens: 12 })).choices[0].text;
  const stop = full.trim().split(/\s+/)[2]; // the third word of the greedy continuation
  assert.ok(stop, `continuation "${full}"`);
  const cut = full.slice(0, full.indexOf(stop));
  const r = await api.completions.create({ ...greedy, prompt, max_tokens: 12, stop: [stop, 'never appears'] });
  assert.equal(r.choices[0].text, cut);
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.deepEqual(await streamText(await api.completions.create({ ...greedy, prompt, max_tokens: 12, stop, stream: true })), { text: cut, finish: 'stop' });
  assert.deepEqual(stopCut('abc <|e', ['<|end|>']), { cut: -1, safe: 4 }, 'a possible start of a stop string is held back');
});

test('a client that aborts mid-stream frees the slot at once; a queued one that leaves frees its place; the next request works', async () => {
  const before = forwards;
  const long = await api.completions.create({ ...greedy, prompt: 'Once upon a time', max_tokens: 200, stream: true });
  let got = 0;
  const queued = new AbortController();
  const waiting = api.completions.create({ ...greedy, prompt: 'Hello', max_tokens: 200 }, { signal: queued.signal }).catch((e) => e);
  for await (const _ of long) {
    if (++got === 2) {
      while (main.ctx.queue.queued === 0) await new Promise((r) => setTimeout(r, 5));
      queued.abort(); // leaves the queue
      long.controller.abort(); // leaves mid-stream
      break;
    }
  }
  assert.ok((await waiting) instanceof Error);
  const t0 = Date.now();
  while (main.ctx.queue.running || main.ctx.queue.queued) { assert.ok(Date.now() - t0 < 2000, 'slot not freed'); await new Promise((r) => setTimeout(r, 5)); }
  assert.ok(forwards - before < 20, `generation went on after the client left (${forwards - before} forwards)`);
  const next = await api.completions.create({ ...greedy, prompt: 'The capital of France is', max_tokens: 3 });
  assert.equal(next.choices[0].finish_reason, 'length');
});

test('errors are OpenAI error objects: bad key 401, malformed body 400, unknown field 400, caps, no chat template', async () => {
  const keyed = await serve({ apiKey: 'sesame' });
  await assert.rejects(client(keyed, 'wrong').models.list(), (e: unknown) => e instanceof OpenAI.AuthenticationError && (e.error as { code: string }).code === 'invalid_api_key');
  assert.equal((await client(keyed, 'sesame').models.list()).data.length, 1);

  const raw = await fetch(`${main.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"prompt": "x", ' });
  assert.equal(raw.status, 400);
  const body = await raw.json() as { error: Record<string, unknown> };
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(body.error.code, 'invalid_json');

  await assert.rejects(api.completions.create({ ...greedy, prompt: 'x', max_tokens: 2, frobnicate: true } as never),
    (e: unknown) => e instanceof OpenAI.BadRequestError && e.param === 'frobnicate' && /Unrecognized request argument/.test(e.message));
  await assert.rejects(api.completions.create({ ...greedy, prompt: 'x', max_tokens: 100_000 }), (e: unknown) => e instanceof OpenAI.BadRequestError && e.code === 'max_tokens_exceeded');
  await assert.rejects(api.completions.create({ ...greedy, prompt: 'word '.repeat(300), max_tokens: 2 }), (e: unknown) => e instanceof OpenAI.BadRequestError && e.code === 'context_length_exceeded');
  const big = await fetch(`${main.url}/v1/completions`, { method: 'POST', body: JSON.stringify({ prompt: 'x'.repeat(2 << 20) }) });
  assert.equal(big.status, 413);

  const plain = await serve({ template: null });
  await assert.rejects(client(plain).chat.completions.create({ ...greedy, messages: [{ role: 'user', content: 'hi' }] }),
    (e: unknown) => e instanceof OpenAI.BadRequestError && e.code === 'no_chat_template' && /use \/v1\/completions/.test(e.message));
  assert.equal((await client(plain).completions.create({ ...greedy, prompt: 'Hi', max_tokens: 2 })).choices[0].finish_reason, 'length');

  await assert.rejects(startServer(counted, { modelId: 'm', template, host: '0.0.0.0', port: 0 }), /needs --api-key/);
});

test('SIGTERM-style drain: the running stream finishes, new requests are refused, then the server closes', async () => {
  const s = await serve();
  const c = client(s);
  const running = c.completions.create({ ...greedy, prompt: 'Once upon a time', max_tokens: 12, stream: true }).then(streamText);
  while (!s.ctx.queue.running) await new Promise((r) => setTimeout(r, 5));
  const drained = s.drain(30_000);
  await assert.rejects(fetch(`${s.url}/v1/models`)); // no longer listening
  assert.equal((await running).finish, 'length');
  await drained;
});

test('a dead shard: 503 with an error object for the request and every later one, never a hung socket', async () => {
  const s = await serve();
  const c = client(s);
  failAfter = forwards + 3; // prefill + two decode steps, then the engine fails
  try {
    await assert.rejects(c.completions.create({ ...greedy, prompt: 'Hello', max_tokens: 20, stream: true }).then(streamText), /engine failed/);
    await assert.rejects(c.completions.create({ ...greedy, prompt: 'Hello', max_tokens: 2 }), (e: unknown) => e instanceof OpenAI.InternalServerError && e.status === 503);
    assert.equal((await fetch(`${s.url}/health`)).status, 503);
  } finally { failAfter = Infinity; }
});
