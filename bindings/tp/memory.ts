// The shared memory map: one WebAssembly.Memory holds every shard's weights, KV cache, activations and
// communication slots, plus one shared embedding table. Laid out twice: once to count, once for real.
import { Arena, CACHE_LINE } from '../arena.js';
import { ModelConfig } from '../model/config.js';
import { ShardPlan } from './plan.js';
import { packedBlockBytes, QuantType } from './repack.js';

/** A weight matrix also kept quantized for single-token decode: 3 = Q4_1, 8 = Q8_0, in tp/repack.ts's layout. */
export interface QuantMatrix { ptr: number; type: QuantType }
export type MatrixName = 'wq' | 'wk' | 'wv' | 'wo' | 'wGate' | 'wUp' | 'wDown';
export const TENSOR_OF: Record<MatrixName, string> = { wq: 'attn_q', wk: 'attn_k', wv: 'attn_v', wo: 'attn_output', wGate: 'ffn_gate', wUp: 'ffn_up', wDown: 'ffn_down' };
/** GGUF block type of a layer's matrix to keep for decode (3 or 8), or 0 for none. */
export type QuantTypes = (layer: number, m: MatrixName) => number;

export interface LayerMap {
  attnNorm: number; wq: number; wk: number; wv: number; wo: number; qNorm: number; kNorm: number; postAttnNorm: number;
  ffnNorm: number; wGate: number; wUp: number; wDown: number; postFfnNorm: number; kCache: number; vCache: number;
  quant: Partial<Record<MatrixName, QuantMatrix>>;
}
export interface ShardMap {
  plan: ShardPlan; Hl: number; KVl: number; Fl: number; Vl: number;
  layers: LayerMap[];
  // activations, M ≤ maxBatch rows each
  h: number; xn: number; q: number; k: number; v: number; att: number; partial: number; sum: number;
  gate: number; up: number; scores: number; logits: number; commTmp: number;
  xq: number; dxq: number; sxq: number;            // one token as int8 blocks, plus an i16 copy (3K bytes; quantized decode)
  wireA: number; wireB: number; wireCap: number;   // communication slots (bytes)
  codecStart: number; codecEnd: number;            // arena region for codec contexts, rebuilt per comm mode
}
export interface MemoryMap {
  bytes: number; maxBatch: number; cap: number; hidden: number; shards: ShardMap[];
  embed: number; outNorm: number; ropeGlobal: number; ropeLocal: number; tokens: number; ctrl: number;
}

export const CTRL_INTS = 64; // abort flag, barrier words (each on its own cache line)

function layout(a: Arena, cfg: ModelConfig, plans: ShardPlan[], maxBatch: number, cap: number, quantTypes?: QuantTypes): MemoryMap {
  const f32 = (n: number) => a.alloc(4 * n);
  const { hidden: E, headDim: D, vocab: V, layers: L } = cfg;
  const M = maxBatch, S = plans.length;
  const ctrl = a.alloc(4 * CTRL_INTS);
  const tokens = a.alloc(4 * M);
  const embed = f32(V * E), outNorm = f32(E);
  const ropeGlobal = f32(cap * D), ropeLocal = f32(cap * D);
  const shards = plans.map((plan): ShardMap => {
    const Hl = plan.heads[1] - plan.heads[0], KVl = plan.kvHeads[1] - plan.kvHeads[0];
    const Fl = plan.ffn[1] - plan.ffn[0], Vl = plan.vocab[1] - plan.vocab[0];
    // [N × K] in blocks of 32 along K; a row-parallel slice must start on a block (k0 % 32 == 0), else f32 only.
    const q = (l: number, m: MatrixName, N: number, K: number, k0 = 0): QuantMatrix | undefined => {
      const type = quantTypes?.(l, m) ?? 0;
      if ((type !== 3 && type !== 8) || K % 32 || k0 % 32) return undefined;
      return { ptr: a.alloc(N * (K / 32) * packedBlockBytes(type)), type };
    };
    const layers = Array.from({ length: L }, (_, l): LayerMap => ({
      attnNorm: f32(E), wq: f32(Hl * D * E), wk: f32(KVl * D * E), wv: f32(KVl * D * E), wo: f32(E * Hl * D),
      qNorm: cfg.qkNorm ? f32(D) : 0, kNorm: cfg.qkNorm ? f32(D) : 0, postAttnNorm: cfg.postNorms ? f32(E) : 0,
      ffnNorm: f32(E), wGate: f32(Fl * E), wUp: f32(Fl * E), wDown: f32(E * Fl), postFfnNorm: cfg.postNorms ? f32(E) : 0,
      kCache: f32(KVl * cap * D), vCache: f32(KVl * cap * D),
      quant: Object.fromEntries(Object.entries({
        wq: q(l, 'wq', Hl * D, E), wk: q(l, 'wk', KVl * D, E), wv: q(l, 'wv', KVl * D, E), wo: q(l, 'wo', E, Hl * D, plan.heads[0] * D),
        wGate: q(l, 'wGate', Fl, E), wUp: q(l, 'wUp', Fl, E), wDown: q(l, 'wDown', E, Fl, plan.ffn[0]),
      }).filter(([, v]) => v)),
    }));
    const maxK = Math.max(E, Hl * D, Fl);
    const wireCap = 4 * M * E + 64 * (S + 2); // the f32 fallback bounds every block (§6), plus a header per chunk
    const codecBytes = 2 * L * S * (48 * E + 1024) + 10 * E + (1 << 16); // contexts of every shard, all, chunk and sum
    const m: ShardMap = {
      plan, Hl, KVl, Fl, Vl, layers,
      h: f32(M * E), xn: f32(M * E), q: f32(M * Hl * D), k: f32(M * KVl * D), v: f32(M * KVl * D), att: f32(M * Hl * D),
      partial: f32(2 * M * E), sum: f32(M * E), // partial: two buffers, by site parity
      gate: f32(M * Fl), up: f32(M * Fl), scores: f32(cap), logits: f32(M * Vl), commTmp: f32(2 * M * E),
      xq: a.alloc(3 * maxK), dxq: f32(maxK / 32 + 1), sxq: f32(maxK / 32 + 1),
      wireA: a.alloc(wireCap), wireB: a.alloc(wireCap), wireCap,
      codecStart: 0, codecEnd: 0,
    };
    m.codecStart = a.alloc(codecBytes, CACHE_LINE);
    m.codecEnd = m.codecStart + codecBytes;
    return m;
  });
  return { bytes: a.used, maxBatch, cap, hidden: E, shards, embed, outNorm, ropeGlobal, ropeLocal, tokens, ctrl };
}

/** Size the plan with a counting pass; the real pass over `memory` gives the same pointers. */
export function planMemory(cfg: ModelConfig, plans: ShardPlan[], maxBatch: number, cap: number, heapBase: number, quantTypes?: QuantTypes): MemoryMap {
  const counting = new Arena({ buffer: { byteLength: Number.MAX_SAFE_INTEGER } } as unknown as WebAssembly.Memory, heapBase, Number.MAX_SAFE_INTEGER);
  return layout(counting, cfg, plans, maxBatch, cap, quantTypes);
}

/** RoPE table [cap × D/2 × (cos, sin)] computed in f32 as the Hugging Face reference does. */
export function fillRope(out: Float32Array, cap: number, D: number, base: number): void {
  const half = D / 2;
  const inv = Array.from({ length: half }, (_, i) => Math.fround(1 / Math.fround(base ** Math.fround((2 * i) / D))));
  for (let p = 0; p < cap; p++) for (let i = 0; i < half; i++) {
    const th = Math.fround(p * inv[i]);
    out[(p * half + i) * 2] = Math.cos(th);
    out[(p * half + i) * 2 + 1] = Math.sin(th);
  }
}

/** Where shard s writes the partial of `site`: two buffers by site parity, so one barrier per all-reduce suffices. */
export const partialPtr = (map: MemoryMap, s: ShardMap, site: number): number => s.partial + 4 * (site % 2) * map.maxBatch * (map.hidden);
