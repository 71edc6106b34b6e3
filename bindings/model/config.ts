// Architecture configs read from GGUF metadata: llama (SmolLM2) and gemma3 (Gemma-3-270M).
import { Gguf, meta } from '../gguf/reader.js';

export interface ModelConfig {
  arch: 'llama' | 'gemma3';
  layers: number; hidden: number; heads: number; kvHeads: number; headDim: number; ffn: number; vocab: number;
  eps: number; contextLength: number;
  ropeBase: number; ropeBaseLocal: number; neoxRope: boolean;
  window: number;                          // sliding window of local layers (0: none)
  localLayers: boolean[];                  // sliding-window layers (plain data: configs cross to workers)
  embedScale: number;                      // embeddings are multiplied by this (Gemma: √hidden)
  act: 'silu' | 'gelu';
  qkNorm: boolean; postNorms: boolean;     // Gemma's per-head q/k RMSNorm and post-attention/post-FFN norms
  attnScale: number;
}

export const SUPPORTED_ARCHS = ['llama', 'gemma3'];

export function configFromGguf(g: Gguf): ModelConfig {
  const arch = meta<string>(g, 'general.architecture');
  if (!SUPPORTED_ARCHS.includes(arch)) throw new Error(`unsupported architecture "${arch}" (supported: ${SUPPORTED_ARCHS.join(', ')})`);
  const k = (key: string, fb?: number) => Number(meta<number>(g, `${arch}.${key}`, fb));
  const hidden = k('embedding_length'), heads = k('attention.head_count');
  const headDim = k('attention.key_length', hidden / heads);
  const vocab = g.tensors.get('token_embd.weight')?.dims[1] ?? k('vocab_size');
  const base = {
    layers: k('block_count'), hidden, heads, kvHeads: k('attention.head_count_kv', heads), headDim, ffn: k('feed_forward_length'),
    vocab, eps: k('attention.layer_norm_rms_epsilon'), contextLength: k('context_length'),
  };
  if (arch === 'llama') {
    const ropeBase = k('rope.freq_base', 10000);
    return { ...base, arch, ropeBase, ropeBaseLocal: ropeBase, neoxRope: false, window: 0, localLayers: new Array(base.layers).fill(false), embedScale: 1,
      act: 'silu', qkNorm: false, postNorms: false, attnScale: 1 / Math.sqrt(headDim) };
  }
  // Gemma 3: every 6th layer is global (rope base from the file), the others slide over `window` with base 10 000.
  const window = k('attention.sliding_window', 512);
  return { ...base, arch: 'gemma3', ropeBase: k('rope.freq_base', 1e6), ropeBaseLocal: 10000, neoxRope: true, window,
    localLayers: Array.from({ length: base.layers }, (_, l) => (l + 1) % 6 !== 0), embedScale: Math.fround(Math.sqrt(hidden)), act: 'gelu', qkNorm: true,
    postNorms: true, attnScale: 1 / Math.sqrt(headDim) };
}
