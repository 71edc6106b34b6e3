// Generation: prefill the prompt, then decode token by token with greedy or temperature / top-p sampling.
import { Engine } from './engine.js';
import { argmax } from './eval/metrics.js';
import { Rng } from './util/rng.js';

/** What generate() needs of an engine (its public API); the server and the tests can wrap one. */
export type GenerateEngine = Pick<Engine, 'encode' | 'forward' | 'reset' | 'position' | 'context' | 'tok' | 'cfg'>;

export interface GenerateOptions {
  maxTokens?: number; temperature?: number; topP?: number; seed?: number; chat?: boolean;
  /** The prompt already tokenized (then `prompt` is only for show and `chat` is ignored). */
  promptIds?: number[];
  /** Stop strings: generation ends before the first of them; the text never contains it. */
  stop?: string[];
  /** Checked between tokens: once aborted, generation ends with `stopped: 'aborted'`. */
  signal?: AbortSignal;
  /** Text as it becomes final (held back while it could still be the start of a stop string). */
  onText?: (piece: string) => void;
}
export interface GenerateResult {
  text: string; ids: number[]; promptTokens: number;
  prefillMs: number; decodeMs: number; prefillTokS: number; decodeTokS: number;
  /** Wire bits per all-reduced value over the whole call, over the prefill alone, and over the single-token steps. */
  bitsPerValue: number; prefillBitsPerValue: number; decodeBitsPerValue: number;
  stopped: 'eos' | 'length' | 'stop' | 'aborted';
}

/** Sample from logits: greedy at temperature 0, else softmax(logits / T) restricted to the top-p nucleus. */
export function sample(logits: Float32Array, temperature: number, topP: number, rng: Rng): number {
  if (temperature <= 0) return argmax(logits);
  let mx = -Infinity;
  for (const v of logits) mx = Math.max(mx, v);
  const idx: number[] = [], p: number[] = [];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = Math.exp((logits[i] - mx) / temperature);
    if (e > 1e-12) { idx.push(i); p.push(e); sum += e; }
  }
  const order = idx.map((_, j) => j).sort((a, b) => p[b] - p[a]);
  let cum = 0, cut = order.length;
  for (let j = 0; j < order.length; j++) { cum += p[order[j]] / sum; if (cum >= topP) { cut = j + 1; break; } }
  const kept = order.slice(0, cut), total = kept.reduce((a, j) => a + p[j], 0);
  let u = rng.next() * total;
  for (const j of kept) { u -= p[j]; if (u <= 0) return idx[j]; }
  return idx[kept[kept.length - 1]];
}

/** Built-in one-turn chat prompt, for models whose GGUF has no `tokenizer.chat_template` (serve/template.ts renders those that do). */
export function chatPrompt(engine: Pick<Engine, 'cfg'>, user: string): string {
  return engine.cfg.arch === 'gemma3'
    ? `<start_of_turn>user\n${user}<end_of_turn>\n<start_of_turn>model\n`
    : `<|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n`;
}

/** Where `text` must be cut for a stop string (its first occurrence), and how much of it is safe to show now. */
export function stopCut(text: string, stops: string[]): { cut: number; safe: number } {
  let cut = -1;
  for (const s of stops) { const i = text.indexOf(s); if (i >= 0 && (cut < 0 || i < cut)) cut = i; }
  if (cut >= 0) return { cut, safe: cut };
  let safe = text.length;
  for (const s of stops) // hold back a tail that could still grow into `s`
    for (let k = Math.min(s.length - 1, text.length); k > 0; k--) if (text.endsWith(s.slice(0, k))) { safe = Math.min(safe, text.length - k); break; }
  return { cut: -1, safe };
}

const bits = (bytes: number, values: number) => (values ? (8 * bytes) / values : 0);

export async function generate(engine: GenerateEngine, prompt: string, opts: GenerateOptions = {}): Promise<GenerateResult> {
  const maxTokens = opts.maxTokens ?? 64, temperature = opts.temperature ?? 0, topP = opts.topP ?? 0.95;
  const rng = new Rng(opts.seed ?? 1);
  const eos = new Set([engine.tok.eos, ...engine.tok.eot]);
  const stops = (opts.stop ?? []).filter((s) => s.length > 0);
  const promptIds = opts.promptIds ?? engine.encode(opts.chat ? chatPrompt(engine, prompt) : prompt);
  engine.reset();
  const t0 = performance.now();
  let out = await engine.forward(promptIds);
  const prefillMs = performance.now() - t0;
  const pre = { bytes: out.bytesSent, values: out.valuesSent }, dec = { bytes: 0, values: 0 };
  const ids: number[] = [];
  let stopped: GenerateResult['stopped'] = 'length', shown = 0, text = '';
  const show = (upTo: number) => { if (upTo > shown) { opts.onText?.(text.slice(shown, upTo)); shown = upTo; } };
  const t1 = performance.now();
  for (let i = 0; i < maxTokens; i++) {
    if (opts.signal?.aborted) { stopped = 'aborted'; break; }
    const next = sample(out.logits, temperature, topP, rng);
    if (eos.has(next)) { stopped = 'eos'; break; }
    ids.push(next);
    text = engine.tok.tokenizer.decode(ids);
    const { cut, safe } = stopCut(text, stops);
    if (cut >= 0) { text = text.slice(0, cut); show(cut); stopped = 'stop'; break; }
    if (!text.endsWith('\uFFFD')) show(safe);
    if (i === maxTokens - 1 || engine.position + 1 > engine.context) break;
    out = await engine.forward([next]);
    dec.bytes += out.bytesSent; dec.values += out.valuesSent;
  }
  const decodeMs = performance.now() - t1;
  if (stopped === 'length' || stopped === 'eos') show(text.length);
  return {
    text, ids, promptTokens: promptIds.length, prefillMs, decodeMs,
    prefillTokS: promptIds.length / (prefillMs / 1000), decodeTokS: Math.max(ids.length - 1, 0) / (decodeMs / 1000),
    bitsPerValue: bits(pre.bytes + dec.bytes, pre.values + dec.values), prefillBitsPerValue: bits(pre.bytes, pre.values),
    decodeBitsPerValue: bits(dec.bytes, dec.values), stopped,
  };
}
