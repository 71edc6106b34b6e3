// Test helpers: a kernel instance over a fresh shared memory, and byte/bit comparisons.
import { Arena } from '../bindings/arena.js';
import { instantiateKernels, KernelExports, KernelFlavor, loadKernelModule, sharedMemory } from '../bindings/kernels.js';

export interface Rig { kernels: KernelExports; arena: Arena; memory: WebAssembly.Memory }

export async function makeRig(bytes = 64 << 20, flavor: KernelFlavor = 'simd'): Promise<Rig> {
  const memory = sharedMemory(bytes);
  const kernels = instantiateKernels(await loadKernelModule(flavor), memory);
  return { kernels, memory, arena: new Arena(memory, kernels.heapBase()) };
}

/**
 * Bitwise view of f32 data, so -0/+0 and every finite value compare exactly. NaNs compare as one canonical
 * NaN: JavaScript engines may rewrite NaN payloads whenever an f32 passes through a JS number.
 */
export function bitsOf(a: Float32Array): Uint32Array {
  const u = new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
  for (let i = 0; i < u.length; i++) if ((u[i] & 0x7fffffff) > 0x7f800000) u[i] = 0x7fc00000;
  return u;
}
