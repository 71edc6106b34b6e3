// Kernel-level checks of the codec's lane helpers against their scalar twins (docs/wire-format.md §2, §4, §5).
import {
  bf16Down, bf16Lanes, bf16Scalar, bf16Up, codeAt, codeBias, codeLanes, codeScalar, f16Lanes, f16Scalar, fromF16Lanes,
  fromF16Scalar, pack16, unpack16,
} from '../../assembly/codec_lanes';

function lcg(state: u32): u32 { return state * 1664525 + 1013904223; }
const spill = memory.data(16);
/** Lane k of v (lane indices must be constants in wasm, so go through memory). */
function u32Lane(v: v128, k: i32): u32 { v128.store(spill, v); return load<u32>(spill + (k << 2)); }
function u8Lane(v: v128, k: i32): i32 { v128.store(spill, v); return <i32>load<u8>(spill + k); }

describe('16-bit float lanes (§2)', () => {
  it('f16 lanes equal the scalar conversion on every f16 value, both ways', () => {
    let bad = 0;
    for (let h: u32 = 0; h < 65536; h += 4) {
      const v = i32x4(h, h + 1, h + 2, h + 3);
      const f = fromF16Lanes(v);
      const r = f16Lanes(f);
      for (let k = 0; k < 4; k++) {
        const want = fromF16Scalar(h + <u32>k);
        if (u32Lane(f, k) != reinterpret<u32>(want)) bad++;
        // a NaN comes back as the canonical quiet NaN with its sign; every other value round-trips exactly
        if (want == want && f16Scalar(want) != h + <u32>k) bad++;
        if (u32Lane(r, k) != f16Scalar(want)) bad++;
      }
    }
    expect(bad).toBe(0);
  });
  it('f16 and bf16 lanes equal their scalar twins on random f32 bit patterns', () => {
    let s: u32 = 12345;
    let bad = 0;
    for (let i = 0; i < 20000; i++) {
      s = lcg(s);
      const v = i32x4.splat(s);
      if (<u32>i32x4.extract_lane(f16Lanes(v), 0) != f16Scalar(reinterpret<f32>(s))) bad++;
      if (<u32>i32x4.extract_lane(bf16Lanes(v), 0) != bf16Scalar(reinterpret<f32>(s))) bad++;
    }
    expect(bad).toBe(0);
  });
  it('bf16 directed rounding brackets the value', () => {
    let s: u32 = 777;
    let bad = 0;
    for (let i = 0; i < 20000; i++) {
      s = lcg(s);
      const x = reinterpret<f32>(s & 0xff7fffff); // finite
      if (!(reinterpret<f32>(bf16Up(x) << 16) >= x)) bad++;
      if (!(reinterpret<f32>(bf16Down(x) << 16) <= x)) bad++;
    }
    expect(bad).toBe(0);
  });
});

describe('codes (§4) and packing (§5)', () => {
  it('code lanes equal the scalar code, NaN and ±Inf included', () => {
    const vals: f32[] = [0.5, 1.5, 2.5, -0.5, -1.5, 14.5, 15.5, 99.0, -3.0, NaN, Infinity, -Infinity, 7.49999];
    for (let i = 0; i < vals.length; i++) {
      const got = i32x4.extract_lane(codeLanes(f32x4.splat(vals[i]), f32x4.splat(0), f32x4.splat(15), codeBias(0)), 0);
      expect(got).toBe(codeScalar(vals[i], 0, 15));
    }
    expect(codeScalar(2.5, 0, 15)).toBe(2);
    expect(codeScalar(3.5, 0, 15)).toBe(4);
    expect(codeScalar(NaN, 0, 15)).toBe(0);
    expect(codeScalar(NaN, -7, 7)).toBe(-7);
    expect(i32x4.extract_lane(codeLanes(f32x4.splat(-2.5), f32x4.splat(-7), f32x4.splat(7), codeBias(8)), 0)).toBe(6);
  });
  it('pack16 then unpack16 returns the codes for every width', () => {
    const buf = memory.data(64), tmp = memory.data(16);
    const widths: i32[] = [2, 3, 4, 5, 6, 8];
    let s: u32 = 99, bad = 0;
    for (let w = 0; w < widths.length; w++) {
      const bits = widths[w];
      for (let rep = 0; rep < 200; rep++) {
        let c = i8x16.splat(0);
        for (let i = 0; i < 16; i++) { s = lcg(s); store<u8>(tmp + i, <u8>((s >>> 16) & ((1 << bits) - 1))); }
        c = v128.load(tmp);
        memory.fill(buf, 0xaa, 64);
        pack16(c, bits, buf, tmp + 0);
        const back = unpack16(buf, bits, tmp);
        for (let i = 0; i < 16; i++) if (codeAt(buf, i, bits) != u8Lane(c, i) || u8Lane(back, i) != u8Lane(c, i)) bad++;
        if (load<u8>(buf + 2 * bits) != 0xaa) bad++; // wrote exactly 2·bits bytes
      }
    }
    expect(bad).toBe(0);
  });
});
