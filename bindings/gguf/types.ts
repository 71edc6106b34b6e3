// ggml tensor types this package reads: block size (elements) and block bytes.
export interface GgmlType { name: string; blockSize: number; blockBytes: number }

export const GGML_TYPES = new Map<number, GgmlType>([
  [0, { name: 'F32', blockSize: 1, blockBytes: 4 }],
  [1, { name: 'F16', blockSize: 1, blockBytes: 2 }],
  [2, { name: 'Q4_0', blockSize: 32, blockBytes: 18 }],
  [3, { name: 'Q4_1', blockSize: 32, blockBytes: 20 }],
  [6, { name: 'Q5_0', blockSize: 32, blockBytes: 22 }],
  [7, { name: 'Q5_1', blockSize: 32, blockBytes: 24 }],
  [8, { name: 'Q8_0', blockSize: 32, blockBytes: 34 }],
  [12, { name: 'Q4_K', blockSize: 256, blockBytes: 144 }],
  [13, { name: 'Q5_K', blockSize: 256, blockBytes: 176 }],
  [14, { name: 'Q6_K', blockSize: 256, blockBytes: 210 }],
  [30, { name: 'BF16', blockSize: 1, blockBytes: 2 }],
]);

export function typeInfo(type: number): GgmlType {
  const t = GGML_TYPES.get(type);
  if (!t) throw new Error(`unsupported ggml tensor type ${type}`);
  return t;
}
