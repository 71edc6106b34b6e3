// Calibration profiles: per layer, row-parallel site and shard, each feature's EMA min/max of the partial sums
// (and of their sum, for the two-step all-reduce). Stored as JSON with the model file's hash and the TP degree;
// loading one for another model or TP degree is an error. Static int scales follow from the stored ranges for
// the bit width chosen at run time (docs/wire-format.md §4); the outlier choice (top ⌊E·fraction⌋ by range)
// is stored too, for inspection.
import { SiteProfile } from '../tp/allreduce.js';
import { FeatureRanges } from './ranges.js';
import { Allocation } from './allocate.js';

export interface Profile {
  format: 'lowbit-tp-profile'; version: 1;
  model: { sha256: string; arch: string; file: string };
  tp: number; fraction: number; momentum: number;
  calibration: { sequences: number; tokensPerSequence: number; source: string; outlierRows?: boolean; rowsSkipped?: number[][];
    /** Calibrated on a user's text (--text): its path and SHA-256. */
    text?: { file: string; sha256: string } };
  sites: { partial: { lo: number[]; hi: number[]; outliers: number[] }[]; sum: { lo: number[]; hi: number[] } }[];
  /** Per-site sensitivities and the bit allocation `--comm best` runs (calibrate --bits, or measured on first use). */
  allocation?: Allocation;
}

export function makeProfile(sites: { partial: FeatureRanges[]; sum: FeatureRanges }[], info: Omit<Profile, 'format' | 'version' | 'sites'>): Profile {
  const k = Math.floor(sites[0].sum.features * info.fraction);
  return {
    format: 'lowbit-tp-profile', version: 1, ...info,
    sites: sites.map((s) => ({
      partial: s.partial.map((r) => ({ lo: Array.from(r.lo), hi: Array.from(r.hi), outliers: r.topRange(k) })),
      sum: { lo: Array.from(s.sum.lo), hi: Array.from(s.sum.hi) },
    })),
  };
}

/** Checks a profile against the running model and TP degree; returns what the shards need. */
export function profileSites(p: Profile, expect: { sha256: string; tp: number; layers: number; hidden: number }): SiteProfile[] {
  if (p?.format !== 'lowbit-tp-profile' || p.version !== 1) throw new Error('not a lowbit-tp calibration profile (format/version)');
  if (p.model.sha256 !== expect.sha256)
    throw new Error(`calibration profile was made for another model (${p.model.file}, sha256 ${p.model.sha256.slice(0, 12)}…): recalibrate with lowbit-tp calibrate`);
  if (p.tp !== expect.tp) throw new Error(`calibration profile was made for TP ${p.tp}, this run uses TP ${expect.tp}: recalibrate with --tp ${expect.tp}`);
  if (p.sites.length !== 2 * expect.layers || p.sites.some((s) => s.sum.lo.length !== expect.hidden || s.partial.length !== p.tp))
    throw new Error('calibration profile is malformed: wrong number of sites, shards or features');
  return p.sites.map((s) => ({
    partial: s.partial.map((r) => ({ lo: Float32Array.from(r.lo), hi: Float32Array.from(r.hi) })),
    sum: { lo: Float32Array.from(s.sum.lo), hi: Float32Array.from(s.sum.hi) },
  }));
}
