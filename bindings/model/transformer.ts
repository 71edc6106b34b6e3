// The decoder stack of llama and gemma3 as seen by one shard: local heads, local FFN columns, local vocabulary.
// It knows nothing of tensor parallelism: the row-parallel outputs go through `reduce`, which returns the sum.
import { ModelConfig } from './config.js';
import { MemoryMap, partialPtr, QuantMatrix, ShardMap } from '../tp/memory.js';

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
  gemvQ8_0(xq: number, dx: number, K: number, w: number, N: number, y: number): void;
  gemvQ4_1(xq: number, dx: number, sx: number, K: number, w: number, N: number, y: number): void;
}

/** Sum of the shards' partials [M × E] at a row-parallel site (2·layer: attention output, 2·layer+1: MLP down). */
export type Reduce = (site: number, partial: number, M: number) => number;

/** Runs M tokens at positions pos0… through every layer; tokens are in map.tokens, the hidden state ends in s.h. */
export function forwardLayers(cfg: ModelConfig, map: MemoryMap, s: ShardMap, k: Kernels, bytes: Uint8Array, reduce: Reduce, M: number, pos0: number): void {
  const { hidden: E, headDim: D, eps } = cfg;
  const tokens = new Int32Array(bytes.buffer, map.tokens, M);
  for (let m = 0; m < M; m++) bytes.copyWithin(s.h + 4 * m * E, map.embed + 4 * tokens[m] * E, map.embed + 4 * (tokens[m] + 1) * E);
  if (cfg.embedScale !== 1) k.scale(s.h, M * E, cfg.embedScale);
  const qW = s.Hl * D, kvW = s.KVl * D;
  // y [M × N] = x [M × K] · Wᵀ; one token with the matrix kept in GGUF blocks: int8 activations, block dot products.
  const mm = (x: number, K: number, w: number, q: QuantMatrix | undefined, N: number, y: number) => {
    if (M !== 1 || !q) { k.matmul(x, M, K, w, N, y); return; }
    k.quantizeX(x, K, s.xq, s.dxq, s.sxq);
    if (q.type === 8) k.gemvQ8_0(s.xq, s.dxq, K, q.ptr, N, y); else k.gemvQ4_1(s.xq, s.dxq, s.sxq, K, q.ptr, N, y);
  };
  for (let l = 0; l < cfg.layers; l++) {
    const L = s.layers[l], local = cfg.localLayers[l], Q = L.quant;
    // attention: x̂ = norm(h); q, k, v [M × heads × D]; rope; cache; attend; o-proj → partial [M × E]
    k.rmsnorm(s.h, L.attnNorm, s.xn, M, E, eps);
    mm(s.xn, E, L.wq, Q.wq, qW, s.q);
    mm(s.xn, E, L.wk, Q.wk, kvW, s.k);
    mm(s.xn, E, L.wv, Q.wv, kvW, s.v);
    if (cfg.qkNorm) { k.rmsnorm(s.q, L.qNorm, s.q, M * s.Hl, D, eps); k.rmsnorm(s.k, L.kNorm, s.k, M * s.KVl, D, eps); }
    const table = local ? map.ropeLocal : map.ropeGlobal, neox = cfg.neoxRope ? 1 : 0;
    k.rope(s.q, M, s.Hl, D, pos0, table, neox);
    k.rope(s.k, M, s.KVl, D, pos0, table, neox);
    for (let m = 0; m < M; m++) for (let h = 0; h < s.KVl; h++) {
      const from = 4 * (m * kvW + h * D), to = 4 * ((h * map.cap + pos0 + m) * D);
      bytes.copyWithin(L.kCache + to, s.k + from, s.k + from + 4 * D);
      bytes.copyWithin(L.vCache + to, s.v + from, s.v + from + 4 * D);
    }
    k.attention(s.q, L.kCache, L.vCache, s.att, M, pos0, s.Hl, s.KVl, D, map.cap, local ? cfg.window : 0, cfg.attnScale, s.scores);
    const partial = partialPtr(map, s, 2 * l);
    mm(s.att, qW, L.wo, Q.wo, E, partial);
    let sum = reduce(2 * l, partial, M);
    if (cfg.postNorms) k.rmsnorm(sum, L.postAttnNorm, sum, M, E, eps);
    k.add(s.h, sum, M * E);
    // MLP: x̂ = norm(h); act(x̂ Wg) · (x̂ Wu) [M × F_local]; down → partial [M × E]
    k.rmsnorm(s.h, L.ffnNorm, s.xn, M, E, eps);
    mm(s.xn, E, L.wGate, Q.wGate, s.Fl, s.gate);
    mm(s.xn, E, L.wUp, Q.wUp, s.Fl, s.up);
    if (cfg.act === 'silu') k.siluMul(s.gate, s.up, M * s.Fl); else k.geluMul(s.gate, s.up, M * s.Fl);
    const partial2 = partialPtr(map, s, 2 * l + 1);
    mm(s.gate, s.Fl, L.wDown, Q.wDown, E, partial2);
    sum = reduce(2 * l + 1, partial2, M);
    if (cfg.postNorms) k.rmsnorm(sum, L.postFfnNorm, sum, M, E, eps);
    k.add(s.h, sum, M * E);
  }
}

/** Final norm and this shard's slice of the LM head (tied embedding rows [v0, v1)) for rows [from, M). */
export function lmHead(cfg: ModelConfig, map: MemoryMap, s: ShardMap, k: Kernels, M: number, from: number): void {
  const E = cfg.hidden, rows = M - from;
  k.rmsnorm(s.h + 4 * from * E, map.outNorm, s.xn, rows, E, cfg.eps);
  k.matmul(s.xn, rows, E, map.embed + 4 * s.plan.vocab[0] * E, s.Vl, s.logits);
}
