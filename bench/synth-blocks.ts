// Random but valid, well-scaled ggml blocks for synthetic models (bench/synth-models.ts): whole chunks of random bytes
// from a seeded xorshift128, then a few bytes per block patched (f16 scales, sub-block scales) so that every
// dequantized weight of a row of K has mean ≈ 0 and std ≈ 1/√K. No per-weight float work: ~1 GB/s in plain JS.
import { f16Nearest, f32FromF16 } from '../bindings/codec/numerics.js';

/** Marsaglia's xorshift128 on 32-bit words, seeded through splitmix32; fills whole Uint32Arrays. */
export class XorShift128 {
  private x: number; private y: number; private z: number; private w: number; // int32 state
  constructor(seed: number, stream = 0) {
    let s = (seed ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let t = s ^ (s >>> 16); t = Math.imul(t, 0x21f0aaad); t ^= t >>> 15; t = Math.imul(t, 0x735a2d97);
      return (t ^ (t >>> 15)) >>> 0;
    };
    this.x = next() | 0; this.y = next() | 0; this.z = next() | 0; this.w = next() | 1; // never the all-zero state
  }
  fill(out: Uint32Array | Int32Array): void {
    // int32 arithmetic throughout (^ gives int32; storing through an Int32Array view keeps V8 off doubles): ~1.4 GB/s
    const o = out instanceof Int32Array ? out : new Int32Array(out.buffer, out.byteOffset, out.length);
    let x = this.x | 0, y = this.y | 0, z = this.z | 0, w = this.w | 0;
    for (let i = 0; i < o.length; i++) {
      const t = x ^ (x << 11);
      x = y; y = z; z = w;
      w = w ^ (w >>> 19) ^ t ^ (t >>> 8);
      o[i] = w;
    }
    this.x = x; this.y = y; this.z = z; this.w = w;
  }
  /** Uniform in [0, 1) (for the few small F32 tensors). */
  uniform(n: number): Float64Array {
    const u = new Uint32Array(n); this.fill(u);
    return Float64Array.from(u, (v) => v / 4294967296); // u is a Uint32Array: v ≥ 0
  }
}

/** FNV-1a of a string: per-tensor random streams, so one tensor can be regenerated without the others. */
export function hashName(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

// Sub-block scales (Q4_K: 6-bit, Q6_K: |int8|) are uniform in 32..63: E[s²] = (32² − 1)/12 + 47.5².
const E_S2 = (32 * 32 - 1) / 12 + 47.5 * 47.5;
// Q4_K: w = d·s·q − dmin·m with q uniform in 0..15 and m = s, dmin = 7.5·d, so w = d·s·(q − 7.5): E[(q−7.5)²] = 255/12.
const Q4K_VAR = E_S2 * (255 / 12);
// Q6_K: w = d·s·(q − 32), q uniform in 0..63: E[(q−32)²] = 4095/12 + 1/4; random signs on s cancel the −½ mean.
const Q6K_VAR = E_S2 * (4095 / 12 + 0.25);

export interface BlockGen {
  type: number;        // ggml type
  blockBytes: number;
  /** Fill `blocks` whole blocks at the start of `buf` (buf.byteLength ≥ blocks·blockBytes rounded up to 4). */
  fill(buf: Uint8Array, words: Uint32Array, blocks: number, rng: XorShift128): void;
  /** The std a dequantized weight of this generator has in expectation (after f16 rounding of d). */
  std: number;
}

/** Q4_K (144-byte blocks: f16 d, f16 dmin, 12 bytes of packed 6-bit scales/mins, 128 bytes of nibbles). */
export function q4kGen(rowLength: number): BlockGen {
  const dh = f16Nearest(1 / Math.sqrt(Q4K_VAR * rowLength)), d = f32FromF16(dh);
  const mh = f16Nearest(7.5 * d);
  return {
    type: 12, blockBytes: 144, std: d * Math.sqrt(Q4K_VAR),
    fill(buf, words, blocks, rng) {
      // 144-byte blocks are whole words: patch 4 words of 36 per block (little-endian byte order, as GGUF is).
      rng.fill(words.subarray(0, blocks * 36));
      const dd = (dh | (mh << 16)) >>> 0;
      for (let b = 0, p = 0; b < blocks; b++, p += 36) {
        // scales[j] (j < 4): s_j in its low 6 bits (bit 5 set: 32..63), bits 6-7 the top bits of s_{j+4} (bit 7 set:
        // ≥ 32); scales[j+4]: m_j and m_{j+4}'s top bits, equal to the scales; scales[j+8]: low nibbles of s_{j+4}, m_{j+4}.
        const s = (words[p + 1] | 0xa0a0a0a0) >>> 0, lo = words[p + 3] & 0x0f0f0f0f;
        words[p] = dd; words[p + 1] = s; words[p + 2] = s; words[p + 3] = (lo | (lo << 4)) >>> 0;
      }
    },
  };
}

/** Q6_K (210-byte blocks: 128 bytes of low nibbles, 64 of high bit pairs, 16 int8 scales, f16 d). */
export function q6kGen(rowLength: number): BlockGen {
  const dh = f16Nearest(1 / Math.sqrt(Q6K_VAR * rowLength)), d = f32FromF16(dh);
  return {
    type: 14, blockBytes: 210, std: d * Math.sqrt(Q6K_VAR),
    fill(buf, words, blocks, rng) {
      rng.fill(words.subarray(0, Math.ceil((blocks * 210) / 4)));
      for (let b = 0, p = 0; b < blocks; b++, p += 210) {
        for (let j = p + 192; j < p + 208; j++) {
          const r = buf[j], mag = (r & 31) | 32;
          buf[j] = r & 128 ? 256 - mag : mag; // ±(32..63) as int8
        }
        buf[p + 208] = dh & 255; buf[p + 209] = dh >>> 8;
      }
    },
  };
}

/** F32 norm weights near 1 (1 ± 0.1). */
export function normWeights(n: number, rng: XorShift128): Uint8Array {
  const f = Float32Array.from(rng.uniform(n), (u) => 1 + 0.2 * (u - 0.5));
  return new Uint8Array(f.buffer);
}
