// Lloyd–Max levels of codec 7's `-lm` variant (docs/wire-format.md §9): the 2^b levels that minimise the squared
// error of a unit Gaussian (Max 1960), divided by the outermost so the group's largest |value| maps onto ±1 and the
// scale is bf16_up(max |y|). Rotated partials are near-Gaussian, and these levels cut the error power 1.3–1.9× against
// uniform ones at the same bits (scripts/probe-levels.ts). The f32 bit patterns are the wire format's definition;
// assembly/codec_rot.ts holds the same patterns (the SIMD-vs-reference tests compare every code and value).
const HEX: Record<number, number[]> = {
  2: [0xbf800000, 0xbe997dd5, 0x3e997dd5, 0x3f800000],
  3: [0xbf800000, 0xbf1fde80, 0xbeb3ddbd, 0xbde94149, 0x3de94149, 0x3eb3ddbd, 0x3f1fde80, 0x3f800000],
  4: [0xbf800000, 0xbf41d4de, 0xbf1796ed, 0xbeeb5ef0, 0xbeb09332, 0xbe762031, 0xbe116f3d, 0xbd4076b7,
      0x3d4076b7, 0x3e116f3d, 0x3e762031, 0x3eb09332, 0x3eeb5ef0, 0x3f1796ed, 0x3f41d4de, 0x3f800000],
};
/** The positive half of the Gaussian Lloyd–Max levels the patterns come from (σ = 1), for the test that checks them. */
export const LLOYD_MAX: Record<number, number[]> = {
  2: [0.4528, 1.5104], 3: [0.2451, 0.7560, 1.3439, 2.1520],
  4: [0.1284, 0.3881, 0.6568, 0.9424, 1.2562, 1.6181, 2.0690, 2.7326],
};
export const LEVEL_BITS = [2, 3, 4];

/** Levels (ascending, f32) for b bits. */
export function levels(bits: number): Float32Array {
  const h = HEX[bits];
  if (!h) throw new Error(`Lloyd–Max levels exist for ${LEVEL_BITS.join(', ')} bits, not ${bits}`);
  return new Float32Array(Uint32Array.from(h).buffer);
}
/** Decision thresholds between neighbouring levels: (l[k] + l[k+1]) · 0.5 in f32. The code of v is how many are < v. */
export function thresholds(bits: number): Float32Array {
  const l = levels(bits), m = new Float32Array(l.length - 1);
  for (let k = 0; k < m.length; k++) m[k] = Math.fround(Math.fround(l[k] + l[k + 1]) * 0.5);
  return m;
}
