// A synthetic llama-architecture GGUF with random F16 weights: speed benchmarks at shapes the real models don't
// reach (TP 16 needs ≥ 16 heads). Same kernels, same engine; only the weights are random.
import { writeGguf, TensorSpec } from '../bindings/gguf/writer.js';
import { Rng } from '../bindings/util/rng.js';
import { f16Nearest } from '../bindings/codec/numerics.js';

export interface SyntheticShape { layers: number; hidden: number; heads: number; kvHeads: number; ffn: number; vocab: number }
export const TINYLLAMA_LIKE: SyntheticShape = { layers: 8, hidden: 2048, heads: 32, kvHeads: 8, ffn: 5632, vocab: 32000 };

export function syntheticLlama(sh: SyntheticShape, seed = 1): Uint8Array {
  const rng = new Rng(seed);
  const f16 = (n: number, scale: number) => {
    const u = new Uint16Array(n);
    for (let i = 0; i < n; i++) u[i] = f16Nearest((rng.next() * 2 - 1) * scale);
    return new Uint8Array(u.buffer);
  };
  const ones = (n: number) => new Uint8Array(new Float32Array(n).fill(1).buffer);
  const E = sh.hidden, D = E / sh.heads, s = 1 / Math.sqrt(E);
  const t: TensorSpec[] = [
    { name: 'token_embd.weight', dims: [E, sh.vocab], type: 1, data: f16(E * sh.vocab, 0.05) },
    { name: 'output_norm.weight', dims: [E], type: 0, data: ones(E) },
  ];
  for (let l = 0; l < sh.layers; l++) {
    const p = `blk.${l}.`;
    t.push({ name: `${p}attn_norm.weight`, dims: [E], type: 0, data: ones(E) }, { name: `${p}ffn_norm.weight`, dims: [E], type: 0, data: ones(E) },
      { name: `${p}attn_q.weight`, dims: [E, E], type: 1, data: f16(E * E, s) },
      { name: `${p}attn_k.weight`, dims: [E, sh.kvHeads * D], type: 1, data: f16(E * sh.kvHeads * D, s) },
      { name: `${p}attn_v.weight`, dims: [E, sh.kvHeads * D], type: 1, data: f16(E * sh.kvHeads * D, s) },
      { name: `${p}attn_output.weight`, dims: [E, E], type: 1, data: f16(E * E, s) },
      { name: `${p}ffn_gate.weight`, dims: [E, sh.ffn], type: 1, data: f16(E * sh.ffn, s) },
      { name: `${p}ffn_up.weight`, dims: [E, sh.ffn], type: 1, data: f16(E * sh.ffn, s) },
      { name: `${p}ffn_down.weight`, dims: [sh.ffn, E], type: 1, data: f16(E * sh.ffn, 1 / Math.sqrt(sh.ffn)) });
  }
  const tokens = Array.from({ length: sh.vocab }, (_, i) => (i < 256 ? String.fromCharCode(0x100 + i) : `t${i}`));
  return writeGguf([
    ['general.architecture', 'str', 'llama'], ['llama.block_count', 'u32', sh.layers], ['llama.embedding_length', 'u32', E],
    ['llama.feed_forward_length', 'u32', sh.ffn], ['llama.attention.head_count', 'u32', sh.heads], ['llama.attention.head_count_kv', 'u32', sh.kvHeads],
    ['llama.attention.layer_norm_rms_epsilon', 'f32', 1e-5], ['llama.context_length', 'u32', 4096], ['llama.rope.freq_base', 'f32', 10000],
    ['tokenizer.ggml.model', 'str', 'gpt2'], ['tokenizer.ggml.tokens', 'strs', tokens], ['tokenizer.ggml.merges', 'strs', []],
    ['tokenizer.ggml.token_type', 'i32s', tokens.map(() => 1)], ['tokenizer.ggml.eos_token_id', 'u32', 2],
  ], t);
}
