// Kernel entry points of lowbit-tp. Kernels never allocate: bindings/ owns the memory map and passes pointers.
export { encode } from './codec';
export { decode } from './codec_decode';
export { scratchBytes } from './codec_layout';

/** First byte the host may use; everything below holds this module's static data. */
export function heapBase(): usize { return __heap_base; }
export { matmul } from './matmul';
export { rmsnorm, rope, attention, siluMul, geluMul, add, scale } from './layers';
export { quantizeX, gemvQ8_0, gemvQ4_1, gemvQ } from './matmul_q';
export { dequantRows } from './dequant';
export { matmulQ } from './matmul_qgemm';
