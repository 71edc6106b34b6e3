// Generation: prefill the prompt, then decode token by token with greedy or temperature / top-p sampling.
import { Engine } from './engine.js';
import { argmax } from './eval/metrics.js';
import { Rng } from './util/rng.js';

export interface GenerateOptions {
  maxTokens?: number; temperature?: number; topP?: number; seed?: number; chat?: boolean;
  onText?: (piece: string) => void;
}
export interface GenerateResult {
  text: string; ids: number[]; promptTokens: number;
  prefillMs: number; decodeMs: number; prefillTokS: number; decodeTokS: number;
  bitsPerValue: number; stopped: 'eos' | 'length';
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

export function chatPrompt(engine: Engine, user: string): string {
  return engine.cfg.arch === 'gemma3'
    ? `<start_of_turn>user\n${user}<end_of_turn>\n<start_of_turn>model\n`
    : `<|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n`;
}

export async function generate(engine: Engine, prompt: string, opts: GenerateOptions = {}): Promise<GenerateResult> {
  const maxTokens = opts.maxTokens ?? 64, temperature = opts.temperature ?? 0, topP = opts.topP ?? 0.95;
  const rng = new Rng(opts.seed ?? 1);
  const stop = new Set([engine.tok.eos, ...engine.tok.eot]);
  const promptIds = engine.encode(opts.chat ? chatPrompt(engine, prompt) : prompt);
  engine.reset();
  let bytes = 0, values = 0;
  const t0 = performance.now();
  let out = await engine.forward(promptIds);
  const prefillMs = performance.now() - t0;
  bytes += out.bytesSent; values += out.valuesSent;
  const ids: number[] = [];
  let stopped: GenerateResult['stopped'] = 'length', printed = '';
  const t1 = performance.now();
  for (let i = 0; i < maxTokens; i++) {
    const next = sample(out.logits, temperature, topP, rng);
    if (stop.has(next)) { stopped = 'eos'; break; }
    ids.push(next);
    const text = engine.tok.tokenizer.decode(ids);
    if (opts.onText && !text.endsWith('\uFFFD')) { opts.onText(text.slice(printed.length)); printed = text; }
    if (i === maxTokens - 1 || engine.position + 1 > engine.context) break;
    out = await engine.forward([next]);
    bytes += out.bytesSent; values += out.valuesSent;
  }
  const decodeMs = performance.now() - t1;
  const text = engine.tok.tokenizer.decode(ids);
  if (opts.onText && text.length > printed.length) opts.onText(text.slice(printed.length));
  return {
    text, ids, promptTokens: promptIds.length, prefillMs, decodeMs,
    prefillTokS: promptIds.length / (prefillMs / 1000), decodeTokS: Math.max(ids.length - 1, 0) / (decodeMs / 1000),
    bitsPerValue: values ? (8 * bytes) / values : 0, stopped,
  };
}
