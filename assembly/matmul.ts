// f32 matmul shard: y[M × N] = x[M × K] · W[N × K]ᵀ, W out-major (GGUF's own layout: each output row contiguous).
// Register blocking: 2 tokens × 4 output rows = 8 f32x4 accumulators over K, one horizontal sum each at the end.
// Built twice: plain SIMD (mul + add) and relaxed SIMD (fused multiply-add), picked at load time.

@inline function fma4(acc: v128, a: v128, b: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}
@inline function hsum(v: v128): f32 {
  const s = f32x4.add(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1);
}

/** K must be a multiple of 4 (hidden sizes here are multiples of 64); N and M are free. */
export function matmul(x: usize, M: i32, K: i32, w: usize, N: i32, y: usize): void {
  matmulStrided(x, M, K, w, N, y, N);
}

/**
 * matmul writing y with row stride yStride (≥ N) floats: matmulQ runs it on a panel of N dequantized rows and
 * writes columns [n, n + N) of a wider y. Which blocking path an output takes depends only on its row's position
 * within groups of 8 (M = 1) or 4 (M ≥ 2) and the token's parity, so panels starting at multiples of 8 give the
 * same bits as one call over the whole matrix.
 */
export function matmulStrided(x: usize, M: i32, K: i32, w: usize, N: i32, y: usize, yStride: i32): void {
  if (M == 1) { gemv(x, K, w, N, y); return; }
  const rowBytes = <usize>K << 2, yRow = <usize>yStride << 2;
  // Output rows outer, tokens inner: the 4 weight rows stay in L1/L2 while every token pair streams past them.
  let n = 0;
  for (; n + 4 <= N; n += 4) {
    const w0 = w + <usize>n * rowBytes, w1 = w0 + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
    let m = 0;
    for (; m + 2 <= M; m += 2) {
      const x0 = x + <usize>m * rowBytes, x1 = x0 + rowBytes;
      let a00 = f32x4.splat(0), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00;
      for (let k: usize = 0; k < rowBytes; k += 16) {
        const v0 = v128.load(x0 + k), v1 = v128.load(x1 + k);
        const b0 = v128.load(w0 + k), b1 = v128.load(w1 + k), b2 = v128.load(w2 + k), b3 = v128.load(w3 + k);
        a00 = fma4(a00, v0, b0); a01 = fma4(a01, v0, b1); a02 = fma4(a02, v0, b2); a03 = fma4(a03, v0, b3);
        a10 = fma4(a10, v1, b0); a11 = fma4(a11, v1, b1); a12 = fma4(a12, v1, b2); a13 = fma4(a13, v1, b3);
      }
      const y0 = y + <usize>m * yRow + (<usize>n << 2), y1 = y0 + yRow;
      store<f32>(y0, hsum(a00)); store<f32>(y0, hsum(a01), 4); store<f32>(y0, hsum(a02), 8); store<f32>(y0, hsum(a03), 12);
      store<f32>(y1, hsum(a10)); store<f32>(y1, hsum(a11), 4); store<f32>(y1, hsum(a12), 8); store<f32>(y1, hsum(a13), 12);
    }
    if (m < M) gemvRows(x + <usize>m * rowBytes, rowBytes, w0, 4, y + <usize>m * yRow + (<usize>n << 2));
  }
  if (n < N) for (let m = 0; m < M; m++) gemvRows(x + <usize>m * rowBytes, rowBytes, w + <usize>n * rowBytes, N - n, y + <usize>m * yRow + (<usize>n << 2));
}

/** One token: 8 output rows at a time (more streams in flight for a memory-bound GEMV). */
function gemv(x: usize, K: i32, w: usize, N: i32, y: usize): void {
  const rowBytes = <usize>K << 2;
  let n = 0;
  for (; n + 8 <= N; n += 8) {
    const w0 = w + <usize>n * rowBytes, w1 = w0 + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
    const w4 = w3 + rowBytes, w5 = w4 + rowBytes, w6 = w5 + rowBytes, w7 = w6 + rowBytes;
    let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (let k: usize = 0; k < rowBytes; k += 16) {
      const v = v128.load(x + k);
      a0 = fma4(a0, v, v128.load(w0 + k)); a1 = fma4(a1, v, v128.load(w1 + k));
      a2 = fma4(a2, v, v128.load(w2 + k)); a3 = fma4(a3, v, v128.load(w3 + k));
      a4 = fma4(a4, v, v128.load(w4 + k)); a5 = fma4(a5, v, v128.load(w5 + k));
      a6 = fma4(a6, v, v128.load(w6 + k)); a7 = fma4(a7, v, v128.load(w7 + k));
    }
    const o = y + (<usize>n << 2);
    store<f32>(o, hsum(a0)); store<f32>(o, hsum(a1), 4); store<f32>(o, hsum(a2), 8); store<f32>(o, hsum(a3), 12);
    store<f32>(o, hsum(a4), 16); store<f32>(o, hsum(a5), 20); store<f32>(o, hsum(a6), 24); store<f32>(o, hsum(a7), 28);
  }
  gemvRows(x, rowBytes, w + <usize>n * rowBytes, N - n, y + (<usize>n << 2));
}

/** `rows` consecutive weight rows against one token. */
function gemvRows(x: usize, rowBytes: usize, w: usize, rows: i32, y: usize): void {
  for (let r = 0; r < rows; r++) {
    const wr = w + <usize>r * rowBytes;
    let a = f32x4.splat(0), b = a;
    let k: usize = 0;
    for (; k + 32 <= rowBytes; k += 32) { a = fma4(a, v128.load(x + k), v128.load(wr + k)); b = fma4(b, v128.load(x + k, 16), v128.load(wr + k, 16)); }
    for (; k < rowBytes; k += 16) a = fma4(a, v128.load(x + k), v128.load(wr + k));
    store<f32>(y + (<usize>r << 2), hsum(f32x4.add(a, b)));
  }
}
