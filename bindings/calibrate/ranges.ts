// Per-feature range statistics of communicated partial sums: exponential moving average of each feature's
// min and max over calibration batches, as the paper (arXiv 2411.07942) does (momentum < 1), or the running
// extremes (momentum = 1: nothing seen in calibration is clipped).
/** Outlier-token rows: a row whose max |x| exceeds this many times the batch's median row max |x| (≥ 8 rows). */
export const OUTLIER_ROW_FACTOR = 8;

/** Rows of a batch that are outlier tokens (issue 12: the first token's massive activations), ascending. */
export function outlierRows(x: Float32Array, tokens: number, F: number): number[] {
  if (tokens < 8) return [];
  const amax = new Float64Array(tokens);
  for (let t = 0; t < tokens; t++) { let a = 0; for (let f = 0; f < F; f++) { const v = Math.abs(x[t * F + f]); if (v > a) a = v; } amax[t] = a; }
  const med = Float64Array.from(amax).sort()[tokens >> 1];
  const out: number[] = [];
  for (let t = 0; t < tokens; t++) if (amax[t] > OUTLIER_ROW_FACTOR * med) out.push(t);
  return out;
}

export interface RangesJson { lo: number[]; hi: number[]; batches: number; momentum: number; loRows?: number[]; hiRows?: number[]; rowsSkipped?: number; rowsSeen?: number }

export class FeatureRanges {
  readonly lo: Float32Array;
  readonly hi: Float32Array;
  /** The same EMA ranges with outlier-token rows left out (outlierRows), for codecs that send those rows raw. */
  readonly loRows: Float32Array;
  readonly hiRows: Float32Array;
  batches = 0;
  /** Outlier-token rows seen and rows seen, over all batches. */
  rowsSkipped = 0;
  rowsSeen = 0;
  constructor(readonly features: number, readonly momentum = 0.9) {
    this.lo = new Float32Array(features);
    this.hi = new Float32Array(features);
    this.loRows = new Float32Array(features);
    this.hiRows = new Float32Array(features);
  }
  /** Fold one batch [tokens × features] in; non-finite values are skipped. */
  update(x: Float32Array, tokens: number): void {
    const F = this.features, first = this.batches === 0;
    const skip = new Uint8Array(tokens);
    for (const t of outlierRows(x, tokens, F)) { skip[t] = 1; this.rowsSkipped++; }
    this.rowsSeen += tokens;
    for (let f = 0; f < F; f++) {
      let lo = Infinity, hi = -Infinity, lo2 = Infinity, hi2 = -Infinity;
      for (let t = 0; t < tokens; t++) {
        const v = x[t * F + f];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
        if (!skip[t]) { if (v < lo2) lo2 = v; if (v > hi2) hi2 = v; }
      }
      this.fold(this.lo, this.hi, f, lo, hi, first);
      this.fold(this.loRows, this.hiRows, f, lo2, hi2, first);
    }
    this.batches++;
  }
  private fold(L: Float32Array, H: Float32Array, f: number, lo: number, hi: number, first: boolean): void {
    const m = this.momentum;
    if (lo > hi) return; // no finite value this batch
    if (first) { L[f] = lo; H[f] = hi; }
    else if (m >= 1) { L[f] = Math.min(L[f], lo); H[f] = Math.max(H[f], hi); }
    else { L[f] = m * L[f] + (1 - m) * lo; H[f] = m * H[f] + (1 - m) * hi; }
  }
  /** The k features with the widest calibrated range (max − min), ascending by index. */
  topRange(k: number): number[] {
    const idx = Array.from({ length: this.features }, (_, i) => i);
    idx.sort((a, b) => (this.hi[b] - this.lo[b]) - (this.hi[a] - this.lo[a]) || a - b);
    return idx.slice(0, k).sort((a, b) => a - b);
  }
  toJSON(): RangesJson {
    return { lo: Array.from(this.lo), hi: Array.from(this.hi), batches: this.batches, momentum: this.momentum,
      loRows: Array.from(this.loRows), hiRows: Array.from(this.hiRows), rowsSkipped: this.rowsSkipped, rowsSeen: this.rowsSeen };
  }
  static fromJSON(j: RangesJson): FeatureRanges {
    const r = new FeatureRanges(j.lo.length, j.momentum);
    r.lo.set(j.lo); r.hi.set(j.hi); r.batches = j.batches;
    r.loRows.set(j.loRows ?? j.lo); r.hiRows.set(j.hiRows ?? j.hi); r.rowsSkipped = j.rowsSkipped ?? 0; r.rowsSeen = j.rowsSeen ?? 0;
    return r;
  }
  /** These ranges with the outlier-token rows left out as lo/hi (a profile for the -rows codecs). */
  withoutOutlierRows(): FeatureRanges {
    const r = new FeatureRanges(this.features, this.momentum);
    r.lo.set(this.loRows); r.hi.set(this.hiRows); r.loRows.set(this.loRows); r.hiRows.set(this.hiRows);
    r.batches = this.batches; r.rowsSkipped = this.rowsSkipped; r.rowsSeen = this.rowsSeen;
    return r;
  }
}
