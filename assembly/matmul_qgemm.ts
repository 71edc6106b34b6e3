// Prefill GEMM on packed quantized weights: y[M × N] = x[M × K] · dequant(W[N × K])ᵀ, f32.
// The weights stay packed in memory; a panel of P rows is dequantized into scratch (SIMD, bit-exact, see
// dequant.ts) and the f32 register-blocked kernel of matmul.ts runs on it, writing columns [n, n + P) of y.
// P is a multiple of 8, so every output row takes the same blocking path as in one matmul over the whole
// dequantized matrix (matmul.ts groups rows by 8 for M = 1, by 4 otherwise): the result is bit-identical to
// matmul(x, M, K, dequantRows(W), N, y). The dequantization is paid once per panel and reused by all M tokens;
// the panel (P · K · 4 bytes) is sized by the caller's scratch (bindings/tp/repack.ts qgemmScratchBytes) to sit in L2.
import { matmul, matmulStrided } from './matmul';
import { dequantRows, packedRowBytes } from './dequant';

/** fmt 0 is plain matmul. scratch must hold at least 8 rows of K f32 (traps otherwise). */
export function matmulQ(fmt: i32, x: usize, M: i32, K: i32, w: usize, N: i32, y: usize, scratch: usize, scratchBytes: i32): void {
  if (fmt == 0) { matmul(x, M, K, w, N, y); return; }
  const P = (scratchBytes / (K << 2)) & ~7;
  if (P < 8) unreachable();
  const rowBytes = packedRowBytes(fmt, K);
  for (let n = 0; n < N; n += P) {
    const p = min(P, N - n);
    dequantRows(fmt, w + <usize>n * rowBytes, K, p, scratch);
    matmulStrided(x, M, K, scratch, p, y + (<usize>n << 2), N);
  }
}
