// Generates the Huffman tables of codec 7's entropy-coded variant (`-ec`, docs/wire-format.md §12):
// bindings/codec/entropy-tables.ts and assembly/codec_ec_tables.ts. Not run by the build: the tables are part of the
// wire format, so they are committed and this script only documents (and reproduces) where they came from.
//
// Model: a rotated 128-value block is near-Gaussian (the Hadamard transform mixes 128 partials), its scale is
// s = bf16_up(max|y| / M) and its codes q = round(y / s) ∈ [−M, M] (2M + 1 levels, zero included). For each nominal
// width b the script picks the largest M whose Huffman code costs ≤ b bits/value on Gaussian blocks, then builds
// code lengths (≤ 12 bits, every symbol coded, so any block an adversary makes can still be encoded).
//
// Row-step tables (`-row-ec`, §13): one step per row, s = bf16(k · RMS of the row's rotated values), codes
// q = round(z / s) ∈ [−L, L] with L = min(127, ⌈8 / k⌉) (8 RMS of headroom; byte codes). Their code lengths are the
// optimal ones of at most 12 bits (package-merge): flooring rare codes' counts, as the §12 tables do, would cost these
// larger alphabets 0.05–0.1 bits/value. For each b the script picks the smallest k (finest step, on the grid 2^(j/64))
// whose code costs ≤ b bits/value on Gaussian rows of 576.
//   node --import tsx scripts/gen-entropy-tables.ts           # rewrites both files (seeded: the same bytes each run)
import { writeFileSync } from 'node:fs';
import { bf16Nearest, bf16Up, clampCode, f32FromBf16, fround, invScale } from '../bindings/codec/numerics.js';
import { Rng } from '../bindings/util/rng.js';

const WIDTHS = [2, 3, 4, 5, 6, 7], MAX_LEN = 12, BLOCK = 128;

/** Symbol histogram (index q + M) of `blocks` Gaussian blocks quantized as codec 7 -ec does. */
function histogram(M: number, blocks: number, seed: number): Float64Array {
  const rng = new Rng(seed), h = new Float64Array(2 * M + 1), y = new Float32Array(BLOCK);
  for (let b = 0; b < blocks; b++) {
    let a = 0;
    for (let i = 0; i < BLOCK; i++) { y[i] = rng.normal(); a = Math.max(a, Math.abs(y[i])); }
    const inv = invScale(f32FromBf16(bf16Up(fround(a / M))));
    for (let i = 0; i < BLOCK; i++) h[clampCode(fround(fround(y[i] * inv) + M), 0, 2 * M)]++;
  }
  return h;
}

/** Huffman code lengths; counts are floored so no length exceeds MAX_LEN (raised until it holds). */
function codeLengths(h: Float64Array): number[] {
  const total = h.reduce((s, x) => s + x, 0);
  for (let floorExp = MAX_LEN - 1; ; floorExp--) {
    const w = Array.from(h, (x) => Math.max(x, total * 2 ** -floorExp));
    // plain Huffman over (weight, symbols) nodes
    let nodes = w.map((x, i) => ({ w: x, syms: [i] }));
    const len = new Array(w.length).fill(0);
    while (nodes.length > 1) {
      nodes.sort((p, q) => p.w - q.w || p.syms[0] - q.syms[0]);
      const [p, q] = nodes;
      for (const s of [...p.syms, ...q.syms]) len[s]++;
      nodes = [{ w: p.w + q.w, syms: [...p.syms, ...q.syms] }, ...nodes.slice(2)];
    }
    if (Math.max(...len) <= MAX_LEN) return len;
  }
}

const meanBits = (h: Float64Array, len: number[]): number => h.reduce((s, x, i) => s + x * len[i], 0) / h.reduce((s, x) => s + x, 0);

const rows: { b: number; M: number; len: number[]; bits: number }[] = [];
for (const b of WIDTHS) {
  let best = 1;
  for (let M = 1; M <= 127; M++) { // a quick pass for M, then the table from a larger sample
    const h = histogram(M, 4000, 7 + M);
    if (meanBits(h, codeLengths(h)) <= b) best = M; else if (M > best + 3) break;
  }
  const h = histogram(best, 100000, 1000 + b), len = codeLengths(h);
  rows.push({ b, M: best, len, bits: meanBits(h, len) });
  console.log(`b=${b}: M=${best} (${2 * best + 1} levels), ${meanBits(h, len).toFixed(4)} bits/value on Gaussian blocks, longest code ${Math.max(...len)}`);
}

/** Row-step model: Gaussian rows of ROW values, step bf16(k · RMS), codes clamped to ±L; histogram index q + L. */
const ROW = 576, ROW_WIDTHS = [2, 3, 4, 5, 6];
const rowL = (k: number): number => Math.min(127, Math.ceil(8 / k));

/** Optimal code lengths of at most `maxLen` bits (package-merge; every symbol coded: a count of 0 weighs 1e-9). */
function packageMerge(h: Float64Array, maxLen: number): number[] {
  const total = h.reduce((s, x) => s + x, 0);
  const leaves = Array.from(h, (x, i) => ({ w: Math.max(x / total, 1e-9), syms: [i] })).sort((a, b) => a.w - b.w || a.syms[0] - b.syms[0]);
  let cur = leaves;
  for (let l = 1; l < maxLen; l++) {
    const packages = [];
    for (let j = 0; j + 1 < cur.length; j += 2) packages.push({ w: cur[j].w + cur[j + 1].w, syms: [...cur[j].syms, ...cur[j + 1].syms] });
    cur = [...leaves, ...packages].sort((a, b) => a.w - b.w || a.syms.length - b.syms.length || a.syms[0] - b.syms[0]);
  }
  const len = new Array(h.length).fill(0);
  for (const c of cur.slice(0, 2 * h.length - 2)) for (const s of c.syms) len[s]++;
  return len;
}
function rowHistogram(k: number, rows: number, seed: number): Float64Array {
  const L = rowL(k), rng = new Rng(seed), h = new Float64Array(2 * L + 1), z = new Float32Array(ROW);
  for (let r = 0; r < rows; r++) {
    let e = 0;
    for (let i = 0; i < ROW; i++) { z[i] = rng.normal(); e += z[i] * z[i]; }
    const inv = invScale(f32FromBf16(bf16Nearest(fround(fround(Math.sqrt(e / ROW)) * k))));
    for (let i = 0; i < ROW; i++) h[clampCode(fround(fround(z[i] * inv) + L), 0, 2 * L)]++;
  }
  return h;
}
const rowRows: { b: number; L: number; k: number; len: number[]; bits: number }[] = [];
for (const b of ROW_WIDTHS) {
  let j = 64; // k = 2^(j/64), from 2 down while the code still costs ≤ b bits
  while (j > -64 * 6) { const h = rowHistogram(fround(2 ** ((j - 1) / 64)), 300, 17 + j); if (meanBits(h, packageMerge(h, MAX_LEN)) > b) break; j--; }
  const k = fround(2 ** (j / 64)), h = rowHistogram(k, 20000, 2000 + b), len = packageMerge(h, MAX_LEN);
  rowRows.push({ b, L: rowL(k), k, len, bits: meanBits(h, len) });
  console.log(`row b=${b}: k=${k} L=${rowL(k)} (${2 * rowL(k) + 1} levels), ${meanBits(h, len).toFixed(4)} bits/value on Gaussian rows, longest code ${Math.max(...len)}`);
}

const header = '// Generated by scripts/gen-entropy-tables.ts (docs/wire-format.md §12) — do not edit; rerun the script.\n';
writeFileSync('bindings/codec/entropy-tables.ts', `${header}// Per nominal width b: M (codes −M … M), the Huffman code length of each code q + M, and the mean bits/value
// the code costs on Gaussian 128-value blocks (what the cost model and the bit allocator assume).
export const EC_TABLES: Record<number, { M: number; lengths: number[]; meanBits: number }> = {
${rows.map((r) => `  ${r.b}: { M: ${r.M}, meanBits: ${r.bits.toFixed(4)}, lengths: [${r.len.join(', ')}] },`).join('\n')}
};
export const EC_BITS = [${WIDTHS.join(', ')}];
export const EC_MAX_LEN = ${MAX_LEN};
// Row-step tables (§13): per nominal width b, the step factor k (an f32), L (codes −L … L) and the code lengths.
export const EC_ROW_TABLES: Record<number, { L: number; k: number; lengths: number[]; meanBits: number }> = {
${rowRows.map((r) => `  ${r.b}: { L: ${r.L}, k: ${r.k}, meanBits: ${r.bits.toFixed(4)}, lengths: [${r.len.join(', ')}] },`).join('\n')}
};
export const EC_ROW_BITS = [${ROW_WIDTHS.join(', ')}];
`);
writeFileSync('assembly/codec_ec_tables.ts', `${header}// The same tables as bindings/codec/entropy-tables.ts: per width b, M and the code lengths of codes 0 … 2M.
${rows.map((r) => `export const EC_LEN${r.b} = memory.data<u8>([${r.len.join(', ')}]);`).join('\n')}
export const EC_M: StaticArray<i32> = [0, 0, ${rows.map((r) => r.M).join(', ')}];
export const EC_MAX_LEN: i32 = ${MAX_LEN};
// Row-step tables (§13): code lengths of codes 0 … 2L, and per width L and the step factor k.
${rowRows.map((r) => `export const EC_RLEN${r.b} = memory.data<u8>([${r.len.join(', ')}]);`).join('\n')}
export const EC_RL: StaticArray<i32> = [0, 0, ${rowRows.map((r) => r.L).join(', ')}];
export const EC_RK: StaticArray<f32> = [0, 0, ${rowRows.map((r) => r.k).join(', ')}];
// The encoder's two-codes-at-a-time tables for row widths 2 … 5: (2L + 1)² entries each, laid end to end.
export const EC_RPAIR_AT: StaticArray<i32> = [0, 0, ${rowRows.filter((r) => r.b <= 5).map((r, i, a) => a.slice(0, i).reduce((s, x) => s + (2 * x.L + 1) ** 2, 0)).join(', ')}];
export const EC_RPAIR_WORDS: i32 = ${rowRows.filter((r) => r.b <= 5).reduce((s, x) => s + (2 * x.L + 1) ** 2, 0)};
`);
