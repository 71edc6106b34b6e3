// All-reduce of row-parallel partial sums between shards, run inside each shard's thread, over a Link (tp/link.ts):
// a shard's partial and sum live in its own memory; only bytes copied through the link cross between shards.
//   exact       every shard sends its f32 partial to all; each adds them in shard order 0…S−1
//   all-gather  each shard encodes its partial once and sends it to all; every shard decodes all in shard order
//   rs-ag       reduce-scatter (shard c sums feature chunk c of every partial) then all-gather of the
//               re-encoded chunk sums; every shard decodes the same bytes, so all stay bitwise identical
import { Arena } from '../arena.js';
import { KernelExports } from '../kernels.js';
import { SimdCodec } from '../codec/simd.js';
import { COMPACT_SKIP, compactHeader, expandHeader } from '../codec/compact.js';
import { autoCodec, contextFor, parseCommMode } from '../calibrate/plan.js';
import { FeatureRanges } from '../calibrate/ranges.js';
import { Kernels } from '../model/transformer.js';
import { Link } from './link.js';
import { ShardMemory } from './memory.js';
import { splitRange } from './plan.js';
import { autoChoice } from './policy.js';
import { AutoBand, bandFor } from './cost.js';

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
  /**
   * `auto` over a network link (tp/cost.ts autoPlan, made by the root from the link it measured): the mode and
   * algorithm per message size; replaces `mode`'s codec and `algorithm`.
   */
  autoBands?: AutoBand[];
  /**
   * A mode per site (calibrate/allocate.ts: per-site bit allocation, or one site at a time for sensitivity):
   * overrides `mode` site by site; `exact` sends that site's partials in f32. Every shard gets the same list.
   */
  siteModes?: string[];
}

/** Per site: every shard's partial codec (all-gather); chunk codecs [from shard][chunk] this shard touches (rs-ag). */
interface SiteCodecs { partial: SimdCodec[]; chunk: (SimdCodec | null)[][]; sum: SimdCodec[] }
/** A site without codecs (its mode is `exact`) is reduced exactly. */
const EXACT_SITE: SiteCodecs | null = null;
/** How messages of `minRows` rows and more (to the next route's) are reduced: codecs per site (null: all exact). */
interface Route { minRows: number; algorithm: Algorithm; codecs: (SiteCodecs | null)[] | null }

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
  private routes: Route[] = []; // one, or one per band of `auto` over a network link
  private inMemoryAuto = false; // `auto` in one process: exact or rs-ag per message, by tp/policy.ts
  private chunks: [number, number][];
  private rotate = 0;
  private smooth: Float32Array[][] | null = null; // [site][shard] per-feature calibrated range (probe)
  /** Identity check (tests): after every all-reduce, every shard sends its sum and compares shard 0's, bit for bit. */
  verify = false;
  checks = 0;
  mismatches = 0;
  /** Fault tests: write `value` into this shard's partial at `index` of `site` before reducing it. */
  poison: { site: number; index: number; value: number } | null = null;
  /** Calibration: ranges of this shard's partial and of the sum, per site (set by startObserving). */
  observed: { partial: FeatureRanges; sum: FeatureRanges }[] | null = null;

  constructor(private mem: ShardMemory, private k: Kernels & KernelExports, private bytes: Uint8Array, private link: Link, private sites: number) {
    this.chunks = splitRange(mem.hidden, link.size, 16);
  }

  get S(): number { return this.link.size; }
  private get me(): number { return this.link.rank; }
  /** A view of this shard's own memory (re-made per call: views of a grown or replaced buffer go stale). */
  private view(ptr: number, n: number): Uint8Array { return new Uint8Array(this.bytes.buffer, ptr, n); }

  configure(cfg: CommConfig | null): void {
    this.routes = [];
    this.rotate = cfg?.rotate ?? 0;
    if (this.rotate && (cfg!.algorithm !== 'all-gather' || this.mem.hidden % this.rotate || this.rotate & (this.rotate - 1)))
      throw new Error(`rotate ${this.rotate}: needs all-gather and a power-of-two block dividing ${this.mem.hidden}`);
    this.smooth = null;
    if (cfg?.smooth) {
      if (cfg.algorithm !== 'all-gather' || !cfg.sites || cfg.rotate) throw new Error('smooth: needs all-gather, a calibration profile and no rotation');
      this.smooth = cfg.sites.map((sp) => sp.partial.map((r) => r.lo.map((lo, j) => Math.max(Math.abs(lo), Math.abs(r.hi[j]), 1e-6))));
    }
    const auto = cfg?.mode.startsWith('auto') ?? false, bands = auto ? cfg!.autoBands : undefined;
    this.inMemoryAuto = auto && !bands;
    if (this.inMemoryAuto) cfg = { ...cfg!, mode: autoCodec(cfg!.mode), algorithm: 'rs-ag' };
    if (!cfg || this.S === 1) return;
    if (cfg.siteModes && cfg.siteModes.length !== this.sites) throw new Error(`siteModes: ${cfg.siteModes.length} modes for ${this.sites} sites`);
    const E = this.mem.hidden, s = this.mem;
    const arena = new Arena({ buffer: this.bytes.buffer } as unknown as WebAssembly.Memory, s.codecStart, s.codecEnd);
    // room for a whole message's byte codes: -ec decoders then read their Huffman stream once (wire-format §12)
    const scratch = { cap: this.k.scratchBytes(E) + s.maxBatch * E, ptr: 0 };
    scratch.ptr = arena.alloc(scratch.cap);
    const plain = cfg;
    this.routes = bands
      ? bands.map((b) => ({ minRows: b.minRows, algorithm: b.algorithm, codecs: this.siteCodecs({ ...plain, mode: b.mode, algorithm: b.algorithm, siteModes: undefined }, arena, scratch) }))
      : [{ minRows: 1, algorithm: cfg.algorithm, codecs: this.siteCodecs(cfg, arena, scratch) }];
  }

  /** Codecs per site for `cfg` (null: every site exact), from `arena`, sharing one scratch buffer. */
  private siteCodecs(cfg: CommConfig, arena: Arena, scratch: { cap: number; ptr: number }): (SiteCodecs | null)[] | null {
    const modeOf = (site: number) => parseCommMode(cfg.siteModes?.[site] ?? cfg.mode);
    if (Array.from({ length: this.sites }, (_, i) => modeOf(i)).every((m) => m.exact)) return null;
    const E = this.mem.hidden, codecs: (SiteCodecs | null)[] = [];
    for (let site = 0; site < this.sites; site++) {
      const mode = modeOf(site);
      if (mode.exact) { codecs.push(EXACT_SITE); continue; }
      const mk = (features: number, r: FeatureRanges | null, seed: number) =>
        new SimdCodec(this.k, arena, contextFor(mode, features, r, cfg.fraction, seed), scratch);
      const prof = cfg.sites?.[site];
      const sc: SiteCodecs = { partial: [], chunk: [], sum: [] };
      for (let t = 0; t < this.S; t++) {
        const pr = toRanges(prof?.partial[t]);
        if (cfg.algorithm === 'all-gather') sc.partial.push(mk(E, pr, 7919 * site + t));
        else sc.chunk.push(this.chunks.map(([a, b], c) => (t === this.me || c === this.me ? mk(b - a, slice(pr, a, b), 7919 * site + 131 * t + c) : null)));
      }
      if (cfg.algorithm === 'rs-ag') sc.sum = this.chunks.map(([a, b], c) => mk(b - a, slice(toRanges(prof?.sum), a, b), 104729 * site + c));
      codecs.push(sc);
    }
    return codecs;
  }

  startObserving(momentum = 0.9): void {
    const E = this.mem.hidden;
    this.observed = Array.from({ length: this.sites }, () => ({ partial: new FeatureRanges(E, momentum), sum: new FeatureRanges(E, momentum) }));
  }

  /** Sum of every shard's `partial` [M × E] at a row-parallel site, in this shard's memory (returns its pointer). */
  reduce(site: number, partial: number, M: number): number {
    const n = M * this.mem.hidden;
    if (this.poison?.site === site) new Float32Array(this.bytes.buffer, partial, n)[this.poison.index] = this.poison.value;
    const route = this.routes.length ? bandFor(this.routes, M) : undefined;
    const sc = route?.codecs?.[site];
    let sum: number;
    if (this.S === 1) sum = partial;
    else if (!sc || (this.inMemoryAuto && autoChoice(this.S, n) === 'exact')) sum = this.exact(partial, n);
    else if (route.algorithm === 'all-gather') sum = this.allGather(site, sc, partial, M);
    else sum = this.reduceScatterAllGather(sc, partial, M);
    if (this.verify && this.S > 1) this.checkIdentical(sum, n);
    if (this.observed) {
      const f32 = new Float32Array(this.bytes.buffer);
      this.observed[site].partial.update(f32.subarray(partial / 4, partial / 4 + n), M);
      this.observed[site].sum.update(f32.subarray(sum / 4, sum / 4 + n), M);
    }
    return sum;
  }

  /**
   * The exact f32 sum, whatever the codec. `counted`: false for the vocabulary-parallel embedding lookup, whose
   * exchange is not a row-parallel all-reduce and stays out of the wire bits/value statistics.
   */
  exact(partial: number, n: number, counted = true): number {
    const sum = this.mem.sum, tmp = this.mem.commTmp, bytes = 4 * n;
    if (this.S === 1) { this.bytes.copyWithin(sum, partial, partial + bytes); return sum; }
    this.link.send('all', this.view(partial, bytes));
    this.link.fence();
    if (this.me === 0) this.bytes.copyWithin(sum, partial, partial + bytes);
    else this.link.recv(0, 'all', this.view(sum, bytes));
    for (let t = 1; t < this.S; t++) {
      if (t === this.me) this.k.add(sum, partial, n);
      else { this.link.recv(t, 'all', this.view(tmp, bytes)); this.k.add(sum, tmp, n); }
    }
    if (counted) { this.bytesSent += bytes; this.valuesSent += n; }
    return sum;
  }

  private allGather(site: number, sc: SiteCodecs, partial: number, M: number): number {
    const n = M * this.mem.hidden, me = this.mem, codecs = sc.partial;
    if (this.rotate) {
      this.bytes.copyWithin(me.commTmp, partial, partial + 4 * n);
      hadamardBlocks(new Float32Array(this.bytes.buffer, me.commTmp, n), this.rotate, false);
      partial = me.commTmp;
    }
    const E = this.mem.hidden, sm = this.smooth?.[site];
    if (sm) {
      const src = new Float32Array(this.bytes.buffer, partial, n), dst = new Float32Array(this.bytes.buffer, me.commTmp, n), r = sm[this.me];
      for (let i = 0; i < n; i++) dst[i] = src[i] / r[i % E];
      partial = me.commTmp;
    }
    const sent = this.sendCompact('all', codecs[this.me], partial, M, me.wireOut, me.wireCap);
    this.valuesSent += n;
    this.link.fence();
    // decode shard t's block from my own memory: my encoded bytes, or a peer's copied in from the link (§11: the
    // full header is rebuilt in front of the compact one, for mine too, so both go through the same path)
    const block = (t: number) => {
      if (t === this.me) { expandHeader(codecs[t].ctx, M, this.bytes, me.wireOut, sent); return me.wireOut; }
      this.recvCompact(t, 'all', codecs[t], M, me.wireIn, me.wireCap);
      return me.wireIn;
    };
    this.bytes.fill(0, me.sum, me.sum + 4 * n);
    if (sm) { // decode each partial on its own, unsmooth it with its shard's ranges, add in shard order
      const tmp = new Float32Array(this.bytes.buffer, me.commTmp + 4 * n, n), sum = new Float32Array(this.bytes.buffer, me.sum, n);
      for (let t = 0; t < this.S; t++) {
        codecs[t].decode(block(t), me.wireCap, me.commTmp + 4 * n, n, false);
        const r = sm[t];
        for (let i = 0; i < n; i++) sum[i] += tmp[i] * r[i % E];
      }
    } else for (let t = 0; t < this.S; t++) codecs[t].decode(block(t), me.wireCap, me.sum, n, true);
    if (this.rotate) hadamardBlocks(new Float32Array(this.bytes.buffer, me.sum, n), this.rotate, true);
    return me.sum;
  }

  private reduceScatterAllGather(sc: SiteCodecs, partial: number, M: number): number {
    const me = this.mem, S = this.S;
    const tmp = me.commTmp, red = me.commTmp + 4 * M * me.hidden;
    // round 1: chunk c of my partial to shard c
    for (let c = 0; c < S; c++) {
      if (c === this.me) continue;
      const [a, b] = this.chunks[c];
      this.gather(partial, M, a, b, tmp);
      this.sendCompact(c, sc.chunk[this.me][c]!, tmp, M, me.wireOut, this.link.capOne + COMPACT_SKIP);
      this.valuesSent += M * (b - a);
    }
    this.link.fence();
    // reduce my chunk in shard order, then send its encoded sum to everyone (round 2)
    const [a, b] = this.chunks[this.me], w = b - a;
    this.bytes.fill(0, red, red + 4 * M * w);
    for (let t = 0; t < S; t++) {
      if (t === this.me) { this.gather(partial, M, a, b, tmp); this.k.add(red, tmp, M * w); continue; }
      const len = this.recvCompact(t, 'one', sc.chunk[t][this.me]!, M, me.wireIn, this.link.capOne + COMPACT_SKIP);
      sc.chunk[t][this.me]!.decode(me.wireIn, len, red, M * w, true);
    }
    const sent = this.sendCompact('all', sc.sum[this.me], red, M, me.wireOut, me.wireCap);
    this.valuesSent += M * w;
    this.link.fence();
    for (let c = 0; c < S; c++) {
      const [ca, cb] = this.chunks[c];
      let src = me.wireOut, len: number;
      if (c !== this.me) { len = this.recvCompact(c, 'all', sc.sum[c], M, me.wireIn, me.wireCap); src = me.wireIn; }
      else len = expandHeader(sc.sum[c].ctx, M, this.bytes, me.wireOut, sent);
      sc.sum[c].decode(src, len, tmp, M * (cb - ca), false);
      this.scatter(tmp, M, ca, cb, me.sum);
    }
    return me.sum;
  }

  /** Encode at `out` and send the block with its compact header (§11); returns the bytes sent. */
  private sendCompact(to: number | 'all', codec: SimdCodec, src: number, M: number, out: number, cap: number): number {
    const len = compactHeader(this.bytes, out, codec.encode(src, M, out, cap));
    this.link.send(to, this.view(out + COMPACT_SKIP, len));
    this.bytesSent += len;
    return len;
  }
  /** Receive a compact block from shard `from` at `at` + COMPACT_SKIP and rebuild its full header at `at`; returns the block's length. */
  private recvCompact(from: number, kind: 'all' | 'one', codec: SimdCodec, M: number, at: number, cap: number): number {
    const len = this.link.recv(from, kind, this.view(at + COMPACT_SKIP, cap - COMPACT_SKIP));
    return expandHeader(codec.ctx, M, this.bytes, at, len);
  }

  /** Tests: every shard sends its sum through the link; each compares shard 0's with its own, bit for bit. */
  private checkIdentical(sum: number, n: number): void {
    this.link.send('all', this.view(sum, 4 * n));
    this.link.fence();
    if (this.me !== 0) {
      this.link.recv(0, 'all', this.view(this.mem.commTmp, 4 * n));
      const mine = new Int32Array(this.bytes.buffer, sum, n), ref = new Int32Array(this.bytes.buffer, this.mem.commTmp, n);
      for (let i = 0; i < n; i++) if (mine[i] !== ref[i]) { this.mismatches++; break; }
    }
    this.checks++;
  }

  /** Columns [a, b) of x [M × E] → out [M × (b − a)]. */
  private gather(x: number, M: number, a: number, b: number, out: number): void {
    const E = this.mem.hidden, w = b - a;
    for (let m = 0; m < M; m++) this.bytes.copyWithin(out + 4 * m * w, x + 4 * (m * E + a), x + 4 * (m * E + b));
  }
  private scatter(x: number, M: number, a: number, b: number, out: number): void {
    const E = this.mem.hidden, w = b - a;
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
