// A codec as the codec benches run it: for `outlier-…` names E/64 evenly spaced outlier features, for static codecs
// the range ±3 on every feature, and the scratch the all-reduce gives (bindings/tp/allreduce.ts: room for a message's
// byte codes, so -ec reads its stream once).
import { Arena } from '../bindings/arena.js';
import { KernelExports } from '../bindings/kernels.js';
import { CodecContext, makeContext, parseCodec, staticParamsFromRange } from '../bindings/codec/spec.js';
import { SimdCodec } from '../bindings/codec/simd.js';

export function benchCodec(kernels: KernelExports, arena: Arena, name: string, F: number, T: number): { ctx: CodecContext; codec: SimdCodec; outliers: number[] } {
  const spec = parseCodec(name);
  const O = name.startsWith('outlier') ? Math.floor(F / 64) : 0;
  const outliers = Array.from({ length: O }, (_, i) => Math.floor(((i + 0.5) * F) / O));
  const C = spec.codec === 5 ? F - O : F;
  const ctx = makeContext(spec, F, { outliers, ...staticParamsFromRange(new Array(C).fill(-3), new Array(C).fill(3), spec.bits) });
  const scratchCap = kernels.scratchBytes(F) + T * F;
  const codec = new SimdCodec(kernels, arena, ctx, { ptr: arena.alloc(scratchCap), cap: scratchCap });
  return { ctx, codec, outliers };
}
