// All-reduce of row-parallel partial sums between shards over shared memory, run inside each shard's thread.
//   exact       f32 sum of every shard's partial, read in place (zero-copy), in shard order 0…S−1
//   all-gather  each shard encodes its partial once; every shard decodes all of them in shard order
//   rs-ag       reduce-scatter (shard c sums feature chunk c of every partial) then all-gather of the
//               re-encoded chunk sums; every shard decodes the same bytes, so all stay bitwise identical
import { Arena } from '../arena.js';
import { KernelExports } from '../kernels.js';
import { SimdCodec } from '../codec/simd.js';
import { contextFor, parseCommMode } from '../calibrate/plan.js';
import { FeatureRanges } from '../calibrate/ranges.js';
import { Kernels } from '../model/transformer.js';
import { Barrier } from './barrier.js';
import { MemoryMap, partialPtr, ShardMap } from './memory.js';
import { splitRange } from './plan.js';
import { autoChoice } from './policy.js';

export type Algorithm = 'all-gather' | 'rs-ag';
export interface RangeData { lo: Float32Array; hi: Float32Array }
/** Calibration per site: the partial ranges of every shard and the ranges of the sum. */
export interface SiteProfile { partial: RangeData[]; sum: RangeData }
/** mode: a communication mode, or `auto[:codec]` (exact or compressed chosen per message, tp/policy.ts). */
export interface CommConfig {
  mode: string; algorithm: Algorithm; fraction: number; sites?: SiteProfile[];
  /**
   * Probe only (scripts/probe-rotation.ts, all-gather): rotate each block of `rotate` features by a signed
   * Hadamard transform before encoding and back after the sum. Not a product mode: a NaN/Inf in a partial
   * spreads over its block, unlike the exact sum.
   */
  rotate?: number;
  /**
   * Probe only (scripts/probe-smooth.ts, all-gather): divide each feature of a shard's partial by its calibrated
   * range before encoding and multiply it back per shard before the sum (SmoothQuant-style smoothing).
   */
  smooth?: boolean;
}

/** Per site: every shard's partial codec (all-gather); chunk codecs [from shard][chunk] this shard touches (rs-ag). */
interface SiteCodecs { partial: SimdCodec[]; chunk: (SimdCodec | null)[][]; sum: SimdCodec[] }

const toRanges = (r: RangeData | undefined): FeatureRanges | null => {
  if (!r) return null;
  const f = new FeatureRanges(r.lo.length); f.lo.set(r.lo); f.hi.set(r.hi); f.batches = 1;
  return f;
};
const slice = (r: FeatureRanges | null, a: number, b: number): FeatureRanges | null => {
  if (!r) return null;
  const f = new FeatureRanges(b - a); f.lo.set(r.lo.subarray(a, b)); f.hi.set(r.hi.subarray(a, b)); f.batches = 1;
  return f;
};

export class Communicator {
  bytesSent = 0;
  valuesSent = 0;
  private codecs: SiteCodecs[] | null = null;
  private algorithm: Algorithm = 'all-gather';
  private auto = false; // `auto`: exact or rs-ag per message, by tp/policy.ts
  private chunks: [number, number][];
  private rotate = 0;
  private smooth: Float32Array[][] | null = null; // [site][shard] per-feature calibrated range (probe)
  /** Identity check (tests): after every all-reduce, compare this shard's sum with shard 0's, bit for bit. */
  verify = false;
  checks = 0;
  mismatches = 0;
  /** Fault tests: write `value` into this shard's partial at `index` of `site` before reducing it. */
  poison: { site: number; index: number; value: number } | null = null;
  /** Calibration: ranges of this shard's partial and of the sum, per site (set by startObserving). */
  observed: { partial: FeatureRanges; sum: FeatureRanges }[] | null = null;

  constructor(private map: MemoryMap, private me: number, private k: Kernels & KernelExports, private bytes: Uint8Array,
              private barrier: Barrier, private sites: number) {
    this.chunks = splitRange(map.hidden, map.shards.length, 16);
  }

  get S(): number { return this.map.shards.length; }

  configure(cfg: CommConfig | null): void {
    this.codecs = null;
    this.rotate = cfg?.rotate ?? 0;
    if (this.rotate && (cfg!.algorithm !== 'all-gather' || this.map.hidden % this.rotate || this.rotate & (this.rotate - 1)))
      throw new Error(`rotate ${this.rotate}: needs all-gather and a power-of-two block dividing ${this.map.hidden}`);
    this.smooth = null;
    if (cfg?.smooth) {
      if (cfg.algorithm !== 'all-gather' || !cfg.sites || cfg.rotate) throw new Error('smooth: needs all-gather, a calibration profile and no rotation');
      this.smooth = cfg.sites.map((sp) => sp.partial.map((r) => r.lo.map((lo, j) => Math.max(Math.abs(lo), Math.abs(r.hi[j]), 1e-6))));
    }
    this.auto = cfg?.mode.startsWith('auto') ?? false;
    if (this.auto) cfg = { ...cfg!, mode: cfg!.mode.split(':')[1] ?? 'int4-g32', algorithm: 'rs-ag' };
    if (!cfg || parseCommMode(cfg.mode).exact || this.S === 1) return;
    const mode = parseCommMode(cfg.mode), E = this.map.hidden, s = this.map.shards[this.me];
    const arena = new Arena({ buffer: this.bytes.buffer } as unknown as WebAssembly.Memory, s.codecStart, s.codecEnd);
    const scratch = { cap: this.k.scratchBytes(E), ptr: 0 };
    scratch.ptr = arena.alloc(scratch.cap);
    const mk = (features: number, r: FeatureRanges | null, seed: number) =>
      new SimdCodec(this.k, arena, contextFor(mode, features, r, cfg.fraction, seed), scratch);
    this.algorithm = cfg.algorithm;
    this.codecs = [];
    for (let site = 0; site < this.sites; site++) {
      const prof = cfg.sites?.[site];
      const sc: SiteCodecs = { partial: [], chunk: [], sum: [] };
      for (let t = 0; t < this.S; t++) {
        const pr = toRanges(prof?.partial[t]);
        if (cfg.algorithm === 'all-gather') sc.partial.push(mk(E, pr, 7919 * site + t));
        else sc.chunk.push(this.chunks.map(([a, b], c) => (t === this.me || c === this.me ? mk(b - a, slice(pr, a, b), 7919 * site + 131 * t + c) : null)));
      }
      if (cfg.algorithm === 'rs-ag') sc.sum = this.chunks.map(([a, b], c) => mk(b - a, slice(toRanges(prof?.sum), a, b), 104729 * site + c));
      this.codecs.push(sc);
    }
  }

  startObserving(momentum = 0.9): void {
    const E = this.map.hidden;
    this.observed = Array.from({ length: this.sites }, () => ({ partial: new FeatureRanges(E, momentum), sum: new FeatureRanges(E, momentum) }));
  }

  reduce(site: number, partial: number, M: number): number {
    const n = M * this.map.hidden;
    if (this.poison?.site === site) new Float32Array(this.bytes.buffer, partial, n)[this.poison.index] = this.poison.value;
    let sum: number;
    if (this.S === 1) sum = partial;
    else if (!this.codecs || (this.auto && autoChoice(this.S, n) === 'exact')) sum = this.exact(site, n);
    else if (this.algorithm === 'all-gather') sum = this.allGather(site, partial, M);
    else sum = this.reduceScatterAllGather(site, partial, M);
    if (this.verify && this.S > 1) this.checkIdentical(sum, n);
    if (this.observed) {
      const f32 = new Float32Array(this.bytes.buffer);
      this.observed[site].partial.update(f32.subarray(partial / 4, partial / 4 + n), M);
      this.observed[site].sum.update(f32.subarray(sum / 4, sum / 4 + n), M);
    }
    return sum;
  }

  private exact(site: number, n: number): number {
    const sum = this.map.shards[this.me].sum;
    this.barrier.wait();
    const first = partialPtr(this.map, this.map.shards[0], site);
    this.bytes.copyWithin(sum, first, first + 4 * n);
    for (let t = 1; t < this.S; t++) this.k.add(sum, partialPtr(this.map, this.map.shards[t], site), n);
    this.bytesSent += 4 * n; this.valuesSent += n;
    return sum;
  }

  private allGather(site: number, partial: number, M: number): number {
    const n = M * this.map.hidden, me = this.map.shards[this.me], codecs = this.codecs![site].partial;
    const slot = (t: number) => (site % 2 === 0 ? this.map.shards[t].wireA : this.map.shards[t].wireB);
    if (this.rotate) {
      this.bytes.copyWithin(me.commTmp, partial, partial + 4 * n);
      hadamardBlocks(new Float32Array(this.bytes.buffer, me.commTmp, n), this.rotate, false);
      partial = me.commTmp;
    }
    const E = this.map.hidden, sm = this.smooth?.[site];
    if (sm) {
      const src = new Float32Array(this.bytes.buffer, partial, n), dst = new Float32Array(this.bytes.buffer, me.commTmp, n), r = sm[this.me];
      for (let i = 0; i < n; i++) dst[i] = src[i] / r[i % E];
      partial = me.commTmp;
    }
    this.bytesSent += codecs[this.me].encode(partial, M, slot(this.me), me.wireCap);
    this.valuesSent += n;
    this.barrier.wait();
    this.bytes.fill(0, me.sum, me.sum + 4 * n);
    if (sm) { // decode each partial on its own, unsmooth it with its shard's ranges, add in shard order
      const tmp = new Float32Array(this.bytes.buffer, me.commTmp + 4 * n, n), sum = new Float32Array(this.bytes.buffer, me.sum, n);
      for (let t = 0; t < this.S; t++) {
        codecs[t].decode(slot(t), me.wireCap, me.commTmp + 4 * n, n, false);
        const r = sm[t];
        for (let i = 0; i < n; i++) sum[i] += tmp[i] * r[i % E];
      }
    } else for (let t = 0; t < this.S; t++) codecs[t].decode(slot(t), me.wireCap, me.sum, n, true);
    if (this.rotate) hadamardBlocks(new Float32Array(this.bytes.buffer, me.sum, n), this.rotate, true);
    return me.sum;
  }

  private reduceScatterAllGather(site: number, partial: number, M: number): number {
    const E = this.map.hidden, me = this.map.shards[this.me], sc = this.codecs![site], S = this.S;
    const sub = Math.floor(me.wireCap / S / 64) * 64;
    const tmp = me.commTmp, red = me.commTmp + 4 * M * E;
    // step 1: send chunk c of my partial to shard c
    for (let c = 0; c < S; c++) {
      if (c === this.me) continue;
      const [a, b] = this.chunks[c];
      this.gather(partial, M, a, b, tmp);
      this.bytesSent += sc.chunk[this.me][c]!.encode(tmp, M, me.wireA + c * sub, sub);
      this.valuesSent += M * (b - a);
    }
    this.barrier.wait();
    // reduce my chunk in shard order, then send the sum to everyone
    const [a, b] = this.chunks[this.me], w = b - a;
    this.bytes.fill(0, red, red + 4 * M * w);
    for (let t = 0; t < S; t++) {
      if (t === this.me) { this.gather(partial, M, a, b, tmp); this.k.add(red, tmp, M * w); }
      else sc.chunk[t][this.me]!.decode(this.map.shards[t].wireA + this.me * sub, sub, red, M * w, true);
    }
    this.bytesSent += sc.sum[this.me].encode(red, M, me.wireB, me.wireCap);
    this.valuesSent += M * w;
    this.barrier.wait();
    for (let c = 0; c < S; c++) {
      const [ca, cb] = this.chunks[c];
      sc.sum[c].decode(this.map.shards[c].wireB, me.wireCap, tmp, M * (cb - ca), false);
      this.scatter(tmp, M, ca, cb, me.sum);
    }
    return me.sum;
  }

  private checkIdentical(sum: number, n: number): void {
    this.barrier.wait(); // every shard has its sum
    const mine = new Int32Array(this.bytes.buffer, sum, n), ref = new Int32Array(this.bytes.buffer, this.map.shards[0].sum, n);
    for (let i = 0; i < n; i++) if (mine[i] !== ref[i]) { this.mismatches++; break; }
    this.checks++;
    this.barrier.wait(); // nobody moves on (and overwrites its sum) before all have compared
  }

  /** Columns [a, b) of x [M × E] → out [M × (b − a)]. */
  private gather(x: number, M: number, a: number, b: number, out: number): void {
    const E = this.map.hidden, w = b - a;
    for (let m = 0; m < M; m++) this.bytes.copyWithin(out + 4 * m * w, x + 4 * (m * E + a), x + 4 * (m * E + b));
  }
  private scatter(x: number, M: number, a: number, b: number, out: number): void {
    const E = this.map.hidden, w = b - a;
    for (let m = 0; m < M; m++) this.bytes.copyWithin(out + 4 * (m * E + a), x + 4 * m * w, x + 4 * (m + 1) * w);
  }
}

/** Signed Walsh–Hadamard transform of each block of `b` values: forward H·D·x, inverse D·H·y / b (b a power of two). */
export function hadamardBlocks(x: Float32Array, b: number, inverse: boolean): void {
  const sign = (i: number) => ((Math.imul(i % b, 0x9e3779b1) >>> 31) ? -1 : 1);
  for (let o = 0; o < x.length; o += b) {
    if (!inverse) for (let i = 0; i < b; i++) x[o + i] *= sign(i);
    for (let h = 1; h < b; h *= 2)
      for (let i = o; i < o + b; i += 2 * h)
        for (let j = i; j < i + h; j++) { const u = x[j], v = x[j + h]; x[j] = u + v; x[j + h] = u - v; }
    if (inverse) for (let i = 0; i < b; i++) x[o + i] *= sign(i) / b;
  }
}
