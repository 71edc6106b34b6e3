// Fills the memory map from a GGUF file: dequantizes each tensor once and copies each shard its slice.
import { Gguf, GgufError, tensorBytes } from '../gguf/reader.js';
import { dequantize } from '../gguf/dequant.js';
import { ModelConfig } from '../model/config.js';
import { fillRope, MatrixName, MemoryMap, TENSOR_OF } from './memory.js';
import { ggufBlockBytes, packedBlockBytes, repackRows } from './repack.js';

type Progress = (done: number, total: number) => void;

export function loadWeights(g: Gguf, cfg: ModelConfig, map: MemoryMap, memory: WebAssembly.Memory, progress?: Progress): void {
  const buf = memory.buffer;
  const view = (ptr: number, n: number) => new Float32Array(buf, ptr, n);
  const { hidden: E, headDim: D } = cfg;
  let temp = new Float32Array(0);
  const read = (name: string, expect: number[]): Float32Array => {
    const t = g.tensors.get(name);
    if (!t) throw new GgufError(`tensor ${name} missing for a ${cfg.arch} model`);
    if (t.dims.length !== expect.length || t.dims.some((d, i) => d !== expect[i]))
      throw new GgufError(`tensor ${name} has shape [${t.dims}], expected [${expect}]`);
    if (temp.length < t.elements) temp = new Float32Array(t.elements);
    dequantize(t.type, tensorBytes(g, name), t.elements, temp);
    return temp;
  };
  // [N × K] row-major; rows [n0, n1) (column-parallel) or columns [k0, k1) of every row (row-parallel).
  const rows = (src: Float32Array, K: number, n0: number, n1: number, dst: number) => view(dst, (n1 - n0) * K).set(src.subarray(n0 * K, n1 * K));
  const cols = (src: Float32Array, N: number, K: number, k0: number, k1: number, dst: number) => {
    const out = view(dst, N * (k1 - k0));
    for (let n = 0; n < N; n++) out.set(src.subarray(n * K + k0, n * K + k1), n * (k1 - k0));
  };
  // Quantized copies for decode: the same rows or columns of the GGUF blocks (32 along K), repacked (tp/repack.ts).
  const blocks = (l: number, m: MatrixName, K: number, part: (s: number) => [number, number], byColumns: boolean) => {
    map.shards.forEach((sh, s) => {
      const qm = sh.layers[l].quant[m];
      if (!qm) return;
      const src = tensorBytes(g, `blk.${l}.${TENSOR_OF[m]}.weight`), bb = ggufBlockBytes(qm.type), rowBytes = (K / 32) * bb;
      const [a, b] = part(s), pb = packedBlockBytes(qm.type);
      if (!byColumns) { repackRows(qm.type, src.subarray(a * rowBytes, b * rowBytes), b - a, K / 32, new Uint8Array(buf, qm.ptr, (b - a) * (K / 32) * pb)); return; }
      // the packed layout is per row, so each row's column slice is repacked on its own
      const N = src.length / rowBytes, B = (b - a) / 32;
      for (let n = 0; n < N; n++)
        repackRows(qm.type, src.subarray(n * rowBytes + (a / 32) * bb, n * rowBytes + (b / 32) * bb), 1, B, new Uint8Array(buf, qm.ptr + n * B * pb, B * pb));
    });
  };
  const all = (name: string, n: number, ptrOf: (s: number) => number) => {
    const x = read(name, [n]);
    map.shards.forEach((_, s) => view(ptrOf(s), n).set(x.subarray(0, n)));
  };

  const emb = g.tensors.get('token_embd.weight');
  if (!emb) throw new GgufError('tensor token_embd.weight missing');
  view(map.embed, cfg.vocab * E).set(read('token_embd.weight', [E, cfg.vocab]).subarray(0, cfg.vocab * E));
  if (g.tensors.has('output.weight')) throw new GgufError('untied output.weight is not supported yet (both supported models tie it)');
  view(map.outNorm, E).set(read('output_norm.weight', [E]).subarray(0, E));
  fillRope(view(map.ropeGlobal, map.cap * D), map.cap, D, cfg.ropeBase);
  fillRope(view(map.ropeLocal, map.cap * D), map.cap, D, cfg.ropeBaseLocal);

  const total = cfg.layers;
  for (let l = 0; l < cfg.layers; l++) {
    const p = `blk.${l}.`, L = (s: number) => map.shards[s].layers[l];
    all(`${p}attn_norm.weight`, E, (s) => L(s).attnNorm);
    all(`${p}ffn_norm.weight`, E, (s) => L(s).ffnNorm);
    if (cfg.qkNorm) { all(`${p}attn_q_norm.weight`, D, (s) => L(s).qNorm); all(`${p}attn_k_norm.weight`, D, (s) => L(s).kNorm); }
    if (cfg.postNorms) {
      all(`${p}post_attention_norm.weight`, E, (s) => L(s).postAttnNorm);
      all(`${p}post_ffw_norm.weight`, E, (s) => L(s).postFfnNorm);
    }
    const HD = cfg.heads * D, KVD = cfg.kvHeads * D;
    let w = read(`${p}attn_q.weight`, [E, HD]);
    map.shards.forEach((m, s) => rows(w, E, m.plan.heads[0] * D, m.plan.heads[1] * D, L(s).wq));
    w = read(`${p}attn_k.weight`, [E, KVD]);
    map.shards.forEach((m, s) => rows(w, E, m.plan.kvHeads[0] * D, m.plan.kvHeads[1] * D, L(s).wk));
    w = read(`${p}attn_v.weight`, [E, KVD]);
    map.shards.forEach((m, s) => rows(w, E, m.plan.kvHeads[0] * D, m.plan.kvHeads[1] * D, L(s).wv));
    w = read(`${p}attn_output.weight`, [HD, E]);
    map.shards.forEach((m, s) => cols(w, E, HD, m.plan.heads[0] * D, m.plan.heads[1] * D, L(s).wo));
    w = read(`${p}ffn_gate.weight`, [E, cfg.ffn]);
    map.shards.forEach((m, s) => rows(w, E, m.plan.ffn[0], m.plan.ffn[1], L(s).wGate));
    w = read(`${p}ffn_up.weight`, [E, cfg.ffn]);
    map.shards.forEach((m, s) => rows(w, E, m.plan.ffn[0], m.plan.ffn[1], L(s).wUp));
    w = read(`${p}ffn_down.weight`, [cfg.ffn, E]);
    map.shards.forEach((m, s) => cols(w, E, cfg.ffn, m.plan.ffn[0], m.plan.ffn[1], L(s).wDown));
    const plan = (s: number) => map.shards[s].plan;
    blocks(l, 'wq', E, (s) => [plan(s).heads[0] * D, plan(s).heads[1] * D], false);
    blocks(l, 'wk', E, (s) => [plan(s).kvHeads[0] * D, plan(s).kvHeads[1] * D], false);
    blocks(l, 'wv', E, (s) => [plan(s).kvHeads[0] * D, plan(s).kvHeads[1] * D], false);
    blocks(l, 'wo', HD, (s) => [plan(s).heads[0] * D, plan(s).heads[1] * D], true);
    blocks(l, 'wGate', E, (s) => plan(s).ffn, false);
    blocks(l, 'wUp', E, (s) => plan(s).ffn, false);
    blocks(l, 'wDown', cfg.ffn, (s) => plan(s).ffn, true);
    progress?.(l + 1, total);
  }
}
