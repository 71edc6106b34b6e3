// Codes of `bits` bits packed LSB-first, one stream per row (docs/wire-format.md §5): the scalar reference codecs'
// writer and reader (reference.ts, rotated.ts).

/** Write code q at bit j·bits of the row starting at byte `off`. */
export function putCode(out: Uint8Array, off: number, j: number, bits: number, q: number): void {
  let bit = j * bits;
  for (let k = 0; k < bits; k++, bit++) if ((q >>> k) & 1) out[off + (bit >>> 3)] |= 1 << (bit & 7);
}

/** Read code j of `bits` bits from the row starting at byte `off`. */
export function getCode(src: Uint8Array, off: number, j: number, bits: number): number {
  let q = 0, bit = j * bits;
  for (let k = 0; k < bits; k++, bit++) q |= ((src[off + (bit >>> 3)] >>> (bit & 7)) & 1) << k;
  return q;
}
