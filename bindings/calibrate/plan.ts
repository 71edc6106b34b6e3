// Communication modes: a wire codec plus how its 16-bit outlier features are chosen, turned into a codec
// context from calibrated ranges. "random-…" is the paper's random-selection baseline.
import { CodecContext, CodecSpec, hasOutliers, isStatic, makeContext, parseCodec, staticParamsFromRange } from '../codec/spec.js';
import { CodecId } from '../codec/wire.js';
import { Rng } from '../util/rng.js';
import { FeatureRanges } from './ranges.js';

export type Selection = 'top-range' | 'random';
/**
 * `best` / `best:B`: each site its own codec and width from the calibration profile's per-site allocation
 * (calibrate/allocate.ts) under a mean budget of B wire bits/value (default: the profile's); `spec` is then only
 * the family's representative, the sites' own modes come with the profile.
 */
export interface CommMode { name: string; spec: CodecSpec; selection: Selection; exact: boolean; best?: number | null }

/**
 * The codec families `best` allocates over: rotation with one step per row and entropy-coded levels (`-row-ec`, 2–6
 * bits, wire-format §13), without calibrated 16-bit outliers, with the 2 largest-range features (the massive
 * activations some sites carry) and with the paper's ⌊E/64⌋. On one Gemma-3 TP 2 profile the allocation over these
 * three and over them plus §12's per-block families (`-g128-ec`) predicted and measured about the same KL (probe-row-step.ts),
 * so §12's are left out; before them, uniform and Lloyd–Max levels had lost to §12 at all 60 SmolLM2 sites.
 */
export const BEST_FAMILIES = ['rot128-int*-row-ec', 'outlier-rot128-int*-row-ec-k2', 'outlier-rot128-int*-row-ec'];

/** The codec of `auto[:CODEC]`: CODEC, or int4-g32. */
export const autoCodec = (name: string): string => name.split(':')[1] ?? 'int4-g32';

/** `exact` (f32 sum without a codec), any codec name of parseCodec, or `random-int<b>-…` (random outliers). */
export function parseCommMode(name: string): CommMode {
  if (name.startsWith('auto')) return { ...parseCommMode(autoCodec(name)), name };
  const best = /^best(?::(\d+(?:\.\d+)?))?$/.exec(name);
  if (best) {
    const budget = best[1] === undefined ? null : Number(best[1]);
    if (budget !== null && !(budget >= 2 && budget <= 32)) throw new Error(`${name}: the budget is mean wire bits/value, 2 … 32`);
    return { name, spec: parseCodec(BEST_FAMILIES[2].replace('*', '4')), selection: 'top-range', exact: false, best: budget };
  }
  if (name.startsWith('best')) throw new Error(`unknown codec "${name}" (best or best:BITS, e.g. best:4.25)`);
  if (name === 'exact') return { name, spec: parseCodec('f32'), selection: 'top-range', exact: true };
  if (name.startsWith('random-')) {
    const spec = parseCodec(`outlier-${name.slice('random-'.length)}`);
    return { name, spec, selection: 'random', exact: false };
  }
  return { name, spec: parseCodec(name), selection: 'top-range', exact: false };
}

export const needsCalibration = (m: CommMode): boolean => !m.exact && (isStatic(m.spec) || hasOutliers(m.spec));

/** The paper keeps ⌊E · fraction⌋ features in 16-bit (fraction 1/64). */
export const outlierCount = (features: number, fraction: number): number => Math.floor(features * fraction);

/** Codec context for one site (layer, row-parallel output, shard). */
export function contextFor(mode: CommMode, features: number, ranges: FeatureRanges | null, fraction = 1 / 64, seed = 1): CodecContext {
  const { spec } = mode;
  if (!needsCalibration(mode)) return makeContext(spec, features);
  if (!ranges) throw new Error(`communication mode "${mode.name}" needs a calibration profile (run lowbit-tp calibrate)`);
  if (ranges.features !== features) throw new Error(`calibrated ranges cover ${ranges.features} features, the site has ${features}`);
  const k = hasOutliers(spec) ? Math.min(spec.outlierKeep ?? outlierCount(features, fraction), features) : 0;
  const outliers = mode.selection === 'random' ? new Rng(seed).sample(features, k) : ranges.topRange(k);
  if (!isStatic(spec)) return makeContext(spec, features, { outliers });
  const keep = spec.codec === CodecId.OutlierStatic ? Array.from({ length: features }, (_, f) => f).filter((f) => !outliers.includes(f)) : Array.from({ length: features }, (_, f) => f);
  const { scale, min } = staticParamsFromRange(keep.map((f) => ranges.lo[f]), keep.map((f) => ranges.hi[f]), spec.bits);
  return makeContext(spec, features, { outliers, scale, min });
}
