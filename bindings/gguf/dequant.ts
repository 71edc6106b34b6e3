// Dequantization of ggml block formats to f32, operation for operation as ggml computes it (f32 arithmetic).
import { f32FromF16, f32FromBf16 } from '../codec/numerics.js';
import { typeInfo } from './types.js';

const fr = Math.fround;

/** Dequantize `count` elements of type `type` from `src` into `out` (starting at out[outOffset]). */
export function dequantize(type: number, src: Uint8Array, count: number, out: Float32Array, outOffset = 0): void {
  const t = typeInfo(type);
  if (count % t.blockSize !== 0) throw new Error(`${t.name}: ${count} elements is not a whole number of blocks`);
  const blocks = count / t.blockSize;
  if (src.length < blocks * t.blockBytes) throw new Error(`${t.name}: ${src.length} bytes hold fewer than ${count} elements`);
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const h = (at: number) => f32FromF16(dv.getUint16(at, true));
  let o = outOffset;
  switch (t.name) {
    case 'F32': for (let i = 0; i < count; i++) out[o + i] = dv.getFloat32(4 * i, true); return;
    case 'F16': for (let i = 0; i < count; i++) out[o + i] = h(2 * i); return;
    case 'BF16': for (let i = 0; i < count; i++) out[o + i] = f32FromBf16(dv.getUint16(2 * i, true)); return;
  }
  for (let b = 0; b < blocks; b++, o += t.blockSize) {
    const p = b * t.blockBytes;
    switch (t.name) {
      case 'Q4_0': { const d = h(p); for (let j = 0; j < 16; j++) { const q = src[p + 2 + j]; out[o + j] = fr(((q & 15) - 8) * d); out[o + j + 16] = fr(((q >> 4) - 8) * d); } break; }
      case 'Q4_1': { const d = h(p), m = h(p + 2); for (let j = 0; j < 16; j++) { const q = src[p + 4 + j]; out[o + j] = fr(fr((q & 15) * d) + m); out[o + j + 16] = fr(fr((q >> 4) * d) + m); } break; }
      case 'Q5_0': case 'Q5_1': {
        const one = t.name === 'Q5_1', d = h(p), m = one ? h(p + 2) : 0, qh = dv.getUint32(p + (one ? 4 : 2), true), qs = p + (one ? 8 : 6);
        for (let j = 0; j < 16; j++) {
          const x0 = (src[qs + j] & 15) | (((qh >>> j) << 4) & 0x10), x1 = (src[qs + j] >> 4) | ((qh >>> (j + 12)) & 0x10);
          if (one) { out[o + j] = fr(fr(x0 * d) + m); out[o + j + 16] = fr(fr(x1 * d) + m); }
          else { out[o + j] = fr((x0 - 16) * d); out[o + j + 16] = fr((x1 - 16) * d); }
        }
        break;
      }
      case 'Q8_0': { const d = h(p); for (let j = 0; j < 32; j++) out[o + j] = fr(dv.getInt8(p + 2 + j) * d); break; }
      case 'Q4_K': case 'Q5_K': {
        const five = t.name === 'Q5_K', d = h(p), dmin = h(p + 2), sc = p + 4, qh = p + 16, qs = p + (five ? 48 : 16);
        for (let j = 0, is = 0; j < 4; j++, is += 2) {
          const [s1, m1] = scaleMinK4(src, sc, is), [s2, m2] = scaleMinK4(src, sc, is + 1);
          const d1 = fr(d * s1), dm1 = fr(dmin * m1), d2 = fr(d * s2), dm2 = fr(dmin * m2);
          for (let l = 0; l < 32; l++) {
            const q = src[qs + 32 * j + l];
            const hi1 = five && (src[qh + l] >> (2 * j)) & 1 ? 16 : 0, hi2 = five && (src[qh + l] >> (2 * j + 1)) & 1 ? 16 : 0;
            out[o + 64 * j + l] = fr(fr(d1 * ((q & 15) + hi1)) - dm1);
            out[o + 64 * j + 32 + l] = fr(fr(d2 * ((q >> 4) + hi2)) - dm2);
          }
        }
        break;
      }
      case 'Q6_K': {
        const ql = p, qh = p + 128, sc = p + 192, d = h(p + 208);
        for (let n = 0; n < 2; n++) {
          const L = ql + 64 * n, H = qh + 32 * n, S = sc + 8 * n, y = o + 128 * n;
          for (let l = 0; l < 32; l++) {
            const is = l >> 4, hb = src[H + l];
            const q1 = ((src[L + l] & 15) | ((hb & 3) << 4)) - 32, q2 = ((src[L + l + 32] & 15) | (((hb >> 2) & 3) << 4)) - 32;
            const q3 = ((src[L + l] >> 4) | (((hb >> 4) & 3) << 4)) - 32, q4 = ((src[L + l + 32] >> 4) | (((hb >> 6) & 3) << 4)) - 32;
            out[y + l] = fr(fr(d * dv.getInt8(S + is)) * q1);
            out[y + l + 32] = fr(fr(d * dv.getInt8(S + is + 2)) * q2);
            out[y + l + 64] = fr(fr(d * dv.getInt8(S + is + 4)) * q3);
            out[y + l + 96] = fr(fr(d * dv.getInt8(S + is + 6)) * q4);
          }
        }
        break;
      }
      default: throw new Error(`dequantize: ${t.name} not implemented`);
    }
  }
}

/** The 6-bit scale and min of sub-block j of a Q4_K/Q5_K block (ggml's get_scale_min_k4). */
function scaleMinK4(src: Uint8Array, sc: number, j: number): [number, number] {
  if (j < 4) return [src[sc + j] & 63, src[sc + j + 4] & 63];
  return [(src[sc + j + 4] & 0xf) | ((src[sc + j - 4] >> 6) << 4), (src[sc + j + 4] >> 4) | ((src[sc + j] >> 6) << 4)];
}
