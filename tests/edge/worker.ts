// A workerd (Cloudflare's runtime) worker: no threads, WebAssembly only as precompiled module imports.
// The package must say what is missing, refuse TP 2 clearly, and still run the codec and a one-shard forward.
// Built by tests/edge.test.ts with esbuild; modules come from the generated workerd config.
// @ts-expect-error -- workerd module import
import kernels from 'lowbit-single.wasm';
// @ts-expect-error -- workerd data module
import model from 'model.gguf';
import { Engine, runtimeCaps, makeContext, parseCodec, SimdCodec, Arena, instantiateKernels, sharedMemory, encodeReference } from '../../bindings/index.js';

export default {
  async fetch(): Promise<Response> {
    const caps = runtimeCaps();
    // Codec: the SIMD kernel on non-shared memory, checked against the scalar reference.
    const memory = sharedMemory(1 << 20, false);
    const k = instantiateKernels(kernels as WebAssembly.Module, memory);
    const arena = new Arena(memory, k.heapBase());
    const ctx = makeContext(parseCodec('int4-g32'), 64);
    const codec = new SimdCodec(k, arena, ctx);
    const x = Float32Array.from({ length: 128 }, (_, i) => Math.sin(i));
    const src = arena.alloc(512), dst = arena.alloc(4096);
    arena.f32(src, 128).set(x);
    const n = codec.encode(src, 2, dst, 4096);
    const ref = encodeReference(ctx, x, 2);
    const codecSame = n === ref.length && arena.u8(dst, n).every((b, i) => b === ref[i]);
    let tp2 = '';
    try { await Engine.load(new Uint8Array(model as ArrayBuffer), { tp: 2, kernelModule: kernels as WebAssembly.Module }); } catch (e) { tp2 = (e as Error).message; }
    const e = await Engine.load(new Uint8Array(model as ArrayBuffer), { tp: 1, kernelModule: kernels as WebAssembly.Module });
    const out = await e.forward([1, 2, 3, 4], true);
    await e.close();
    return Response.json({ caps, codecSame, tp2, logits: Array.from(out.logits.subarray(0, 8)), rows: out.rows });
  },
};
