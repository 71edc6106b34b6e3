// Long fuzz runs (issue 6): the GGUF parser and the codec decoder (SIMD kernel, with canaries around its buffers)
// on random and mutated inputs. Allowed outcomes: success or a clean error. Usage: node --import tsx scripts/fuzz.ts [N]
import fc from 'fast-check';
import { parseGguf, GgufError } from '../bindings/gguf/reader.js';
import { writeGguf } from '../bindings/gguf/writer.js';
import { makeContext, parseCodec, staticParamsFromRange } from '../bindings/codec/spec.js';
import { encodeReference } from '../bindings/codec/reference.js';
import { SimdCodec } from '../bindings/codec/simd.js';
import { WireFormatError } from '../bindings/codec/wire.js';
import { Arena } from '../bindings/arena.js';
import { instantiateKernels, loadKernelModule, sharedMemory } from '../bindings/kernels.js';

const N = Number(process.argv[2] ?? 100_000);
const seed = Number(process.env.FUZZ_SEED ?? 42);

// GGUF: mutate a valid small file (bit flips, byte sets, truncation, insertion) or feed random bytes.
const base = writeGguf([['general.architecture', 'str', 'llama'], ['llama.block_count', 'u32', 2], ['tokenizer.ggml.tokens', 'strs', ['a', 'bc', 'def']]],
  [{ name: 'w', dims: [32, 2], type: 8, data: new Uint8Array(68).fill(3) }, { name: 'n', dims: [4], type: 0, data: new Uint8Array(16) }]);
let ok = 0, refused = 0;
const t0 = Date.now();
fc.assert(fc.property(fc.oneof(
  fc.array(fc.tuple(fc.nat(base.length - 1), fc.nat(255)), { minLength: 1, maxLength: 12 }).map((edits) => { const b = base.slice(); for (const [a, v] of edits) b[a] = v; return b; }),
  fc.nat(base.length).map((n) => base.slice(0, n)),
  fc.uint8Array({ maxLength: 512 }).map((r) => { const b = new Uint8Array(base.length + r.length); b.set(base.subarray(0, 40)); b.set(r, 40); b.set(base.subarray(40), 40 + r.length); return b; }),
  fc.uint8Array({ maxLength: 256 }),
), (bytes) => {
  try { parseGguf(bytes); ok++; } catch (e) { if (!(e instanceof GgufError)) throw e; refused++; }
}), { numRuns: N, seed });
console.log(JSON.stringify({ target: 'gguf parser', cases: N, parsed: ok, refused, seconds: (Date.now() - t0) / 1000 }));

// Codec decoder: mutated real blocks of several codecs into a guarded output buffer.
const memory = sharedMemory(64 << 20);
const kernels = instantiateKernels(await loadKernelModule('simd'), memory);
const arena = new Arena(memory, kernels.heapBase());
const bytes = new Uint8Array(memory.buffer);
const F = 96, T = 3, n = F * T, PAD = 256, CANARY = 0xa5;
const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * (i % 17 === 0 ? 20 : 1));
x[7] = NaN;
// codec 7 too: with the NaN a message of the entropy-coded variants (§12, §13) goes as f32, so they see finite values
const finite = x.map((v) => (Number.isNaN(v) ? 0.5 : v));
const cases = ['int4-g32', 'int3-g16-sym', 'outlier-int4-static', 'outlier-int2-g64-idx', 'bf16', 'f16', 'int8-static',
  'rot64-int4-g32', 'rot128-int4-g128-ec', 'rot128-int4-row-ec', 'outlier-rot64-int3-row-ec-k2'].map((name) => {
  const spec = parseCodec(name), C = spec.codec === 5 ? F - 2 : F;
  const ctx = makeContext(spec, F, { outliers: [5, 60], ...staticParamsFromRange(new Array(C).fill(-2), new Array(C).fill(2), spec.bits) });
  return { name, codec: new SimdCodec(kernels, arena, ctx), block: encodeReference(ctx, spec.entropy ? finite : x, T) };
});
const src = arena.alloc(8192), out = arena.alloc(4 * n + 2 * PAD) + PAD;
let decoded = 0, rejected = 0;
const t1 = Date.now();
fc.assert(fc.property(fc.nat(cases.length - 1), fc.array(fc.tuple(fc.nat(4095), fc.nat(255)), { minLength: 1, maxLength: 10 }), fc.nat(2048), (which, edits, cut) => {
  const { codec, block } = cases[which];
  const b = block.slice(0, Math.max(0, block.length - (cut % 64 === 0 ? cut % block.length : 0)));
  for (const [a, v] of edits) if (b.length) b[a % b.length] = v;
  bytes.fill(CANARY, out - PAD, out); bytes.fill(CANARY, out + 4 * n, out + 4 * n + PAD);
  bytes.set(b, src);
  try { codec.decode(src, b.length, out, n, (edits.length & 1) === 1); decoded++; } catch (e) { if (!(e instanceof WireFormatError)) throw e; rejected++; }
  for (let i = 0; i < PAD; i++) if (bytes[out - PAD + i] !== CANARY || bytes[out + 4 * n + i] !== CANARY) throw new Error('decoder wrote outside its output buffer');
}), { numRuns: N, seed });
console.log(JSON.stringify({ target: 'codec decoder (wasm)', cases: N, decoded, rejected, seconds: (Date.now() - t1) / 1000 }));
