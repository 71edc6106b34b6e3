// The other layer kernels: RMSNorm, RoPE (table-driven), causal attention over a KV cache, gated activations, add.
// Shapes in comments; all pointers into the shared memory that bindings/ lays out.

/** out[r, :] = x[r, :] / sqrt(mean(x[r, :]²) + eps) · w   for rows r < R of width E (E % 4 == 0). out may be x. */
export function rmsnorm(x: usize, w: usize, out: usize, R: i32, E: i32, eps: f32): void {
  const bytes = <usize>E << 2;
  for (let r = 0; r < R; r++) {
    const xr = x + <usize>r * bytes, or = out + <usize>r * bytes;
    let a0 = f32x4.splat(0), a1 = a0;
    let k: usize = 0;
    for (; k + 32 <= bytes; k += 32) {
      const v0 = v128.load(xr + k), v1 = v128.load(xr + k, 16);
      a0 = f32x4.add(a0, f32x4.mul(v0, v0)); a1 = f32x4.add(a1, f32x4.mul(v1, v1));
    }
    for (; k < bytes; k += 16) { const v = v128.load(xr + k); a0 = f32x4.add(a0, f32x4.mul(v, v)); }
    const s = f32x4.add(a0, a1);
    const ss = f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
    const inv = f32x4.splat(<f32>1 / Mathf.sqrt(ss / <f32>E + eps));
    for (k = 0; k < bytes; k += 16) v128.store(or + k, f32x4.mul(f32x4.mul(v128.load(xr + k), inv), v128.load(w + k)));
  }
}

/**
 * Rotary embedding in place on x[M × H × D] for positions pos0 + m. table[p × D/2 × 2] holds (cos, sin).
 * neox: pairs (i, i + D/2) (Gemma); otherwise adjacent pairs (2i, 2i + 1) (llama in GGUF).
 */
export function rope(x: usize, M: i32, H: i32, D: i32, pos0: i32, table: usize, neox: bool): void {
  const half = D >> 1;
  for (let m = 0; m < M; m++) {
    const t = table + (<usize>((pos0 + m) * D) << 2);
    for (let h = 0; h < H; h++) {
      const v = x + (<usize>((m * H + h) * D) << 2);
      for (let i = 0; i < half; i++) {
        const c = load<f32>(t + (<usize>(2 * i) << 2)), s = load<f32>(t + (<usize>(2 * i + 1) << 2));
        const ia = neox ? i : 2 * i, ib = neox ? i + half : 2 * i + 1;
        const a = load<f32>(v + (<usize>ia << 2)), b = load<f32>(v + (<usize>ib << 2));
        store<f32>(v + (<usize>ia << 2), a * c - b * s);
        store<f32>(v + (<usize>ib << 2), b * c + a * s);
      }
    }
  }
}

/**
 * Causal attention for M new tokens at positions pos0…pos0+M−1 (already in the cache).
 * q[M × H × D], kc/vc[KV × cap × D], out[M × H × D]; query head h reads KV head h / (H / KV).
 * window > 0 limits each query to the last `window` positions (sliding-window layers). scores: cap floats.
 */
export function attention(q: usize, kc: usize, vc: usize, out: usize, M: i32, pos0: i32, H: i32, KV: i32, D: i32, cap: i32,
                          window: i32, scale: f32, scores: usize): void {
  const group = H / KV, dBytes = <usize>D << 2;
  for (let m = 0; m < M; m++) {
    const p = pos0 + m, j0 = window > 0 ? max(0, p - window + 1) : 0;
    for (let h = 0; h < H; h++) {
      const qv = q + <usize>(m * H + h) * dBytes, kvh = h / group;
      const kb = kc + <usize>(kvh * cap) * dBytes, vb = vc + <usize>(kvh * cap) * dBytes;
      let mx: f32 = -Infinity;
      for (let j = j0; j <= p; j++) {
        const kj = kb + <usize>j * dBytes;
        let a = f32x4.splat(0);
        for (let k: usize = 0; k < dBytes; k += 16) a = f32x4.add(a, f32x4.mul(v128.load(qv + k), v128.load(kj + k)));
        const sc = (f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1) + f32x4.extract_lane(a, 2) + f32x4.extract_lane(a, 3)) * scale;
        store<f32>(scores + (<usize>j << 2), sc);
        mx = max(mx, sc);
      }
      let sum: f32 = 0;
      for (let j = j0; j <= p; j++) { const e = Mathf.exp(load<f32>(scores + (<usize>j << 2)) - mx); store<f32>(scores + (<usize>j << 2), e); sum += e; }
      const inv = <f32>1 / sum;
      const o = out + <usize>(m * H + h) * dBytes;
      memory.fill(o, 0, dBytes);
      for (let j = j0; j <= p; j++) {
        const pj = f32x4.splat(load<f32>(scores + (<usize>j << 2)) * inv), vj = vb + <usize>j * dBytes;
        for (let k: usize = 0; k < dBytes; k += 16) v128.store(o + k, f32x4.add(v128.load(o + k), f32x4.mul(pj, v128.load(vj + k))));
      }
    }
  }
}

/** gate[n] ← silu(gate[n]) · up[n]  (llama MLP). */
export function siluMul(gate: usize, up: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const p = gate + (<usize>i << 2), g = load<f32>(p);
    store<f32>(p, g / (<f32>1 + Mathf.exp(-g)) * load<f32>(up + (<usize>i << 2)));
  }
}

/** gate[n] ← gelu_tanh(gate[n]) · up[n]  (Gemma MLP). */
export function geluMul(gate: usize, up: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const p = gate + (<usize>i << 2), g = load<f32>(p);
    const t = Mathf.tanh(<f32>0.7978845608028654 * (g + <f32>0.044715 * g * g * g));
    store<f32>(p, <f32>0.5 * g * (<f32>1 + t) * load<f32>(up + (<usize>i << 2)));
  }
}

/** a[n] += b[n]. */
export function add(a: usize, b: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) { const o = <usize>i << 2; v128.store(a + o, f32x4.add(v128.load(a + o), v128.load(b + o))); }
  for (; i < n; i++) { const o = <usize>i << 2; store<f32>(a + o, load<f32>(a + o) + load<f32>(b + o)); }
}

/** a[n] *= c. */
export function scale(a: usize, n: i32, c: f32): void {
  const v = f32x4.splat(c);
  let i = 0;
  for (; i + 4 <= n; i += 4) { const o = <usize>i << 2; v128.store(a + o, f32x4.mul(v128.load(a + o), v)); }
  for (; i < n; i++) { const o = <usize>i << 2; store<f32>(a + o, load<f32>(a + o) * c); }
}
