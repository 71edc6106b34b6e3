// A bump allocator over one WebAssembly memory. TypeScript owns the memory map; kernels only get pointers.
export const CACHE_LINE = 64;

export class Arena {
  private top: number;
  constructor(readonly memory: WebAssembly.Memory, base: number, readonly limit = memory.buffer.byteLength) {
    this.top = align(base, CACHE_LINE);
  }
  /** Reserve `bytes`, aligned to a cache line so that two shards never share one (no false sharing). */
  alloc(bytes: number, alignTo = CACHE_LINE): number {
    const at = align(this.top, alignTo);
    if (at + bytes > this.limit) throw new Error(`arena: out of memory (${at + bytes} > ${this.limit} bytes planned)`);
    this.top = at + bytes;
    return at;
  }
  get used(): number { return this.top; }
  f32(ptr: number, length: number): Float32Array { return new Float32Array(this.memory.buffer, ptr, length); }
  u8(ptr: number, length: number): Uint8Array { return new Uint8Array(this.memory.buffer, ptr, length); }
  u32(ptr: number, length: number): Uint32Array { return new Uint32Array(this.memory.buffer, ptr, length); }
}

export const align = (x: number, a: number): number => Math.ceil(x / a) * a;
