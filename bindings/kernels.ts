// Loads the AssemblyScript kernels: picks the relaxed-SIMD build where the runtime validates it, else plain SIMD.
// Works in Node, Deno and browsers (bytes from the file system or fetch); the caller supplies the shared memory.

export interface KernelExports {
  encode(ctx: number, src: number, tokens: number, dst: number, dstCap: number, scratch: number, scratchCap: number): number;
  decode(ctx: number, src: number, srcLen: number, dst: number, dstCap: number, acc: number, scratch: number, scratchCap: number): number;
  scratchBytes(features: number): number;
  heapBase(): number;
  [name: string]: unknown;
}

// (module (func (result v128) v128.const 0 ×3, f32x4.relaxed_madd)): validates only where relaxed SIMD exists.
const V128_CONST_ZERO = [0xfd, 0x0c, ...new Array<number>(16).fill(0)];
const PROBE_BODY = [0, ...V128_CONST_ZERO, ...V128_CONST_ZERO, ...V128_CONST_ZERO, 0xfd, 0x85, 0x02, 0x0b];
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,     // magic, version
  1, 5, 1, 0x60, 0, 1, 0x7b,              // type section: () -> v128
  3, 2, 1, 0,                             // function section
  10, PROBE_BODY.length + 2, 1, PROBE_BODY.length, ...PROBE_BODY,
]);

// (module (func (export "f") (result i32) (i32x4.extract_lane 0 (i32x4.relaxed_dot_i8x16_i7x16_add_s
//   (v128.const i8x16 -1 …) (v128.const i8x16 2 …) (v128.const 0))))): the standard gives 4 · (−1 · 2) = −8. Node 20's
// flag-gated early draft validates it but treats the first operand as unsigned, which would corrupt the Q4 GEMV.
const v128Const = (byte: number) => [0xfd, 0x0c, ...new Array<number>(16).fill(byte)];
const DOT_BODY = [0, ...v128Const(0xff), ...v128Const(2), ...v128Const(0), 0xfd, 0x93, 0x02, 0xfd, 0x1b, 0, 0x0b];
const DOT_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
  1, 5, 1, 0x60, 0, 1, 0x7f,              // type section: () -> i32
  3, 2, 1, 0,
  7, 5, 1, 1, 0x66, 0, 0,                 // export "f"
  10, DOT_BODY.length + 2, 1, DOT_BODY.length, ...DOT_BODY,
]);

/** Relaxed SIMD validates and its integer dot product has the standard's signed × 7-bit semantics. */
export function hasRelaxedSimd(): boolean {
  try {
    if (!WebAssembly.validate(RELAXED_PROBE)) return false;
    const f = new WebAssembly.Instance(new WebAssembly.Module(DOT_PROBE)).exports.f as () => number;
    return f() === -8;
  } catch { return false; }
}

/** simd / relaxed: shared-memory builds for threads; single: no shared memory (runtimes without threads). */
export type KernelFlavor = 'simd' | 'relaxed' | 'single';

const moduleCache = new Map<KernelFlavor, WebAssembly.Module>();

async function readBytes(url: URL): Promise<Uint8Array<ArrayBuffer>> {
  if (url.protocol === 'file:') {
    const fs = await import('node:fs/promises'); // Node and Deno both provide node:fs
    return new Uint8Array(await fs.readFile(url));
  }
  const res = await fetch(url);
  if (!res.ok) throw new Error(`could not fetch kernels from ${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

export function kernelUrl(flavor: KernelFlavor): URL {
  // bindings/kernels.ts (source) and dist/bindings/kernels.js (package) sit at different depths.
  const root = import.meta.url.includes('/dist/bindings/') ? '../../' : '../';
  return new URL(`${root}build/lowbit-${flavor}.wasm`, import.meta.url);
}

/** Compile (once per flavor) the kernel module. Defaults to relaxed where the runtime supports it. */
export async function loadKernelModule(flavor: KernelFlavor = hasRelaxedSimd() ? 'relaxed' : 'simd'): Promise<WebAssembly.Module> {
  let mod = moduleCache.get(flavor);
  if (!mod) {
    const url = kernelUrl(flavor);
    let bytes: Uint8Array<ArrayBuffer>;
    try { bytes = await readBytes(url); } catch (e) {
      throw new Error(`kernel file ${url} is missing: run "npm run build" first (${(e as Error).message})`);
    }
    mod = await WebAssembly.compile(bytes);
    moduleCache.set(flavor, mod);
  }
  return mod;
}

export function instantiateKernels(mod: WebAssembly.Module, memory: WebAssembly.Memory): KernelExports {
  const inst = new WebAssembly.Instance(mod, {
    env: {
      memory,
      abort: (_m: number, _f: number, line: number, col: number) => { throw new Error(`kernel abort at ${line}:${col}`); },
    },
  });
  return inst.exports as unknown as KernelExports;
}

/** A shared memory of `bytes` (rounded up to 64 KiB pages), fixed size: growth would strand old views. */
export function sharedMemory(bytes: number, shared = true): WebAssembly.Memory {
  const pages = Math.ceil(bytes / 65536);
  if (pages > 65536) throw new Error(`memory plan needs ${bytes} bytes, over the 4 GiB of wasm32`);
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared });
}

/** What this runtime offers: threads (workers + shared memory) or not (edge runtimes like workerd). */
export function runtimeCaps(): { threads: boolean; sharedMemory: boolean; why: string[] } {
  const why: string[] = [];
  const g = globalThis as { Worker?: unknown; process?: { versions?: { node?: string } }; SharedArrayBuffer?: unknown };
  const workers = typeof g.Worker === 'function' || typeof g.process?.versions?.node === 'string';
  if (!workers) why.push('no Worker (no threads)');
  let shared = typeof g.SharedArrayBuffer === 'function';
  if (shared) { try { new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }); } catch { shared = false; } }
  if (!shared) why.push('no shared WebAssembly memory');
  return { threads: workers && shared, sharedMemory: shared, why };
}
