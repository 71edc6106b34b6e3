// The automatic all-reduce policy: exact or compressed, and which algorithm, by shard count and message size.
// Measured over shared memory on a 16-core Xeon, 2–16 shards, 1–2048 tokens × 576–4096 features
// (docs/results/device/allreduce-bench.json, bench/allreduce.bench.ts): the exact sum reads the other shards'
// partials in place and wins everywhere except at 16 shards with messages of ≥ 512 × 576 values, where the
// two-step int4 all-reduce (rs-ag) won by 1.1–1.5×. In one process compression rarely pays; across real links
// (the paper's setting) the threshold moves down with the link's bandwidth.
import { Algorithm } from './allreduce.js';

export interface PolicyRule { minShards: number; minValues: number; use: 'exact' | Algorithm }
export const MEASURED_POLICY: PolicyRule[] = [
  { minShards: 16, minValues: 512 * 576, use: 'rs-ag' },
];

/** In one process. Over a network link the root's plan from its link measurement (tp/cost.ts autoPlan) replaces the table. */
export function autoChoice(shards: number, values: number, rules = MEASURED_POLICY): 'exact' | Algorithm {
  for (const r of rules) if (shards >= r.minShards && values >= r.minValues) return r.use;
  return 'exact';
}
