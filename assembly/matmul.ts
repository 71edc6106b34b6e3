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
  const rowBytes = <usize>K << 2;
  let m = 0;
  for (; m + 2 <= M; m += 2) {
    const x0 = x + <usize>m * rowBytes, x1 = x0 + rowBytes;
    const y0 = y + (<usize>(m * N) << 2), y1 = y0 + (<usize>N << 2);
    let n = 0;
    for (; n + 4 <= N; n += 4) {
      const w0 = w + <usize>n * rowBytes, w1 = w0 + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
      let a00 = f32x4.splat(0), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00;
      for (let k: usize = 0; k < rowBytes; k += 16) {
        const v0 = v128.load(x0 + k), v1 = v128.load(x1 + k);
        const b0 = v128.load(w0 + k), b1 = v128.load(w1 + k), b2 = v128.load(w2 + k), b3 = v128.load(w3 + k);
        a00 = fma4(a00, v0, b0); a01 = fma4(a01, v0, b1); a02 = fma4(a02, v0, b2); a03 = fma4(a03, v0, b3);
        a10 = fma4(a10, v1, b0); a11 = fma4(a11, v1, b1); a12 = fma4(a12, v1, b2); a13 = fma4(a13, v1, b3);
      }
      const o = <usize>n << 2;
      store<f32>(y0 + o, hsum(a00)); store<f32>(y0 + o, hsum(a01), 4); store<f32>(y0 + o, hsum(a02), 8); store<f32>(y0 + o, hsum(a03), 12);
      store<f32>(y1 + o, hsum(a10)); store<f32>(y1 + o, hsum(a11), 4); store<f32>(y1 + o, hsum(a12), 8); store<f32>(y1 + o, hsum(a13), 12);
    }
    for (; n < N; n++) {
      const wn = w + <usize>n * rowBytes;
      let a0 = f32x4.splat(0), a1 = a0;
      for (let k: usize = 0; k < rowBytes; k += 16) {
        const b = v128.load(wn + k);
        a0 = fma4(a0, v128.load(x0 + k), b); a1 = fma4(a1, v128.load(x1 + k), b);
      }
      store<f32>(y0 + (<usize>n << 2), hsum(a0)); store<f32>(y1 + (<usize>n << 2), hsum(a1));
    }
  }
  if (m < M) gemv(x + <usize>m * rowBytes, K, w, N, y + (<usize>(m * N) << 2));
}

/** One token: 4 output rows at a time, two accumulators per row to hide add latency. */
function gemv(x: usize, K: i32, w: usize, N: i32, y: usize): void {
  const rowBytes = <usize>K << 2;
  let n = 0;
  for (; n + 4 <= N; n += 4) {
    const w0 = w + <usize>n * rowBytes, w1 = w0 + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
    let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
    for (let k: usize = 0; k < rowBytes; k += 16) {
      const v = v128.load(x + k);
      a0 = fma4(a0, v, v128.load(w0 + k)); a1 = fma4(a1, v, v128.load(w1 + k));
      a2 = fma4(a2, v, v128.load(w2 + k)); a3 = fma4(a3, v, v128.load(w3 + k));
    }
    const o = <usize>n << 2;
    store<f32>(y + o, hsum(a0)); store<f32>(y + o, hsum(a1), 4); store<f32>(y + o, hsum(a2), 8); store<f32>(y + o, hsum(a3), 12);
  }
  for (; n < N; n++) {
    const wn = w + <usize>n * rowBytes;
    let a = f32x4.splat(0);
    for (let k: usize = 0; k < rowBytes; k += 16) a = fma4(a, v128.load(x + k), v128.load(wn + k));
    store<f32>(y + (<usize>n << 2), hsum(a));
  }
}
