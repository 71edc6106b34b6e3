// Which heads, FFN columns and vocabulary rows each shard owns. The only place that knows how a model splits.
//   column-parallel: Q/K/V (by head), gate/up (by FFN column)   row-parallel: attention output, down projection
//   heads split by KV group; with more shards than KV heads a KV head is replicated and its query heads split.
//   LM head: vocabulary-parallel (it is the largest matmul); the embedding table is one shared copy.
import { ModelConfig } from '../model/config.js';

export interface ShardPlan {
  shard: number;
  heads: [number, number];     // query heads [h0, h1)
  kvHeads: [number, number];   // KV heads [k0, k1)
  ffn: [number, number];       // FFN columns [f0, f1)
  vocab: [number, number];     // vocabulary rows [v0, v1)
}

/** Split [0, n) into `parts` contiguous ranges whose inner bounds are multiples of `align`, as even as possible. */
export function splitRange(n: number, parts: number, align: number): [number, number][] {
  const cuts = [0];
  for (let i = 1; i < parts; i++) cuts.push(Math.min(n, Math.round((i * n) / parts / align) * align));
  cuts.push(n);
  return cuts.slice(0, -1).map((c, i) => [c, cuts[i + 1]]);
}

export function planShards(cfg: ModelConfig, shards: number): ShardPlan[] {
  const { heads: H, kvHeads: KV } = cfg;
  if (!Number.isInteger(shards) || shards < 1) throw new Error(`TP degree must be a positive integer, got ${shards}`);
  if (shards > H) throw new Error(`TP ${shards} exceeds the ${H} attention heads of this model`);
  const group = H / KV;
  const plans: ShardPlan[] = [];
  // FFN columns are the K of the row-parallel down projection: cut on 256 (K-quant super-blocks stay whole, so the
  // compact packed formats apply) where that leaves every shard some, else on the 32-value blocks of every format.
  const ffnAlign = cfg.ffn % 256 === 0 && cfg.ffn / shards >= 256 ? 256 : 32;
  const ffn = splitRange(cfg.ffn, shards, ffnAlign), vocab = splitRange(cfg.vocab, shards, 16);
  for (let s = 0; s < shards; s++) {
    let heads: [number, number], kvHeads: [number, number];
    if (shards <= KV) {
      const [g0, g1] = splitRange(KV, shards, 1)[s];
      kvHeads = [g0, g1]; heads = [g0 * group, g1 * group];
    } else {
      const g = Math.floor((s * KV) / shards);
      const sharing = Array.from({ length: shards }, (_, t) => t).filter((t) => Math.floor((t * KV) / shards) === g);
      const [q0, q1] = splitRange(group, sharing.length, 1)[sharing.indexOf(s)];
      kvHeads = [g, g + 1]; heads = [g * group + q0, g * group + q1];
    }
    if (heads[1] <= heads[0] || ffn[s][1] <= ffn[s][0]) throw new Error(`TP ${shards} leaves shard ${s} without heads or FFN columns`);
    plans.push({ shard: s, heads, kvHeads, ffn: ffn[s], vocab: vocab[s] });
  }
  return plans;
}
