// Codec names, parameters and the per-site context both encoder and decoder hold (docs/wire-format.md §2, §4).
import { LEVEL_BITS } from './levels.js';
import { EC_BITS, EC_ROW_BITS } from './entropy-tables.js';
import { maxStreamBytes } from './entropy.js';
import { CodecId, FLAG_ENTROPY, FLAG_LEVELS, FLAG_ROW_STEP, FLAG_RAW_ROWS, maxRawRows, rawRowBytes, FLAG_INDICES_ON_WIRE, FLAG_OUTLIER_F16, FLAG_ROT128, FLAG_SYMMETRIC, layoutOf, HEADER_BYTES } from './wire.js';

export interface CodecSpec {
  codec: CodecId; bits: number; groupSize: number; symmetric: boolean;
  outlierF16: boolean;     // outlier values as f16 instead of bf16
  indicesOnWire: boolean;  // send outlier indices instead of relying on calibration
  rotate?: number;         // codec 7: rotation block R (64 or 128)
  rotOutliers?: boolean;   // codec 7: calibrated 16-bit outlier features kept out of the rotation
  outlierKeep?: number;    // codec 7 with outliers, suffix -k<N>: keep N features in 16-bit instead of ⌊E · fraction⌋
  levels?: boolean;        // codec 7, suffix -lm: Lloyd–Max levels (2–4 bits) instead of uniform ones
  entropy?: boolean;       // codec 7, suffix -ec: 2M + 1 uniform levels, Huffman-coded (2–7 bits nominal, §12)
  rowStep?: boolean;       // codec 7, -row-ec instead of -g<G>-ec: one step per row from its RMS (2–6 bits, §13)
  rawRows?: boolean;       // static codecs: outlier-token rows sent raw in bf16 (§10), suffix -rows
}

export interface CodecContext {
  spec: CodecSpec; features: number; flags: number;
  outliers: Uint32Array;     // sorted ascending feature indices sent in 16-bit
  isOutlier: Uint8Array;     // [features] 1 where outlier
  scale: Float32Array; min: Float32Array; inv: Float32Array;  // [coded] static params (static codecs)
}

const INT_BITS = [2, 3, 4, 5, 6, 8];
const GROUPS = [16, 32, 64, 128];

/**
 * Names: f32 | bf16 | f16 | int<b>-g<G>[-sym] | int<b>-static | outlier-int<b>-static | outlier-int<b>-g<G>[-sym]
 * with optional suffixes -f16 (outlier values in f16) and -idx (outlier indices on the wire).
 */
export function parseCodec(name: string): CodecSpec {
  const base = { bits: 0, groupSize: 0, symmetric: false, outlierF16: false, indicesOnWire: false };
  // -row-ec (§13) takes the place of -g<G>-ec: one step per row; the header's G is then R
  const r = /^(outlier-)?rot(64|128)-int(\d)-(?:g(\d+)(-lm|-ec)?|row(-ec))((?:-f16|-idx)*)(?:-k(\d+))?$/.exec(name);
  if (r) { // codec 7 (§9): block-Hadamard rotation, dynamic symmetric per-group scales
    const row = r[6] !== undefined;
    if (row) { r[4] = r[2]; r[5] = r[6]; }
    r.splice(6, 1);
    const bits = Number(r[3]), G = Number(r[4]), R = Number(r[2]);
    if (!INT_BITS.includes(bits) && !(r[5] === '-ec' && bits === 7)) throw new Error(`codec "${name}": bits must be one of ${INT_BITS.join(', ')}`);
    if (!GROUPS.includes(G) || G > R) throw new Error(`codec "${name}": group size must be one of ${GROUPS.filter((g) => g <= R).join(', ')}`);
    const outlier = r[1] !== undefined;
    if (!outlier && (r[6] || r[7])) throw new Error(`codec "${name}": -f16/-idx/-k apply to outlier- codecs only`);
    const keep = r[7] === undefined ? undefined : Number(r[7]), lm = r[5] === '-lm', ec = r[5] === '-ec';
    if (lm && !LEVEL_BITS.includes(bits)) throw new Error(`codec "${name}": Lloyd–Max levels (-lm) exist for ${LEVEL_BITS.join(', ')} bits`);
    if (ec && !EC_BITS.includes(bits)) throw new Error(`codec "${name}": entropy-coded levels (-ec) exist for ${EC_BITS.join(', ')} bits`);
    if (row && !EC_ROW_BITS.includes(bits)) throw new Error(`codec "${name}": row-step levels (-row-ec) exist for ${EC_ROW_BITS.join(', ')} bits`);
    if (keep !== undefined && !(keep >= 1 && keep <= 4096)) throw new Error(`codec "${name}": -k<N> keeps 1 … 4096 features in 16-bit`);
    return { ...base, codec: CodecId.Rotated, bits, groupSize: G, symmetric: true, rotate: R, rotOutliers: outlier,
      outlierF16: r[6].includes('-f16'), indicesOnWire: r[6].includes('-idx'), ...(keep !== undefined ? { outlierKeep: keep } : {}), ...(lm ? { levels: true } : {}), ...(ec ? { entropy: true } : {}), ...(row ? { rowStep: true } : {}) };
  }
  if (name === 'f32') return { ...base, codec: CodecId.F32, bits: 32 };
  if (name === 'bf16') return { ...base, codec: CodecId.BF16, bits: 16 };
  if (name === 'f16') return { ...base, codec: CodecId.F16, bits: 16 };
  const m = /^(outlier-)?int(\d)-(static|g(\d+))((?:-sym|-f16|-idx|-rows)*)$/.exec(name);
  if (!m) throw new Error(`unknown codec "${name}" (try f32, bf16, f16, int4-g32, int4-g32-sym, int4-static, outlier-int4-static, outlier-int4-g32)`);
  const bits = Number(m[2]);
  if (!INT_BITS.includes(bits)) throw new Error(`codec "${name}": bits must be one of ${INT_BITS.join(', ')}`);
  const outlier = m[1] !== undefined, isStatic = m[3] === 'static', mods = m[5];
  const groupSize = isStatic ? 0 : Number(m[4]);
  if (!isStatic && !GROUPS.includes(groupSize)) throw new Error(`codec "${name}": group size must be one of ${GROUPS.join(', ')}`);
  if (!isStatic && mods.includes('-rows')) throw new Error(`codec "${name}": -rows (outlier tokens sent raw) applies to static codecs only`);
  if (isStatic && mods.includes('-sym')) throw new Error(`codec "${name}": static codecs take their range from calibration; -sym does not apply`);
  const codec = outlier ? (isStatic ? CodecId.OutlierStatic : CodecId.OutlierGroup) : (isStatic ? CodecId.IntStatic : CodecId.IntGroup);
  return { codec, bits, groupSize, symmetric: mods.includes('-sym'), outlierF16: mods.includes('-f16'), indicesOnWire: mods.includes('-idx'), rawRows: mods.includes('-rows') };
}

export const isStatic = (s: CodecSpec): boolean => s.codec === CodecId.IntStatic || s.codec === CodecId.OutlierStatic;
export const hasOutliers = (s: CodecSpec): boolean => s.codec === CodecId.OutlierStatic || s.codec === CodecId.OutlierGroup || (s.codec === CodecId.Rotated && !!s.rotOutliers);
export const isFloat = (s: CodecSpec): boolean => s.codec <= CodecId.F16;

export function flagsOf(s: CodecSpec): number {
  return (s.symmetric ? FLAG_SYMMETRIC : 0) | (s.rawRows ? FLAG_RAW_ROWS : 0) | (s.levels ? FLAG_LEVELS : 0) | (s.entropy ? FLAG_ENTROPY : 0) | (s.rowStep ? FLAG_ROW_STEP : 0) | (s.codec === CodecId.Rotated && s.rotate === 128 ? FLAG_ROT128 : 0) | (hasOutliers(s) && s.indicesOnWire ? FLAG_INDICES_ON_WIRE : 0) |
    (hasOutliers(s) && s.outlierF16 ? FLAG_OUTLIER_F16 : 0);
}

export interface ContextOptions { outliers?: ArrayLike<number>; scale?: ArrayLike<number>; min?: ArrayLike<number> }

export function makeContext(spec: CodecSpec, features: number, opts: ContextOptions = {}): CodecContext {
  if (!Number.isInteger(features) || features < 1) throw new Error(`features must be a positive integer, got ${features}`);
  // every context is made here, so the kernels never meet a level table for a width that has none
  if (spec.levels && (spec.codec !== CodecId.Rotated || !LEVEL_BITS.includes(spec.bits))) throw new Error(`Lloyd–Max levels need codec 7 at ${LEVEL_BITS.join(', ')} bits`);
  if (spec.entropy && (spec.codec !== CodecId.Rotated || spec.levels || !EC_BITS.includes(spec.bits))) throw new Error(`entropy-coded levels need codec 7 at ${EC_BITS.join(', ')} bits, without -lm`);
  if (spec.rowStep && (!spec.entropy || !EC_ROW_BITS.includes(spec.bits) || spec.groupSize !== spec.rotate)) throw new Error(`row-step levels need -ec at ${EC_ROW_BITS.join(', ')} bits with G = R`);
  const outliers = Uint32Array.from(hasOutliers(spec) ? opts.outliers ?? [] : []);
  const isOutlier = new Uint8Array(features);
  for (let i = 0; i < outliers.length; i++) {
    if (outliers[i] >= features || (i > 0 && outliers[i] <= outliers[i - 1]))
      throw new Error('outlier indices must be strictly ascending and < features');
    isOutlier[outliers[i]] = 1;
  }
  const coded = spec.codec === CodecId.OutlierStatic ? features - outliers.length : features;
  let scale = new Float32Array(0), min = new Float32Array(0), inv = new Float32Array(0);
  if (isStatic(spec)) {
    if (!opts.scale || !opts.min || opts.scale.length !== coded || opts.min.length !== coded)
      throw new Error(`static codec needs calibrated scale and min for ${coded} coded features`);
    scale = Float32Array.from(opts.scale); min = Float32Array.from(opts.min);
    for (let j = 0; j < coded; j++) if (!(scale[j] >= 2 ** -126 && scale[j] < Infinity && Number.isFinite(min[j])))
      throw new Error(`static scale/min of coded feature ${j} must be finite with a normal positive scale (got ${scale[j]}, ${min[j]})`);
    inv = scale.map((s) => Math.fround(1 / s));
  }
  return { spec, features, flags: flagsOf(spec), outliers, isOutlier, scale, min, inv };
}

/** Static parameters from a calibrated range [lo, hi] per coded feature (asymmetric, as the paper). */
export function staticParamsFromRange(lo: ArrayLike<number>, hi: ArrayLike<number>, bits: number): { scale: Float32Array; min: Float32Array } {
  const qmax = 2 ** bits - 1;
  const scale = new Float32Array(lo.length), min = new Float32Array(lo.length);
  for (let j = 0; j < lo.length; j++) {
    const a = Math.min(lo[j], 0), b = Math.max(hi[j], 0); // keep 0 representable-ish and the range non-empty
    min[j] = a;
    scale[j] = Math.max((b - a) / qmax, 1e-30); // ≥ 2^-126 after f32 rounding: a normal scale
  }
  return { scale, min };
}

/** Largest block encode can produce for `tokens` rows: the f32 fallback of §6 bounds every codec. */
export function maxEncodedBytes(ctx: CodecContext, tokens: number): number {
  const n = tokens * ctx.features;
  const l = layoutOf({ codec: ctx.spec.codec, bits: ctx.spec.bits, flags: ctx.flags, groupSize: ctx.spec.groupSize, tokens, features: ctx.features, outliers: ctx.outliers.length });
  // §6: more than ⌊n/64⌋ exceptions fall back to f32; codec 7 falls back when its raw blocks would pass f32's size (§9)
  const raw = ctx.spec.rawRows ? maxRawRows(tokens) * rawRowBytes(ctx.features) : 0; // §10
  const stream = ctx.spec.entropy ? maxStreamBytes(n) : 0; // §12: every code at the longest length
  return Math.max(HEADER_BYTES + 4 * n, l.excOff + stream + (ctx.spec.codec === CodecId.Rotated ? 0 : 8 * Math.floor(n / 64)) + raw);
}
