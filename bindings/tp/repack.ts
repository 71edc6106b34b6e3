// Decode-time layout of a quantized matrix, the one assembly/matmul_q.ts reads, made once at load from GGUF blocks.
// Per row of B = K/32 blocks:
//   Q4_1: [B × 16 code bytes][B × f32 d][B × f32 m]   24 B per block (GGUF: 20)
//   Q8_0: [B × 32 code bytes][B × f32 d]              36 B per block (GGUF: 34)
// The codes stay as GGUF packs them (Q4_1 byte j: element j in the low nibble, j + 16 in the high one); the f16
// scales become f32 once here, so the kernel loads four blocks' scales with one vector load instead of converting
// them on every GEMV, and its code loads no longer straddle the 20- or 34-byte block stride.
import { f32FromF16 } from '../codec/numerics.js';

export type QuantType = 3 | 8; // GGML type ids: Q4_1, Q8_0
export const ggufBlockBytes = (type: QuantType): number => (type === 3 ? 20 : 34);
export const packedBlockBytes = (type: QuantType): number => (type === 3 ? 24 : 36);

/** rows × B GGUF blocks (row-major, contiguous) → the packed layout above, written to `dst` (rows × B × packed bytes). */
export function repackRows(type: QuantType, src: Uint8Array, rows: number, B: number, dst: Uint8Array): void {
  const gb = ggufBlockBytes(type), pb = packedBlockBytes(type), head = type === 3 ? 4 : 2, codes = gb - head; // head: f16 d [, f16 m]
  if (src.length < rows * B * gb) throw new Error(`repack: ${src.length} bytes hold fewer than ${rows} × ${B} blocks`);
  if (dst.length < rows * B * pb) throw new Error(`repack: destination holds fewer than ${rows} × ${B} packed blocks`);
  const sv = new DataView(src.buffer, src.byteOffset, src.byteLength), dv = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
  for (let r = 0; r < rows; r++) {
    const s0 = r * B * gb, d0 = r * B * pb, scales = d0 + B * codes;
    for (let b = 0; b < B; b++) {
      const s = s0 + b * gb;
      dst.set(src.subarray(s + head, s + gb), d0 + b * codes);
      dv.setFloat32(scales + 4 * b, f32FromF16(sv.getUint16(s, true)), true);
      if (type === 3) dv.setFloat32(scales + 4 * (B + b), f32FromF16(sv.getUint16(s + 2, true)), true);
    }
  }
}
