// Fills ONE shard's memory from the GGUF file: reads only the tensor bytes this shard owns (rows of column-parallel
// matrices and of the vocabulary; whole row-parallel matrices, one at a time, to cut their columns) and repacks them
// into the packed block layout (tp/repack.ts) or, for format 0, dequantizes them to f32. Peak extra memory: one tensor.
import { dequantize } from '../gguf/dequant.js';
import { Gguf, GgufError } from '../gguf/reader.js';
import { ByteReader, readTensor } from '../gguf/source.js';
import { typeInfo } from '../gguf/types.js';
import { ModelConfig } from '../model/config.js';
import { fillRope, Matrix, MatrixName, ShardMemory } from './memory.js';
import { packedRowBytes, repackMatrix } from './repack.js';

export type LoadProgress = (doneBytes: number, totalBytes: number) => void;

/** File bytes read per step: bounds what a loading shard holds besides its own memory. */
const CHUNK_BYTES = 8 << 20;

/** GGUF bytes of one row of a [N × K] tensor of `type`. */
const rowBytes = (type: number, K: number) => { const t = typeInfo(type); return (K / t.blockSize) * t.blockBytes; };

/** Bytes this shard reads from the file (for progress and the load-time report). */
export function shardReadBytes(g: Gguf, mem: ShardMemory): number {
  let n = 0;
  const mat = (m: Matrix, rows: boolean) => { n += rows ? m.N * rowBytes(m.type, m.K) : g.tensors.get(m.tensor)!.bytes; };
  // (row-parallel slices read every row whole and keep their columns)
  for (const l of mem.layers) for (const k of Object.keys(l.w) as MatrixName[]) mat(l.w[k], l.slice[k].rows);
  mat(mem.embed, true);
  if (mem.lmHead !== mem.embed) mat(mem.lmHead, true);
  return n;
}

export async function loadShard(r: ByteReader, g: Gguf, cfg: ModelConfig, mem: ShardMemory, memory: WebAssembly.Memory, progress?: LoadProgress): Promise<void> {
  const buf = memory.buffer;
  const { hidden: E, headDim: D } = cfg;
  const total = shardReadBytes(g, mem);
  let done = 0;
  const check = (name: string, expect: number[]) => {
    const t = g.tensors.get(name);
    if (!t) throw new GgufError(`tensor ${name} missing for a ${cfg.arch} model`);
    if (t.dims.length !== expect.length || t.dims.some((d, i) => d !== expect[i]))
      throw new GgufError(`tensor ${name} has shape [${t.dims}], expected [${expect}]`);
    return t;
  };
  const vector = async (name: string, n: number, ptr: number) => {
    const t = check(name, [n]);
    dequantize(t.type, await readTensor(r, g, name), n, new Float32Array(buf, ptr, n));
  };
  /**
   * Rows [a, b) of GGUF matrix `m.tensor` (dims [K, fullN]), or columns [a, b) of every row of [K = full, N]:
   * packed (or dequantized) into m.ptr, read in chunks of rows so that a shard never holds more than CHUNK_BYTES of
   * file data at once (the resident memory of a load is the shards' memories, not a copy of the file).
   */
  const matrix = async (m: Matrix, fullDims: [number, number], rows: boolean, a: number, b: number) => {
    const t = check(m.tensor, fullDims), Kfull = fullDims[0], rb = rowBytes(t.type, Kfull);
    const r0 = rows ? a : 0, r1 = rows ? b : fullDims[1], k0 = rows ? 0 : a, k1 = rows ? Kfull : b;
    const outRow = packedRowBytes(m.fmt, k1 - k0), step = Math.max(1, Math.floor(CHUNK_BYTES / rb));
    const row = m.fmt === 0 ? new Float32Array(Kfull) : null;
    for (let c0 = r0; c0 < r1; c0 += step) {
      const c1 = Math.min(r1, c0 + step), n = c1 - c0, dst = m.ptr + (c0 - r0) * outRow;
      const src = await readTensor(r, g, m.tensor, c0 * rb, c1 * rb);
      if (row) {
        const out = new Float32Array(buf, dst, n * (k1 - k0));
        for (let i = 0; i < n; i++) {
          dequantize(t.type, src.subarray(i * rb, (i + 1) * rb), Kfull, row);
          out.set(row.subarray(k0, k1), i * (k1 - k0));
        }
      } else repackMatrix(t.type, src, n, Kfull, new Uint8Array(buf, dst, n * outRow), k0, k1, m.fmt);
      done += src.length;
      progress?.(done, total);
    }
  };

  const [v0, v1] = mem.plan.vocab;
  await matrix(mem.embed, [E, cfg.vocab], true, v0, v1);
  if (mem.lmHead !== mem.embed) await matrix(mem.lmHead, [E, cfg.vocab], true, v0, v1);
  await vector('output_norm.weight', E, mem.outNorm);
  fillRope(new Float32Array(buf, mem.ropeGlobal, mem.cap * D), mem.cap, D, cfg.ropeBase);
  fillRope(new Float32Array(buf, mem.ropeLocal, mem.cap * D), mem.cap, D, cfg.ropeBaseLocal);

  const HD = cfg.heads * D, KVD = cfg.kvHeads * D;
  const dims: Record<MatrixName, [number, number]> = {
    wq: [E, HD], wk: [E, KVD], wv: [E, KVD], wo: [HD, E], wGate: [E, cfg.ffn], wUp: [E, cfg.ffn], wDown: [cfg.ffn, E],
  };
  for (let l = 0; l < cfg.layers; l++) {
    const p = `blk.${l}.`, L = mem.layers[l];
    await vector(`${p}attn_norm.weight`, E, L.attnNorm);
    await vector(`${p}ffn_norm.weight`, E, L.ffnNorm);
    if (cfg.qkNorm) { await vector(`${p}attn_q_norm.weight`, D, L.qNorm); await vector(`${p}attn_k_norm.weight`, D, L.kNorm); }
    if (cfg.postNorms) {
      await vector(`${p}post_attention_norm.weight`, E, L.postAttnNorm);
      await vector(`${p}post_ffw_norm.weight`, E, L.postFfnNorm);
    }
    for (const k of Object.keys(dims) as MatrixName[]) await matrix(L.w[k], dims[k], L.slice[k].rows, L.slice[k].a, L.slice[k].b);
  }
}
