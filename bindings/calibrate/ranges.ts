// Per-feature range statistics of communicated partial sums: exponential moving average of each feature's
// min and max over calibration batches, as the paper (arXiv 2411.07942) does (momentum < 1), or the running
// extremes (momentum = 1: nothing seen in calibration is clipped).
export class FeatureRanges {
  readonly lo: Float32Array;
  readonly hi: Float32Array;
  batches = 0;
  constructor(readonly features: number, readonly momentum = 0.9) {
    this.lo = new Float32Array(features);
    this.hi = new Float32Array(features);
  }
  /** Fold one batch [tokens × features] in; non-finite values are skipped. */
  update(x: Float32Array, tokens: number): void {
    const F = this.features, m = this.momentum, first = this.batches === 0;
    for (let f = 0; f < F; f++) {
      let lo = Infinity, hi = -Infinity;
      for (let t = 0; t < tokens; t++) {
        const v = x[t * F + f];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      if (lo > hi) continue; // no finite value this batch
      if (first) { this.lo[f] = lo; this.hi[f] = hi; }
      else if (m >= 1) { this.lo[f] = Math.min(this.lo[f], lo); this.hi[f] = Math.max(this.hi[f], hi); }
      else { this.lo[f] = m * this.lo[f] + (1 - m) * lo; this.hi[f] = m * this.hi[f] + (1 - m) * hi; }
    }
    this.batches++;
  }
  /** The k features with the widest calibrated range (max − min), ascending by index. */
  topRange(k: number): number[] {
    const idx = Array.from({ length: this.features }, (_, i) => i);
    idx.sort((a, b) => (this.hi[b] - this.lo[b]) - (this.hi[a] - this.lo[a]) || a - b);
    return idx.slice(0, k).sort((a, b) => a - b);
  }
  toJSON(): { lo: number[]; hi: number[]; batches: number; momentum: number } {
    return { lo: Array.from(this.lo), hi: Array.from(this.hi), batches: this.batches, momentum: this.momentum };
  }
  static fromJSON(j: { lo: number[]; hi: number[]; batches: number; momentum: number }): FeatureRanges {
    const r = new FeatureRanges(j.lo.length, j.momentum);
    r.lo.set(j.lo); r.hi.set(j.hi); r.batches = j.batches;
    return r;
  }
}
