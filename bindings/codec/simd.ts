// Thin wrapper over assembly/codec*.ts: lays out the codec context in linear memory and maps error codes.
import { Arena } from '../arena.js';
import { KernelExports } from '../kernels.js';
import { CodecContext, maxEncodedBytes } from './spec.js';
import { WireFormatError } from './wire.js';

const CONTEXT_BYTES = 48; // see CX_* in assembly/codec_layout.ts

export class SimdCodec {
  readonly ctxPtr: number;
  readonly scratchPtr: number;
  readonly scratchCap: number;

  /** `scratch`: a region to share between codecs used by one thread (≥ kernels.scratchBytes(features)). */
  constructor(readonly kernels: KernelExports, readonly arena: Arena, readonly ctx: CodecContext, scratch?: { ptr: number; cap: number }) {
    const F = ctx.features, O = ctx.outliers.length, C = ctx.scale.length;
    this.ctxPtr = arena.alloc(CONTEXT_BYTES);
    const oPtr = arena.alloc(Math.max(4 * O, 4));
    const isOutPtr = arena.alloc(F);
    const scalePtr = arena.alloc(Math.max(4 * C, 4)), minPtr = arena.alloc(Math.max(4 * C, 4)), invPtr = arena.alloc(Math.max(4 * C, 4));
    arena.u32(oPtr, O).set(ctx.outliers);
    arena.u8(isOutPtr, F).set(ctx.isOutlier);
    arena.f32(scalePtr, C).set(ctx.scale); arena.f32(minPtr, C).set(ctx.min); arena.f32(invPtr, C).set(ctx.inv);
    const s = ctx.spec;
    arena.u32(this.ctxPtr, CONTEXT_BYTES / 4).set([s.codec, s.bits, s.groupSize, ctx.flags, F, O, oPtr, scalePtr, minPtr, invPtr, isOutPtr, 0]);
    this.scratchCap = scratch?.cap ?? kernels.scratchBytes(F);
    this.scratchPtr = scratch?.ptr ?? arena.alloc(this.scratchCap);
  }

  maxEncodedBytes(tokens: number): number { return maxEncodedBytes(this.ctx, tokens); }

  /** Encode tokens × features f32 at `src` into `dst`; returns the bytes written. */
  encode(src: number, tokens: number, dst: number, dstCap: number): number {
    const r = this.kernels.encode(this.ctxPtr, src, tokens, dst, dstCap, this.scratchPtr, this.scratchCap);
    if (r < 0) throw new WireFormatError(r, 'encode');
    return r;
  }

  /** Decode (or, with accumulate, add) the block at `src` into `dst`; returns the tokens decoded. */
  decode(src: number, srcLen: number, dst: number, dstCapFloats: number, accumulate: boolean): number {
    const r = this.kernels.decode(this.ctxPtr, src, srcLen, dst, dstCapFloats, accumulate ? 1 : 0, this.scratchPtr, this.scratchCap);
    if (r < 0) throw new WireFormatError(r, 'decode');
    return r;
  }

  /** Raw status for callers that must not throw (workers report codes across threads). */
  decodeStatus(src: number, srcLen: number, dst: number, dstCapFloats: number, accumulate: boolean): number {
    return this.kernels.decode(this.ctxPtr, src, srcLen, dst, dstCapFloats, accumulate ? 1 : 0, this.scratchPtr, this.scratchCap);
  }
}
