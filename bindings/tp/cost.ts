// A cost model of one all-reduce between shards joined by a network link (issue 11, item 3), and the `auto` plan made
// from it. Per shard, predicted wire time = encode + decode (ns per value per codec, measured on this machine by
// bench/codec.bench.ts: docs/results/codec-bench.json, 64 × 576) + the bytes it sends / the link's bandwidth (each
// shard's own link carries its S − 1 peer messages) + rounds × the cost of one round (measured on the shards' own data
// path when the root could — back-to-back 1-row exact all-reduces — else half the control connection's round trip: in a
// round every shard sends at once, so a round waits one one-way trip, not a request and its answer):
//   exact       1 round, (S − 1) × 4n bytes, (S − 1) n adds
//   all-gather  1 round, (S − 1) × encoded(n) bytes, encode n + decode S·n
//   rs-ag       2 rounds, 2 (S − 1) × encoded(n / S) bytes, encode n + decode (2S − 1) n / S
// Pure functions: the plan depends only on its arguments, so every shard given the same inputs (the root broadcasts
// the link it measured) picks the same algorithm per message, and the sums stay bitwise identical.
import { COMPACT_SKIP } from '../codec/compact.js';
import { autoCodec, parseCommMode, outlierCount } from '../calibrate/plan.js';
import { flagsOf, hasOutliers } from '../codec/spec.js';
import { CodecId, layoutOf } from '../codec/wire.js';
import { EC_ROW_TABLES, EC_TABLES } from '../codec/entropy-tables.js';
import type { Algorithm } from './allreduce.js';

export interface LinkInfo {
  /** round trip of the control connection, ms */ rttMs: number; /** bandwidth, Mbit/s */ mbps: number;
  /**
   * Fixed cost of one all-reduce round on the shards' data path, ms: a 1-row exact all-reduce measured back to back
   * after the mesh is up (net/remote-pool.ts), less its own bytes and adds. The data path (worker → socket → peer's
   * event loop → peer's worker) is not the control connection's (request → event loop → reply), so when present this
   * replaces rttMs / 2.
   */
  roundMs?: number;
}
/** ns per value: encoding a value, and decoding (and adding) one. */
export interface CodecSpeed { encNs: number; decNs: number }

// ns/value = 4 bytes / (GB/s), in situ: what a codec costs inside a real all-reduce (fresh data, the link's copies and
// fences, the sum's zeroing), not in a tight loop over one cached message, which ran 2–4× faster. This session's 2-core
// machine (an Intel Xeon VM), SmolLM2 TP 2, 64 × 576: the in-process 64-row all-reduce of `npm run bench:net` (docs/results/net-bench.json,
// session 14) is encode + 2 decodes per value; it is split between the two by the encode : decode ratio of
// `T=64 F=576 ROUNDS=7 node dist/bench/codec-ab.js build/lowbit-simd.wasm` (docs/results/benchmarks.md, "Codec speeds
// for the cost model"). The uniform rotation codec, not in that bench, takes codec-ab's speed × the -ec codec's factor.
export const CODEC_SPEED: Record<string, CodecSpeed> = {
  'int4-g32': { encNs: 4 / 1.31, decNs: 4 / 3.19 },
  'int8-g32': { encNs: 4 / 1.28, decNs: 4 / 3.14 },
  'outlier-int4-static': { encNs: 4 / 2.55, decNs: 4 / 2.28 },
  'bf16': { encNs: 4 / 2.01, decNs: 4 / 3.37 },
};
/** Codec 7, the same way: uniform rotation (rot128-int4-g128), and the entropy-coded variant (…-ec), the slowest codec. */
export const ROTATION_SPEED: Record<'uniform' | 'entropy', CodecSpeed> = {
  uniform: { encNs: 4 / 2.17, decNs: 4 / 2.53 },
  entropy: { encNs: 4 / 1.18, decNs: 4 / 0.98 },
};
/** The exact sum, ns per value and peer: the in-process exact 64-row all-reduce of the same run (copy, fence, add). */
export const ADD_NS = 1.53;
export const codecSpeed = (mode: string): CodecSpeed =>
  CODEC_SPEED[mode] ?? (mode.includes('-ec') ? ROTATION_SPEED.entropy : /(^|-)rot\d/.test(mode) ? ROTATION_SPEED.uniform : CODEC_SPEED['int4-g32']);

/**
 * Bytes of one message of tokens × features on the link (compact header, wire-format §11; no exceptions), or 4 per value
 * for exact. An entropy-coded stream (-ec, §12) has no fixed size: it is modelled at its mean length on Gaussian blocks (rows, §13).
 */
export function wireBytes(mode: string, tokens: number, features: number, fraction = 1 / 64): number {
  const m = parseCommMode(mode);
  if (m.exact) return 4 * tokens * features;
  const s = m.spec;
  const flags = flagsOf(s);
  const outliers = hasOutliers(s) ? Math.min(s.outlierKeep ?? outlierCount(features, fraction), features) : 0;
  const stream = s.entropy ? Math.ceil((tokens * features * (s.rowStep ? EC_ROW_TABLES : EC_TABLES)[s.bits].meanBits) / 8) : 0;
  return layoutOf({ codec: s.codec as CodecId, bits: s.bits, flags, groupSize: s.groupSize, tokens, features, outliers }).excOff + stream - COMPACT_SKIP;
}

export interface CostQuery {
  S: number; M: number; E: number; mode: string; algorithm: Algorithm; link: LinkInfo;
  fraction?: number; speed?: CodecSpeed;
}
export interface Cost { ms: number; computeMs: number; transferMs: number; latencyMs: number; bytes: number; rounds: number }

/** ms one round waits beyond its bytes: the data path's when measured, else half the control round trip. */
export const roundCost = (link: LinkInfo): number => link.roundMs ?? link.rttMs / 2;

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
  const computeMs = ns / 1e6, transferMs = (8 * bytes) / (link.mbps * 1e3), latencyMs = rounds * roundCost(link);
  return { ms: computeMs + transferMs + latencyMs, computeMs, transferMs, latencyMs, bytes, rounds };
}

/**
 * Codecs at least as accurate as any codec of ≤ 8 bits, most accurate first. `auto:C` may send one of those with more
 * bits than C instead of C, where it is predicted faster (on a fast link, int8-g32's cheaper kernels can beat a 4-bit
 * codec's fewer bytes); it never sends fewer bits than C, so it never costs accuracy below what was asked for.
 */
export const AUTO_LADDER = ['exact', 'bf16', 'int8-g32'];

/** The modes `auto:codec` chooses among, most accurate first, the codec last. */
export function autoCandidates(codec: string, E: number, fraction = 1 / 64): string[] {
  const bits = (m: string) => wireBytes(m, 64, E, fraction) / (64 * E);
  return [...AUTO_LADDER.filter((m) => m !== codec && bits(m) > bits(codec)), codec];
}

/** From `minRows` rows on (to the next band's), messages go as `mode` with `algorithm` (ignored for exact). */
export interface AutoBand { minRows: number; mode: string; algorithm: Algorithm }
/** What `auto` does over a network link: a band per message size, from 1 row to maxRows. */
export interface AutoPlan { codec: string; bands: AutoBand[]; maxRows: number }

/** The band of messages of M rows (bands sorted by minRows, the first from 1; the Communicator's routes are bands too). */
export const bandFor = <B extends { minRows: number }>(bands: B[], M: number): B => {
  let b = bands[0];
  for (const x of bands) if (x.minRows <= M) b = x;
  return b;
};

/**
 * Per message size 1…maxRows, the candidate (autoCandidates) and algorithm of lowest predicted time; ties go to the
 * more accurate. Every cost is linear in the rows, so each choice holds over one interval: a handful of bands at most.
 */
export function autoPlan(S: number, E: number, maxRows: number, codec: string, link: LinkInfo, fraction = 1 / 64): AutoPlan {
  const options = autoCandidates(codec, E, fraction).flatMap((mode): { mode: string; algorithm: Algorithm }[] =>
    mode === 'exact' || S <= 2 ? [{ mode, algorithm: 'all-gather' }] : [{ mode, algorithm: 'all-gather' }, { mode, algorithm: 'rs-ag' }]);
  const bands: AutoBand[] = [];
  for (let M = 1; M <= maxRows; M++) {
    let best = options[0], bestMs = Infinity;
    for (const o of options) {
      const ms = predict({ S, M, E, mode: o.mode, algorithm: o.algorithm, link, fraction }).ms;
      if (ms < bestMs) { best = o; bestMs = ms; }
    }
    const last = bands.at(-1);
    if (!last || last.mode !== best.mode || last.algorithm !== best.algorithm) bands.push({ minRows: M, ...best });
  }
  return { codec, bands, maxRows };
}

/**
 * Predicted wire time of a message of M rows in `mode`, all-gather, or for `auto[:CODEC]` in the band the plan for
 * messages of up to maxRows rows gives it (the benches' model column).
 */
export function predictMode(mode: string, q: Omit<CostQuery, 'mode' | 'algorithm'>, maxRows: number): Cost {
  const b = mode.startsWith('auto') ? bandFor(autoPlan(q.S, q.E, maxRows, autoCodec(mode), q.link, q.fraction).bands, q.M) : { mode, algorithm: 'all-gather' as const };
  return predict({ ...q, mode: b.mode, algorithm: b.algorithm });
}

export function describePlan(p: AutoPlan): string {
  const name = (b: AutoBand) => (b.mode === 'exact' ? 'exact' : `${b.mode} ${b.algorithm}`);
  if (p.bands.length === 1) return `auto: ${name(p.bands[0])} for every message (≤ ${p.maxRows} rows)`;
  return `auto: ${p.bands.map((b, i) => {
    const next = p.bands[i + 1]?.minRows;
    return `${name(b)} for ${next === undefined ? `≥ ${b.minRows}` : next - 1 === b.minRows ? b.minRows : `${b.minRows}–${next - 1}`} rows`;
  }).join(', ')}`;
}
