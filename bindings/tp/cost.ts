// A cost model of one all-reduce between shards joined by a network link (issue 11, item 3), and the `auto` plan made
// from it. Per shard, predicted wire time = encode + decode (ns per value per codec, measured on this machine by
// bench/codec.bench.ts: docs/results/codec-bench.json, 64 × 576) + the bytes it sends / the link's bandwidth (each
// shard's own link carries its S − 1 peer messages) + rounds × half the round trip (in a round every shard sends at
// once, so a round waits one one-way trip, not a request and its answer):
//   exact       1 round, (S − 1) × 4n bytes, (S − 1) n adds
//   all-gather  1 round, (S − 1) × encoded(n) bytes, encode n + decode S·n
//   rs-ag       2 rounds, 2 (S − 1) × encoded(n / S) bytes, encode n + decode (2S − 1) n / S
// Pure functions: the plan depends only on its arguments, so every shard given the same inputs (the root broadcasts
// the link it measured) picks the same algorithm per message, and the sums stay bitwise identical.
import { COMPACT_SKIP } from '../codec/compact.js';
import { parseCommMode, outlierCount } from '../calibrate/plan.js';
import { flagsOf, hasOutliers } from '../codec/spec.js';
import { CodecId, layoutOf } from '../codec/wire.js';
import { EC_TABLES } from '../codec/entropy-tables.js';
import type { Algorithm } from './allreduce.js';

export interface LinkInfo { /** round trip, ms */ rttMs: number; /** bandwidth, Mbit/s */ mbps: number }
/** ns per value: encoding a value, and decoding (and adding) one. */
export interface CodecSpeed { encNs: number; decNs: number }

// docs/results/codec-bench.json (2-core AMD EPYC, 64 tokens × 576 features, SIMD): ns/value = 4 bytes / (GB/s)
export const CODEC_SPEED: Record<string, CodecSpeed> = {
  'int4-g32': { encNs: 4 / 2.04, decNs: 4 / 3.05 },
  'outlier-int4-static': { encNs: 4 / 3.1, decNs: 4 / 3.15 },
  'bf16': { encNs: 4 / 4.85, decNs: 4 / 4.75 },
};
/**
 * Codec 7 on machine A, 64 × 576, the kernels of session 13 (docs/results/benchmarks.md, P2: fastest calls of
 * bench/codec-ab.ts, with int4-g32 reading 3.12 / 5.56 GB/s beside them): uniform rotation, and the entropy-coded
 * variant whose Huffman code makes it the slowest codec.
 */
export const ROTATION_SPEED: Record<'uniform' | 'entropy', CodecSpeed> = {
  uniform: { encNs: 4 / 3.96, decNs: 4 / 4.37 },
  entropy: { encNs: 4 / 1.68, decNs: 4 / 1.93 },
};
/** The exact sum's add, ns per value. */
export const ADD_NS = 0.3;
export const codecSpeed = (mode: string): CodecSpeed =>
  CODEC_SPEED[mode] ?? (mode.includes('-ec') ? ROTATION_SPEED.entropy : /(^|-)rot\d/.test(mode) ? ROTATION_SPEED.uniform : CODEC_SPEED['int4-g32']);

/**
 * Bytes of one message of tokens × features on the link (compact header, wire-format §11; no exceptions), or 4 per value
 * for exact. An entropy-coded stream (-ec, §12) has no fixed size: it is modelled at its mean length on Gaussian blocks.
 */
export function wireBytes(mode: string, tokens: number, features: number, fraction = 1 / 64): number {
  const m = parseCommMode(mode);
  if (m.exact) return 4 * tokens * features;
  const s = m.spec;
  const flags = flagsOf(s);
  const outliers = hasOutliers(s) ? Math.min(s.outlierKeep ?? outlierCount(features, fraction), features) : 0;
  const stream = s.entropy ? Math.ceil((tokens * features * EC_TABLES[s.bits].meanBits) / 8) : 0;
  return layoutOf({ codec: s.codec as CodecId, bits: s.bits, flags, groupSize: s.groupSize, tokens, features, outliers }).excOff + stream - COMPACT_SKIP;
}

export interface CostQuery {
  S: number; M: number; E: number; mode: string; algorithm: Algorithm; link: LinkInfo;
  fraction?: number; speed?: CodecSpeed;
}
export interface Cost { ms: number; computeMs: number; transferMs: number; latencyMs: number; bytes: number; rounds: number }

/** Predicted wire time of one all-reduce of M × E values per shard (mode 'exact' ignores the algorithm). */
export function predict(q: CostQuery): Cost {
  const { S, M, E, link } = q, n = M * E, exact = parseCommMode(q.mode).exact;
  let bytes: number, rounds: number, ns: number;
  if (S <= 1) return { ms: 0, computeMs: 0, transferMs: 0, latencyMs: 0, bytes: 0, rounds: 0 };
  if (exact) { bytes = (S - 1) * 4 * n; rounds = 1; ns = (S - 1) * n * ADD_NS; } else {
    const sp = q.speed ?? codecSpeed(q.mode);
    if (q.algorithm === 'all-gather') {
      bytes = (S - 1) * wireBytes(q.mode, M, E, q.fraction); rounds = 1; ns = n * sp.encNs + S * n * sp.decNs;
    } else {
      bytes = 2 * (S - 1) * wireBytes(q.mode, M, Math.ceil(E / S), q.fraction); rounds = 2; ns = n * sp.encNs + ((2 * S - 1) / S) * n * sp.decNs;
    }
  }
  const computeMs = ns / 1e6, transferMs = (8 * bytes) / (link.mbps * 1e3), latencyMs = (rounds * link.rttMs) / 2;
  return { ms: computeMs + transferMs + latencyMs, computeMs, transferMs, latencyMs, bytes, rounds };
}

/** What `auto` does over a network link: exact below minRows rows per message, the codec with `algorithm` from there on. */
export interface AutoPlan { codec: string; algorithm: Algorithm; minRows: number; maxRows: number }

/**
 * The plan of lowest predicted time for messages of 1…maxRows rows: the algorithm the codec runs with (the cheaper one
 * at maxRows) and the first row count from which the codec beats exact (Infinity: never). Both costs are linear in
 * the rows, the codec's with the larger intercept (≥ as many rounds), so there is one crossover at most.
 */
export function autoPlan(S: number, E: number, maxRows: number, codec: string, link: LinkInfo, fraction = 1 / 64): AutoPlan {
  const at = (M: number, a: Algorithm) => predict({ S, M, E, mode: codec, algorithm: a, link, fraction }).ms;
  const algorithm: Algorithm = S > 2 && at(maxRows, 'rs-ag') < at(maxRows, 'all-gather') ? 'rs-ag' : 'all-gather';
  let minRows = Infinity;
  for (let M = 1; M <= maxRows; M++)
    if (at(M, algorithm) < predict({ S, M, E, mode: 'exact', algorithm, link }).ms) { minRows = M; break; }
  return { codec, algorithm, minRows, maxRows };
}

export function describePlan(p: AutoPlan): string {
  if (p.minRows === Infinity) return `auto: exact for every message (≤ ${p.maxRows} rows); ${p.codec} never predicted faster`;
  if (p.minRows <= 1) return `auto: ${p.codec} ${p.algorithm} for every message`;
  return `auto: exact for ≤ ${p.minRows - 1} rows, ${p.codec} ${p.algorithm} above`;
}
