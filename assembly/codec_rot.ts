// SIMD kernel of codec 7 (docs/wire-format.md §9): block-Hadamard rotation, dynamic symmetric per-group scales,
// 16-bit outlier features outside the rotation, raw f32 blocks for NaN/Inf. Bit-exact with bindings/codec/rotated.ts;
// the rotation itself is codec_hadamard.ts, the Huffman stream of -ec codec_ec.ts.
import { bf16Up, codeAt, dequant4, fromBf16, fromF16Scalar, bf16Scalar, f16Scalar, invScale, pack16, packScalar, unpack16 } from './codec_lanes';
import { blockInLimit, groupMax, inLimit, inverseFinish, LIMIT, octetFromCodes, rotForward, rotForwardBlock, rotInverse } from './codec_hadamard';
import { ecM, ecReadBegin, ecRead, ecRowK, ecWrite, ecWriteBegin, ecWriteEnd, ROW_TABLE } from './codec_ec';
import {
  codeOff, CX_ISOUT_PTR, CX_OUTLIER_PTR, ENTROPY, ROW_STEP, excEntry, excOff, groups, HEADER, LEVELS, OUT_F16, rotBlock, rowBytes, scaleOff, scratchBytes, valOff,
} from './codec_layout';

// Lloyd–Max levels of the -lm variant (§9), f32 bit patterns: the same as bindings/codec/levels.ts.
const LM2 = memory.data<u32>([0xbf800000, 0xbe997dd5, 0x3e997dd5, 0x3f800000]);
const LM3 = memory.data<u32>([0xbf800000, 0xbf1fde80, 0xbeb3ddbd, 0xbde94149, 0x3de94149, 0x3eb3ddbd, 0x3f1fde80, 0x3f800000]);
const LM4 = memory.data<u32>([0xbf800000, 0xbf41d4de, 0xbf1796ed, 0xbeeb5ef0, 0xbeb09332, 0xbe762031, 0xbe116f3d, 0xbd4076b7,
  0x3d4076b7, 0x3e116f3d, 0x3e762031, 0x3eb09332, 0x3eeb5ef0, 0x3f1796ed, 0x3f41d4de, 0x3f800000]);
// Decision thresholds (l[k] + l[k+1]) · 0.5 in f32, one region per width, filled on use: a thread sharing this memory
// that encodes another width at the same time never sees them change, and refilling writes the same values.
const MID2 = memory.data(16), MID3 = memory.data(32), MID4 = memory.data(64);
@inline function levelTable(bits: i32): usize { return bits == 2 ? LM2 : bits == 3 ? LM3 : LM4; }
@inline function thresholdTable(bits: i32): usize { return bits == 2 ? MID2 : bits == 3 ? MID3 : MID4; }

/** Code of v under -lm: how many of the nm thresholds at `mids` are < v. */
@inline function lmCount(v: v128, mids: usize, nm: i32): v128 {
  let q = i32x4.splat(0);
  for (let k = 0; k < nm; k++) q = i32x4.sub(q, f32x4.gt(v, v128.load32_splat(mids + (<usize>k << 2))));
  return q;
}

/** 16 byte codes → (q − c) · s at r (16 f32). */
@inline function dequant16(cc: v128, r: usize, vc: v128, vs: v128): void {
  const lo = i16x8.extend_low_i8x16_u(cc), hi = i16x8.extend_high_i8x16_u(cc);
  v128.store(r, dequant4(i32x4.extend_low_i16x8_u(lo), vc, vs));
  v128.store(r, dequant4(i32x4.extend_high_i16x8_u(lo), vc, vs), 16);
  v128.store(r, dequant4(i32x4.extend_low_i16x8_u(hi), vc, vs), 32);
  v128.store(r, dequant4(i32x4.extend_high_i16x8_u(hi), vc, vs), 48);
}

/** max |x| over n values at p (n ≥ 0); NaN-free input. */
function absMax(p: usize, n: i32): f32 {
  let v = f32x4.splat(0), i = 0;
  for (; i + 4 <= n; i += 4) v = f32x4.pmax(v, f32x4.abs(v128.load(p + (<usize>i << 2))));
  const m = f32x4.pmax(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  let a = max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1));
  for (; i < n; i++) a = max(a, abs(load<f32>(p + (<usize>i << 2))));
  return a;
}

const ROW_LIMIT: f32 = 7.205759403792794e16; // 2^56 (§13)

/** §13: sum of squares of a block of w values at p: 4 lanes (lane i mod 4, in order), then (0 + 1) + (2 + 3). */
function blockEnergy(p: usize, w: i32): f32 {
  if (w < 4) { let e: f32 = 0; for (let i = 0; i < w; i++) { const y = load<f32>(p + (<usize>i << 2)); e += y * y; } return e; }
  let acc = f32x4.splat(0);
  for (let i = 0; i < w; i += 4) { const y = v128.load(p + (<usize>i << 2)); acc = f32x4.add(acc, f32x4.mul(y, y)); }
  return (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
}

/** Byte codes clamp(nearest(y · inv + c), 0, qmax) of n values at q → cq (uniform levels, §9 and §12). */
@inline function quantizeUniform(q: usize, n: i32, inv: f32, c: f32, qmax: i32, cq: usize): void {
  const vinv = f32x4.splat(inv), vc = f32x4.splat(c), vlo = f32x4.splat(0), vhi = f32x4.splat(<f32>qmax), bias = i32x4.splat(0x4b400000);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const r = q + (<usize>i << 2);
    const q0 = i32x4.sub(f32x4.add(f32x4.pmin(vhi, f32x4.pmax(vlo, f32x4.add(f32x4.mul(v128.load(r), vinv), vc))), f32x4.splat(12582912.0)), bias);
    const q1 = i32x4.sub(f32x4.add(f32x4.pmin(vhi, f32x4.pmax(vlo, f32x4.add(f32x4.mul(v128.load(r, 16), vinv), vc))), f32x4.splat(12582912.0)), bias);
    const q2 = i32x4.sub(f32x4.add(f32x4.pmin(vhi, f32x4.pmax(vlo, f32x4.add(f32x4.mul(v128.load(r, 32), vinv), vc))), f32x4.splat(12582912.0)), bias);
    const q3 = i32x4.sub(f32x4.add(f32x4.pmin(vhi, f32x4.pmax(vlo, f32x4.add(f32x4.mul(v128.load(r, 48), vinv), vc))), f32x4.splat(12582912.0)), bias);
    v128.store(cq + i, i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(q0, q1), i16x8.narrow_i32x4_s(q2, q3)));
  }
  for (; i < n; i++) {
    const v = load<f32>(q + (<usize>i << 2)) * inv + c;
    const r = nearest<f32>(min(max(v, <f32>0), <f32>qmax)); // clamp then round: same as round then clamp to integer bounds
    store<u8>(cq + i, <u8><i32>r);
  }
}

/** §13: the row's step (bf16 bits) from its rotated blocks at work, then every block's codes with step s · √w. */
function quantizeRowStep(work: usize, F: i32, R: i32, n: i32, k: f32, c: f32, qmax: i32, codes8: usize): u32 {
  let total: f32 = 0, a = 0;
  for (let w = R; w >= 1; ) {
    if (a + w > F) { w >>>= 1; continue; }
    total += blockEnergy(work + (<usize>a << 2), w) * (<f32>1 / <f32>w);
    a += w;
    if (w < R) w >>>= 1;
  }
  const sBits = n == 0 ? 0 : bf16Scalar(sqrt<f32>(total / <f32>n) * k), s = fromBf16(sBits);
  a = 0;
  for (let w = R; w >= 1; ) {
    if (a + w > F) { w >>>= 1; continue; }
    quantizeUniform(work + (<usize>a << 2), w, invScale(s * sqrt<f32>(<f32>w)), c, qmax, codes8 + <usize>a);
    a += w;
    if (w < R) w >>>= 1;
  }
  return sBits;
}

/**
 * Encode (layout() already run for codec 7). Returns bytes written, a negative error, or 0 when the raw blocks
 * would make the block larger than f32 (the caller then sends f32).
 */
export function encodeRot(ctx: usize, src: usize, tokens: i32, bits: i32, G: i32, flags: i32, F: i32, O: i32,
                          dst: usize, dstCap: i32, scratch: usize): i32 {
  const R = rotBlock(flags), oPtr = load<usize>(ctx + CX_OUTLIER_PTR), isOut = load<usize>(ctx + CX_ISOUT_PTR);
  const ec = (flags & ENTROPY) != 0; // §12: 2M + 1 levels, zero included, Huffman-coded after the scales
  const rowStep = (flags & ROW_STEP) != 0, table = rowStep ? bits + ROW_TABLE : bits; // §13: one step per row
  const qmax = ec ? 2 * ecM(table) : (1 << bits) - 1, c = <f32>qmax * 0.5, limit = rowStep ? ROW_LIMIT : LIMIT;
  if (ec) ecWriteBegin(dst + <usize>codeOff, <i64>dstCap - codeOff, table);
  const work = scratch, codes8 = scratch + (<usize>F << 2), tmp = scratch + <usize>scratchBytes(F) - 16;
  const f32Size = <i64>HEADER + (<i64>tokens * <i64>F << 2);
  const to16F16 = (flags & OUT_F16) != 0;
  const lm = (flags & LEVELS) != 0, nm = qmax; // -lm: qmax thresholds between qmax + 1 levels
  const mids = thresholdTable(bits);
  if (lm) { const T = levelTable(bits); for (let k = 0; k < nm; k++) store<f32>(mids + (<usize>k << 2), (load<f32>(T + (<usize>k << 2)) + load<f32>(T + (<usize>(k + 1) << 2))) * 0.5); }
  let X = 0, blockId = 0;
  for (let t = 0; t < tokens; t++) {
    const row = src + (<usize>(t * F) << 2);
    // outliers are zeroed in a copy of the row; without them the fused blocks rotate straight from the source
    const from = O > 0 ? work : row;
    if (O > 0) memory.copy(work, row, <usize>F << 2);
    for (let i = 0; i < O; i++) {
      const o = <usize>load<u32>(oPtr + (<usize>i << 2));
      store<f32>(work + (o << 2), 0);
      const x = load<f32>(row + (o << 2));
      store<u16>(dst + <usize>valOff + (<usize>(t * O + i) << 1), <u16>(to16F16 ? f16Scalar(x) : bf16Scalar(x)));
    }
    const scales = dst + <usize>(scaleOff + <i64>t * groups * 2);
    let g = 0, a = 0;
    for (let w = R; w >= 1; ) {
      if (a + w > F) { w >>>= 1; continue; }
      const p = work + (<usize>a << 2);
      const fused = w >= 64 && G >= 32; // octet maxima from the fused rotation serve as the group maxima
      let m = f32x4.splat(0), ok = true;
      if (fused) { m = rotForwardBlock(from + (<usize>a << 2), p, w); ok = blockInLimit(m, limit); }
      else {
        if (from != work) memory.copy(p, from + (<usize>a << 2), <usize>w << 2);
        rotForward(p, w);
        ok = inLimit(p, w, limit);
      }
      if (!ok) {
        if (ec) return 0; // §12: a block with NaN/Inf (or a butterfly overflow) goes as f32 whole
        X++;
        const end = excOff + <i64>X * excEntry;
        if (end > f32Size) return 0;
        if (end > <i64>dstCap) return -7;
        const e = dst + <usize>(end - excEntry);
        store<u32>(e, blockId);
        for (let i = 0; i < w; i++) store<f32>(e + 4 + (<usize>i << 2), load<u8>(isOut + a + i) != 0 ? 0 : load<f32>(row + (<usize>(a + i) << 2)));
        memory.fill(e + 4 + (<usize>w << 2), 0, <usize>(R - w) << 2);
        memory.fill(p, 0, <usize>w << 2);
        m = f32x4.splat(0); // the zeroed block's maxima
      }
      if (rowStep) { a += w; blockId++; if (w < R) w >>>= 1; continue; } // quantized below, once the row's step is known
      for (let a0 = 0; a0 < w; a0 += G, g++) {
        const n = min(G, w - a0), q = p + (<usize>a0 << 2);
        const mx = fused ? groupMax(m, a0 / G, G) : absMax(q, n);
        const sBits = bf16Up(lm ? mx : mx / c);
        store<u16>(scales + (<usize>g << 1), <u16>sBits);
        const inv = invScale(fromBf16(sBits)), vinv = f32x4.splat(inv);
        const cq = codes8 + <usize>(a + a0);
        let i = 0;
        if (lm) {
          for (; i + 16 <= n; i += 16) {
            const r = q + (<usize>i << 2);
            const q0 = lmCount(f32x4.mul(v128.load(r), vinv), mids, nm), q1 = lmCount(f32x4.mul(v128.load(r, 16), vinv), mids, nm);
            const q2 = lmCount(f32x4.mul(v128.load(r, 32), vinv), mids, nm), q3 = lmCount(f32x4.mul(v128.load(r, 48), vinv), mids, nm);
            v128.store(cq + i, i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(q0, q1), i16x8.narrow_i32x4_s(q2, q3)));
          }
          for (; i < n; i++) {
            const v = load<f32>(q + (<usize>i << 2)) * inv;
            let k = 0;
            for (let m = 0; m < nm; m++) if (v > load<f32>(mids + (<usize>m << 2))) k++;
            store<u8>(cq + i, <u8>k);
          }
          continue;
        }
        quantizeUniform(q, n, inv, c, qmax, cq);
      }
      a += w; blockId++;
      if (w < R) w >>>= 1;
    }
    if (rowStep) store<u16>(scales, <u16>quantizeRowStep(work, F, R, F - O, ecRowK(bits), c, qmax, codes8));
    if (ec) { if (!ecWrite(codes8, F)) return -7; continue; }
    // Pack the row's byte codes (§5), padded with zero codes to whole chunks of 8.
    const codes = dst + <usize>(codeOff + <i64>t * rowBytes);
    let j = 0;
    for (; j + 16 <= F; j += 16) pack16(v128.load(codes8 + j), bits, codes + <usize>((j >>> 3) * bits), tmp);
    if (j < F) {
      const padded = (F - j + 7) & ~7;
      for (let k = F - j; k < padded; k++) store<u8>(codes8 + j + k, 0);
      packScalar(codes8 + j, padded, bits, codes + <usize>((j >>> 3) * bits));
    }
  }
  if (ec) { const len = ecWriteEnd(); return len < 0 ? -7 : <i32>(codeOff + len); }
  return <i32>(excOff + <i64>X * excEntry); // total; the caller writes the header
}

/** Validate the raw-block list (ascending, in range); 0 or E_EXC (-6). */
export function checkRaw(src: usize, X: u32, tokens: u32, F: i32, flags: i32): i32 {
  const nb = <u32>rotBlockCountOf(F, rotBlock(flags));
  const lim = <u64>tokens * <u64>nb;
  for (let e: u32 = 0; e < X; e++) {
    const idx = load<u32>(src + <usize>(excOff + <i64>e * excEntry));
    if (<u64>idx >= lim || (e > 0 && idx <= load<u32>(src + <usize>(excOff + <i64>(e - 1) * excEntry)))) return -6;
  }
  return 0;
}
function rotBlockCountOf(F: i32, R: i32): i32 {
  let n = F / R, a = n * R;
  for (let w = R >>> 1; w >= 1; w >>>= 1) if (a + w <= F) { n++; a += w; }
  return n;
}

/** Decoded values (a block, or a whole row) of w at p → out: added to what is there (out + x) or stored. */
function finishBlock(p: usize, out: usize, w: i32, acc: bool): void {
  if (!acc) { memory.copy(out, p, <usize>w << 2); return; }
  let f = 0;
  for (; f + 4 <= w; f += 4) { const q = out + (<usize>f << 2); v128.store(q, f32x4.add(v128.load(q), v128.load(p + (<usize>f << 2)))); }
  for (; f < w; f++) { const q = out + (<usize>f << 2); store<f32>(q, load<f32>(q) + load<f32>(p + (<usize>f << 2))); }
}

/**
 * Decode a validated codec 7 block: per block dequantize, inverse-rotate, patch outliers, store or add. `-ec`: the
 * byte codes of every row at `codesAll` when the caller already read them, else read from the stream row by row.
 */
export function decodeRot(src: usize, tokens: i32, bits: i32, G: i32, flags: i32, F: i32, O: i32, X: u32, oPtr: usize,
                          dst: usize, acc: bool, scratch: usize, codesAll: usize): void {
  const ec = (flags & ENTROPY) != 0; // §12: byte codes from the (already checked) Huffman stream, row by row
  const rowStep = (flags & ROW_STEP) != 0, table = rowStep ? bits + ROW_TABLE : bits; // §13: one step per row, s · √w per block
  const R = rotBlock(flags), c = ec ? <f32>ecM(table) : <f32>((1 << bits) - 1) * 0.5, vc = f32x4.splat(c);
  const rowbuf = scratch, codes8 = scratch + (<usize>F << 2), tmp = scratch + <usize>scratchBytes(F) - 16;
  if (ec && codesAll == 0) ecReadBegin(src + <usize>codeOff, <i64>load<u32>(src + 28) - codeOff, table);
  const lm = (flags & LEVELS) != 0, T = levelTable(bits);
  const f16vals = (flags & OUT_F16) != 0;
  let e: u32 = 0, blockId: u32 = 0;
  let nextRaw: u32 = X > 0 ? load<u32>(src + <usize>excOff) : 0xffffffff;
  for (let t = 0; t < tokens; t++) {
    const codes = src + <usize>(codeOff + <i64>t * rowBytes), scales = src + <usize>(scaleOff + <i64>t * groups * 2);
    if (ec && codesAll == 0) ecRead(codes8, F);
    const rowCodes = codesAll != 0 ? codesAll + <usize>(t * F) : codes8;
    const out = dst + (<usize>(t * F) << 2);
    const direct = O == 0; // no outliers to patch: each block goes straight to its place in dst
    let g = 0, a = 0;
    for (let w = R; w >= 1; ) {
      if (a + w > F) { w >>>= 1; continue; }
      const p = rowbuf + (<usize>a << 2);
      const fused = w >= 64 && G >= 32 && !lm; // dequantize inside the fused inverse, one scale per 32 values
      if (blockId == nextRaw) {
        memory.copy(p, src + <usize>(excOff + <i64>e * excEntry) + 4, <usize>w << 2);
        e++;
        nextRaw = e < X ? load<u32>(src + <usize>(excOff + <i64>e * excEntry)) : 0xffffffff;
        g += (w + G - 1) / G;
        if (direct) finishBlock(p, out + (<usize>a << 2), w, acc);
      } else if (fused) {
        const rowS = rowStep ? fromBf16(<u32>load<u16>(scales)) * sqrt<f32>(<f32>w) : 0;
        for (let k = 0; k < w; k += 32) {
          const vs = f32x4.splat(rowStep ? rowS : fromBf16(<u32>load<u16>(scales + (<usize>(g + k / G) << 1))));
          let c0: v128, c1: v128;
          if (ec) { c0 = v128.load(rowCodes + <usize>(a + k)); c1 = v128.load(rowCodes + <usize>(a + k + 16)); }
          else { c0 = unpack16(codes + <usize>(((a + k) >>> 3) * bits), bits, tmp); c1 = unpack16(codes + <usize>(((a + k + 16) >>> 3) * bits), bits, tmp); }
          octetFromCodes(c0, c1, vc, vs, p + (<usize>k << 2));
        }
        g += (w + G - 1) / G;
        inverseFinish(p, w, direct ? out + (<usize>a << 2) : p, direct && acc);
      } else {
        for (let a0 = 0; a0 < w; a0 += G, g++) {
          const n = min(G, w - a0), s = rowStep ? fromBf16(<u32>load<u16>(scales)) * sqrt<f32>(<f32>w) : fromBf16(<u32>load<u16>(scales + (<usize>g << 1))), vs = f32x4.splat(s);
          const q = p + (<usize>a0 << 2);
          let i = 0;
          if (ec) {
            const cq = rowCodes + <usize>(a + a0);
            for (; i + 16 <= n; i += 16) {
              dequant16(v128.load(cq + i), q + (<usize>i << 2), vc, vs);
            }
            for (; i < n; i++) store<f32>(q + (<usize>i << 2), (<f32>load<u8>(cq + i) - c) * s);
            continue;
          }
          if (lm) { // a level table: one load per code
            for (; i + 16 <= n; i += 16) {
              v128.store(tmp, unpack16(codes + <usize>(((a + a0 + i) >>> 3) * bits), bits, tmp));
              const r = q + (<usize>i << 2);
              for (let k = 0; k < 16; k++) store<f32>(r + (<usize>k << 2), load<f32>(T + (<usize>load<u8>(tmp + k) << 2)) * s);
            }
            for (; i < n; i++) store<f32>(q + (<usize>i << 2), load<f32>(T + (<usize>codeAt(codes, a + a0 + i, bits) << 2)) * s);
            continue;
          }
          for (; i + 16 <= n; i += 16) {
            dequant16(unpack16(codes + <usize>(((a + a0 + i) >>> 3) * bits), bits, tmp), q + (<usize>i << 2), vc, vs);
          }
          for (; i < n; i++) store<f32>(q + (<usize>i << 2), (<f32>codeAt(codes, a + a0 + i, bits) - c) * s);
        }
        rotInverse(p, w);
        if (direct) finishBlock(p, out + (<usize>a << 2), w, acc);
      }
      a += w; blockId++;
      if (w < R) w >>>= 1;
    }
    if (direct) continue;
    const vals = src + <usize>valOff + (<usize>(t * O) << 1);
    for (let i = 0; i < O; i++) {
      const h = <u32>load<u16>(vals + (<usize>i << 1));
      store<f32>(rowbuf + (<usize>load<u32>(oPtr + (<usize>i << 2)) << 2), f16vals ? fromF16Scalar(h) : fromBf16(h));
    }
    finishBlock(rowbuf, out, F, acc);
  }
}
