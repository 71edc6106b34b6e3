// The decoder stack of llama and gemma3 as seen by one shard: local heads, local FFN columns, local vocabulary.
// It knows nothing of tensor parallelism: the row-parallel outputs go through `reduce`, which returns the sum.
import { ModelConfig } from './config.js';
import { packedRowBytes } from '../tp/repack.js';
import { Matrix, ShardMemory } from '../tp/memory.js';

export interface Kernels {
  matmul(x: number, M: number, K: number, w: number, N: number, y: number): void;
  rmsnorm(x: number, w: number, out: number, R: number, E: number, eps: number): void;
  rope(x: number, M: number, H: number, D: number, pos0: number, table: number, neox: number): void;
  attention(q: number, kc: number, vc: number, out: number, M: number, pos0: number, H: number, KV: number, D: number,
            cap: number, window: number, scale: number, scores: number): void;
  siluMul(gate: number, up: number, n: number): void;
  geluMul(gate: number, up: number, n: number): void;
  add(a: number, b: number, n: number): void;
  scale(a: number, n: number, c: number): void;
  quantizeX(x: number, K: number, xq: number, dx: number, sx: number): void;
  gemvQ(fmt: number, xq: number, dx: number, sx: number, K: number, w: number, N: number, y: number): void;
  matmulQ(fmt: number, x: number, M: number, K: number, w: number, N: number, y: number, scratch: number, scratchBytes: number): void;
  dequantRows(fmt: number, w: number, K: number, rows: number, out: number): void;
}

/** How the stack talks to the other shards (it does not know how): sums of row-parallel partials. */
export interface Collectives {
  /** Sum of the shards' partials [M × E] at a row-parallel site (2·layer: attention output, 2·layer+1: MLP down). */
  reduce(site: number, partial: number, M: number): number;
  /** The exact f32 sum of n values (the vocabulary-parallel embedding lookup). */
  reduceExact(partial: number, n: number): number;
  shards: number;
}

/**
 * y [M × N] = x [M × K] · Wᵀ with W in its packed format. One token with `quantizedDecode`: int8 activations against
 * the blocks (as llama.cpp); otherwise f32 arithmetic, bit-identical to a matmul on the dequantized matrix.
 */
function mm(k: Kernels, s: ShardMemory, x: number, M: number, w: Matrix, y: number, quantizedDecode: boolean): void {
  if (w.fmt === 0) k.matmul(x, M, w.K, w.ptr, w.N, y);
  else if (M === 1 && quantizedDecode) { k.quantizeX(x, w.K, s.xq, s.dxq, s.sxq); k.gemvQ(w.fmt, s.xq, s.dxq, s.sxq, w.K, w.ptr, w.N, y); }
  else k.matmulQ(w.fmt, x, M, w.K, w.ptr, w.N, y, s.qscratch, s.qscratchBytes);
}

/**
 * Vocabulary-parallel embedding: each shard writes the rows of the tokens in its vocabulary slice (zeros elsewhere)
 * and an exact sum gathers them — no shard holds the whole table.
 */
function embed(cfg: ModelConfig, s: ShardMemory, k: Kernels, bytes: Uint8Array, tokens: Int32Array, c: Collectives): void {
  const E = cfg.hidden, M = tokens.length, [v0, v1] = s.plan.vocab, w = s.embed;
  bytes.fill(0, s.h, s.h + 4 * M * E);
  const rowBytes = packedRowBytes(w.fmt, E);
  for (let m = 0; m < M; m++) {
    const t = tokens[m];
    if (t < v0 || t >= v1) continue;
    const row = w.ptr + (t - v0) * rowBytes;
    if (w.fmt === 0) bytes.copyWithin(s.h + 4 * m * E, row, row + rowBytes);
    else k.dequantRows(w.fmt, row, E, 1, s.h + 4 * m * E);
  }
  if (c.shards > 1) { const sum = c.reduceExact(s.h, M * E); bytes.copyWithin(s.h, sum, sum + 4 * M * E); }
  if (cfg.embedScale !== 1) k.scale(s.h, M * E, cfg.embedScale);
}

/** Runs `tokens` at positions pos0… through every layer; the hidden state ends in s.h [M × E]. */
export function forwardLayers(cfg: ModelConfig, s: ShardMemory, k: Kernels, bytes: Uint8Array, tokens: Int32Array, c: Collectives,
                              pos0: number, quantizedDecode: boolean): void {
  const { hidden: E, headDim: D, eps } = cfg, M = tokens.length;
  embed(cfg, s, k, bytes, tokens, c);
  const qW = s.Hl * D, kvW = s.KVl * D;
  for (let l = 0; l < cfg.layers; l++) {
    const L = s.layers[l], local = cfg.localLayers[l], W = L.w;
    // attention: x̂ = norm(h); q, k, v [M × heads × D]; rope; cache; attend; o-proj → partial [M × E]
    k.rmsnorm(s.h, L.attnNorm, s.xn, M, E, eps);
    mm(k, s, s.xn, M, W.wq, s.q, quantizedDecode);
    mm(k, s, s.xn, M, W.wk, s.k, quantizedDecode);
    mm(k, s, s.xn, M, W.wv, s.v, quantizedDecode);
    if (cfg.qkNorm) { k.rmsnorm(s.q, L.qNorm, s.q, M * s.Hl, D, eps); k.rmsnorm(s.k, L.kNorm, s.k, M * s.KVl, D, eps); }
    const table = local ? s.ropeLocal : s.ropeGlobal, neox = cfg.neoxRope ? 1 : 0;
    k.rope(s.q, M, s.Hl, D, pos0, table, neox);
    k.rope(s.k, M, s.KVl, D, pos0, table, neox);
    for (let m = 0; m < M; m++) for (let h = 0; h < s.KVl; h++) {
      const from = 4 * (m * kvW + h * D), to = 4 * ((h * s.cap + pos0 + m) * D);
      bytes.copyWithin(L.kCache + to, s.k + from, s.k + from + 4 * D);
      bytes.copyWithin(L.vCache + to, s.v + from, s.v + from + 4 * D);
    }
    k.attention(s.q, L.kCache, L.vCache, s.att, M, pos0, s.Hl, s.KVl, D, s.cap, local ? cfg.window : 0, cfg.attnScale, s.scores);
    mm(k, s, s.att, M, W.wo, s.partial, quantizedDecode);
    let sum = c.reduce(2 * l, s.partial, M);
    if (cfg.postNorms) k.rmsnorm(sum, L.postAttnNorm, sum, M, E, eps);
    k.add(s.h, sum, M * E);
    // MLP: x̂ = norm(h); act(x̂ Wg) · (x̂ Wu) [M × F_local]; down → partial [M × E]
    k.rmsnorm(s.h, L.ffnNorm, s.xn, M, E, eps);
    mm(k, s, s.xn, M, W.wGate, s.gate, quantizedDecode);
    mm(k, s, s.xn, M, W.wUp, s.up, quantizedDecode);
    if (cfg.act === 'silu') k.siluMul(s.gate, s.up, M * s.Fl); else k.geluMul(s.gate, s.up, M * s.Fl);
    mm(k, s, s.gate, M, W.wDown, s.partial, quantizedDecode);
    sum = c.reduce(2 * l + 1, s.partial, M);
    if (cfg.postNorms) k.rmsnorm(sum, L.postFfnNorm, sum, M, E, eps);
    k.add(s.h, sum, M * E);
  }
}

/** Final norm and this shard's slice of the LM head (vocabulary rows [v0, v1)) for rows [from, M) → s.logits. */
export function lmHead(cfg: ModelConfig, s: ShardMemory, k: Kernels, M: number, from: number, quantizedDecode: boolean): void {
  const E = cfg.hidden, rows = M - from;
  k.rmsnorm(s.h + 4 * from * E, s.outNorm, s.xn, rows, E, cfg.eps);
  mm(k, s, s.xn, rows, s.lmHead, s.logits, quantizedDecode);
}
