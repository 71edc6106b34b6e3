// The memory map of ONE shard: its own WebAssembly.Memory (≤ 4 GiB) holds its weight slices (kept in packed
// quantized blocks, tp/repack.ts), KV cache, activations and codec contexts. Nothing in it is shared: what shards
// exchange goes through the link (tp/link.ts). Laid out by a counting pass first, so the engine can print and
// check every shard's plan before any memory exists; the shard lays it out again, identically, for real.
import { Arena, CACHE_LINE } from '../arena.js';
import { Gguf, GgufError } from '../gguf/reader.js';
import { ModelConfig } from '../model/config.js';
import { ShardPlan } from './plan.js';
import { PackedFormat, packedFormatOf, packedRowBytes, qgemmScratchBytes } from './repack.js';

/** A weight matrix [N × K] (out-major, as GGUF stores it) in packed format `fmt`; `type`: its GGUF type. */
export interface Matrix { ptr: number; fmt: PackedFormat; N: number; K: number; type: number; tensor: string }
export type MatrixName = 'wq' | 'wk' | 'wv' | 'wo' | 'wGate' | 'wUp' | 'wDown';
export const TENSOR_OF: Record<MatrixName, string> = { wq: 'attn_q', wk: 'attn_k', wv: 'attn_v', wo: 'attn_output', wGate: 'ffn_gate', wUp: 'ffn_up', wDown: 'ffn_down' };

export interface LayerMap {
  attnNorm: number; qNorm: number; kNorm: number; postAttnNorm: number; ffnNorm: number; postFfnNorm: number;
  w: Record<MatrixName, Matrix>;
  /** Which slice of the GGUF matrix this shard holds: rows [a, b) (column-parallel) or columns [a, b) (row-parallel). */
  slice: Record<MatrixName, { rows: boolean; a: number; b: number }>;
  kCache: number; vCache: number;   // [KVl × cap × D] f32 each
}
export interface ShardMemory {
  shards: number; plan: ShardPlan; Hl: number; KVl: number; Fl: number; Vl: number;
  maxBatch: number; cap: number; hidden: number;
  layers: LayerMap[];
  embed: Matrix;   // vocabulary rows [v0, v1) of token_embd: the vocab-parallel embedding lookup
  lmHead: Matrix;  // the same rows of output.weight, or `embed` itself where the model ties them
  outNorm: number; ropeGlobal: number; ropeLocal: number;
  // activations, M ≤ maxBatch rows each
  h: number; xn: number; q: number; k: number; v: number; att: number; partial: number; sum: number;
  gate: number; up: number; scores: number; logits: number; commTmp: number;
  xq: number; dxq: number; sxq: number;      // one token as int8 blocks + an i16 copy (quantized decode)
  qscratch: number; qscratchBytes: number;   // dequantized weight panels for the quantized GEMM
  wireOut: number; wireIn: number; wireCap: number; // encoded bytes: mine before sending, a peer's after receiving
  codecStart: number; codecEnd: number;      // codec contexts, rebuilt per comm mode
  bytes: number;                             // the whole memory
  budget: { weights: number; kvCache: number; activations: number; codec: number };
}

export interface MemoryOptions {
  maxBatch: number; cap: number; heapBase: number;
  /** false: expand every matrix to f32 (format 0): the reference layout, 3–8× the memory of packed blocks. */
  packed: boolean;
}

/** Byte capacity of one message to all peers / to one peer: the f32 fallback bounds every encoded block. */
export function linkCaps(cfg: ModelConfig, shards: number, maxBatch: number): { all: number; one: number } {
  const chunk = Math.ceil(cfg.hidden / shards / 16) * 16 + 16;
  return { all: 4 * maxBatch * cfg.hidden + 64 * (shards + 2), one: 4 * maxBatch * chunk + 256 };
}

function layout(a: Arena, g: Gguf, cfg: ModelConfig, plans: ShardPlan[], shard: number, o: MemoryOptions): ShardMemory {
  const f32 = (n: number) => a.alloc(4 * n);
  const { hidden: E, headDim: D, layers: L } = cfg;
  const M = o.maxBatch, cap = o.cap, S = plans.length, plan = plans[shard];
  const Hl = plan.heads[1] - plan.heads[0], KVl = plan.kvHeads[1] - plan.kvHeads[0];
  const Fl = plan.ffn[1] - plan.ffn[0], Vl = plan.vocab[1] - plan.vocab[0];
  const typeOf = (name: string) => {
    const t = g.tensors.get(name);
    if (!t) throw new GgufError(`tensor ${name} missing for a ${cfg.arch} model`);
    return t.type;
  };
  // k0: the first column of the shard's slice (row-parallel); K-quant super-blocks (256) can stay whole only if it
  // and K fall on them, else the 32-value block formats take the slice.
  const matrix = (tensor: string, N: number, K: number, k0 = 0): Matrix => {
    const type = typeOf(tensor), fmt = o.packed ? packedFormatOf(type, K % 256 === 0 && k0 % 256 === 0) : 0;
    return { ptr: a.alloc(N * packedRowBytes(fmt, K)), fmt, N, K, type, tensor };
  };
  const start = a.used;
  const layers = Array.from({ length: L }, (_, l): LayerMap => {
    const t = (m: MatrixName) => `blk.${l}.${TENSOR_OF[m]}.weight`;
    const slice = {
      wq: { rows: true, a: plan.heads[0] * D, b: plan.heads[1] * D }, wk: { rows: true, a: plan.kvHeads[0] * D, b: plan.kvHeads[1] * D },
      wv: { rows: true, a: plan.kvHeads[0] * D, b: plan.kvHeads[1] * D }, wo: { rows: false, a: plan.heads[0] * D, b: plan.heads[1] * D },
      wGate: { rows: true, a: plan.ffn[0], b: plan.ffn[1] }, wUp: { rows: true, a: plan.ffn[0], b: plan.ffn[1] },
      wDown: { rows: false, a: plan.ffn[0], b: plan.ffn[1] },
    };
    return {
      attnNorm: f32(E), ffnNorm: f32(E),
      qNorm: cfg.qkNorm ? f32(D) : 0, kNorm: cfg.qkNorm ? f32(D) : 0,
      postAttnNorm: cfg.postNorms ? f32(E) : 0, postFfnNorm: cfg.postNorms ? f32(E) : 0,
      w: {
        wq: matrix(t('wq'), Hl * D, E), wk: matrix(t('wk'), KVl * D, E), wv: matrix(t('wv'), KVl * D, E),
        wo: matrix(t('wo'), E, Hl * D, slice.wo.a), wGate: matrix(t('wGate'), Fl, E), wUp: matrix(t('wUp'), Fl, E),
        wDown: matrix(t('wDown'), E, Fl, slice.wDown.a),
      },
      slice, kCache: 0, vCache: 0,
    };
  });
  const embed = matrix('token_embd.weight', Vl, E);
  const lmHead = g.tensors.has('output.weight') ? matrix('output.weight', Vl, E) : embed;
  const outNorm = f32(E);
  const weights = a.used - start;
  const kvStart = a.used;
  for (const l of layers) { l.kCache = f32(KVl * cap * D); l.vCache = f32(KVl * cap * D); }
  const kvCache = a.used - kvStart;
  const actStart = a.used;
  const ropeGlobal = f32(cap * D), ropeLocal = f32(cap * D);
  const maxK = Math.max(E, Hl * D, Fl);
  const packedAny = o.packed; // the GEMM on packed weights dequantizes panels into this scratch
  const qscratchBytes = packedAny ? qgemmScratchBytes(maxK) : 0;
  const wireCap = linkCaps(cfg, S, M).all;
  const m = {
    h: f32(M * E), xn: f32(M * E), q: f32(M * Hl * D), k: f32(M * KVl * D), v: f32(M * KVl * D), att: f32(M * Hl * D),
    partial: f32(M * E), sum: f32(M * E), gate: f32(M * Fl), up: f32(M * Fl), scores: f32(cap), logits: f32(M * Vl),
    commTmp: f32(2 * M * E), xq: a.alloc(3 * maxK), dxq: f32(maxK / 32 + 1), sxq: f32(maxK / 32 + 1),
    qscratch: a.alloc(Math.max(qscratchBytes, 16)), qscratchBytes,
    wireOut: a.alloc(wireCap), wireIn: a.alloc(wireCap), wireCap,
  };
  const activations = a.used - actStart;
  const codecBytes = 2 * L * S * (48 * E + 1024) + 10 * E + (1 << 16); // contexts of every shard's partial, chunks and sums
  const codecStart = a.alloc(codecBytes, CACHE_LINE);
  return {
    shards: S, plan, Hl, KVl, Fl, Vl, maxBatch: M, cap, hidden: E, layers, embed, lmHead, outNorm, ropeGlobal, ropeLocal, ...m,
    codecStart, codecEnd: codecStart + codecBytes, bytes: a.used,
    budget: { weights, kvCache, activations, codec: codecBytes },
  };
}

/** The memory map of shard `shard`, by a counting pass (no memory needed); the same call gives the same pointers. */
export function planShardMemory(g: Gguf, cfg: ModelConfig, plans: ShardPlan[], shard: number, o: MemoryOptions): ShardMemory {
  const counting = new Arena({ buffer: { byteLength: Number.MAX_SAFE_INTEGER } } as unknown as WebAssembly.Memory, o.heapBase, Number.MAX_SAFE_INTEGER);
  return layout(counting, g, cfg, plans, shard, o);
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
