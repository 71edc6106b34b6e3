// Log-softmax and the per-position comparisons of a communication mode with exact communication.
export function logSoftmax(row: Float32Array, out: Float64Array): void {
  let mx = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > mx) mx = row[i];
  let s = 0;
  for (let i = 0; i < row.length; i++) s += Math.exp(row[i] - mx);
  const lse = mx + Math.log(s);
  for (let i = 0; i < row.length; i++) out[i] = row[i] - lse;
}

/** KL(p ‖ q) from log-probabilities. */
export function kl(logp: Float64Array, logq: Float64Array): number {
  let k = 0;
  for (let i = 0; i < logp.length; i++) { const p = Math.exp(logp[i]); if (p > 0) k += p * (logp[i] - logq[i]); }
  return Math.max(0, k);
}

/** kl() with the probabilities p = exp(logp) given (computed once when one p is compared with many q). */
export function klGivenP(p: ArrayLike<number>, logp: ArrayLike<number>, logq: Float64Array): number {
  let k = 0;
  for (let i = 0; i < logq.length; i++) if (p[i] > 0) k += p[i] * (logp[i] - logq[i]);
  return Math.max(0, k);
}

/** Index of the largest value (first on ties). */
export function argmax(x: ArrayLike<number>): number {
  let b = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[b]) b = i;
  return b;
}
