// Large-model fixtures: synthetic llama GGUFs in the real shapes of Llama-3.2-1B, Llama-3.1-8B and Llama-2-13B with
// llama.cpp's Q4_K_M mix of types and random (but valid, well-scaled) blocks, generated on demand into the cache and
// reused after. Streams: header, then each tensor in ≤ 8 MiB chunks, so memory stays small for 8 GB files.
//   node dist/bench/synth-models.js llama-3.2-1b|llama-3.1-8b|llama-2-13b|tiny [--out DIR] [--seed N] [--force]
// Imports only node: builtins and ../bindings/, so it runs from the compiled dist/ with a bare Node binary.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { cacheDir } from '../bindings/models.js';
import { ggufHeader, GgufHeader, HeaderKv, TensorPlan } from '../bindings/gguf/writer.js';
import { BlockGen, hashName, normWeights, q4kGen, q6kGen, XorShift128 } from './synth-blocks.js';

export const GENERATOR_VERSION = 1;
export const MIX = 'Q4_K_M (llama.cpp): Q4_K matrices; Q6_K output (or tied token_embd), attn_v and ffn_down of use_more_bits layers; F32 norms';

export interface SynthShape {
  layers: number; hidden: number; ffn: number; heads: number; kvHeads: number; vocab: number;
  tied: boolean; ropeBase: number; context: number;
  bos: [number, string]; eos: [number, string]; bytesAt: number; // special tokens; first id of the 256 byte tokens
  realBytes?: number; realName?: string;                        // the real Q4_K_M file, for comparison
}
export const SHAPES: Record<string, SynthShape> = {
  'llama-3.2-1b': { layers: 16, hidden: 2048, ffn: 8192, heads: 32, kvHeads: 8, vocab: 128256, tied: true, ropeBase: 500000, context: 131072,
    bos: [128000, '<|begin_of_text|>'], eos: [128001, '<|end_of_text|>'], bytesAt: 0, realBytes: 807_694_464, realName: 'Llama-3.2-1B-Instruct-Q4_K_M.gguf' },
  'llama-3.1-8b': { layers: 32, hidden: 4096, ffn: 14336, heads: 32, kvHeads: 8, vocab: 128256, tied: false, ropeBase: 500000, context: 131072,
    bos: [128000, '<|begin_of_text|>'], eos: [128001, '<|end_of_text|>'], bytesAt: 0, realBytes: 4_920_734_016, realName: 'Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf' },
  'llama-2-13b': { layers: 40, hidden: 5120, ffn: 13824, heads: 40, kvHeads: 40, vocab: 32000, tied: false, ropeBase: 10000, context: 4096,
    bos: [1, '<s>'], eos: [2, '</s>'], bytesAt: 3, realBytes: 7_865_956_224, realName: 'llama-2-13b.Q4_K_M.gguf' },
  tiny: { layers: 2, hidden: 256, ffn: 768, heads: 8, kvHeads: 2, vocab: 1024, tied: false, ropeBase: 500000, context: 4096,
    bos: [1, '<s>'], eos: [2, '</s>'], bytesAt: 3 },
};

/** llama.cpp's use_more_bits(i, n): the layers whose attn_v / ffn_down Q4_K_M keeps in Q6_K. */
export const useMoreBits = (i: number, n: number): boolean =>
  i < Math.floor(n / 8) || i >= Math.floor((7 * n) / 8) || (i - Math.floor(n / 8)) % 3 === 2;

/** GPT-2's byte → printable code point map (as bindings/tokenizer/bpe.ts decodes it). */
function byteChars(): string[] {
  const keep = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  let extra = 0;
  return Array.from({ length: 256 }, (_, b) => String.fromCodePoint(keep(b) ? b : 256 + extra++));
}

function metadata(name: string, sh: SynthShape): HeaderKv[] {
  const tokens: string[] = [], types: number[] = [];
  const bytes = byteChars();
  for (let i = 0; i < sh.vocab; i++) {
    tokens.push(i >= sh.bytesAt && i < sh.bytesAt + 256 ? bytes[i - sh.bytesAt] : `<synthetic ${i}>`);
    types.push(1);
  }
  if (sh.bytesAt > 0) { tokens[0] = '<unk>'; types[0] = 2; }
  for (const [id, text] of [sh.bos, sh.eos]) { tokens[id] = text; types[id] = 3; }
  const headDim = sh.hidden / sh.heads;
  return [
    ['general.architecture', 'str', 'llama'], ['general.name', 'str', `synthetic ${name} (random weights)`],
    ['general.file_type', 'u32', 15], // LLAMA_FTYPE_MOSTLY_Q4_K_M
    ['llama.block_count', 'u32', sh.layers], ['llama.context_length', 'u32', sh.context], ['llama.embedding_length', 'u32', sh.hidden],
    ['llama.feed_forward_length', 'u32', sh.ffn], ['llama.attention.head_count', 'u32', sh.heads], ['llama.attention.head_count_kv', 'u32', sh.kvHeads],
    ['llama.attention.layer_norm_rms_epsilon', 'f32', 1e-5], ['llama.rope.freq_base', 'f32', sh.ropeBase],
    ['llama.rope.dimension_count', 'u32', headDim], ['llama.vocab_size', 'u32', sh.vocab],
    ['tokenizer.ggml.model', 'str', 'gpt2'], ['tokenizer.ggml.tokens', 'strs', tokens], ['tokenizer.ggml.merges', 'strs', []],
    ['tokenizer.ggml.token_type', 'i32s', types], ['tokenizer.ggml.bos_token_id', 'u32', sh.bos[0]], ['tokenizer.ggml.eos_token_id', 'u32', sh.eos[0]],
    ['tokenizer.ggml.add_bos_token', 'bool', true],
  ];
}

export interface SynthPlan { name: string; shape: SynthShape; tensors: TensorPlan[]; header: GgufHeader; fileBytes: number }

/** The tensor list (llama.cpp names, GGUF dims [row length, rows]), types and file layout, without writing anything. */
export function planSynthetic(name: string): SynthPlan {
  const sh = SHAPES[name];
  if (!sh) throw new Error(`unknown synthetic model "${name}" (known: ${Object.keys(SHAPES).join(', ')})`);
  const E = sh.hidden, KV = (E / sh.heads) * sh.kvHeads, F = sh.ffn, Q4K = 12, Q6K = 14, F32 = 0;
  // llama.cpp: the output matrix is Q6_K; without one, the tied token embedding plays its part and gets Q6_K.
  const t: TensorPlan[] = [{ name: 'token_embd.weight', dims: [E, sh.vocab], type: sh.tied ? Q6K : Q4K }];
  for (let l = 0; l < sh.layers; l++) {
    const p = `blk.${l}.`, more = useMoreBits(l, sh.layers) ? Q6K : Q4K;
    t.push({ name: `${p}attn_norm.weight`, dims: [E], type: F32 },
      { name: `${p}attn_q.weight`, dims: [E, E], type: Q4K }, { name: `${p}attn_k.weight`, dims: [E, KV], type: Q4K },
      { name: `${p}attn_v.weight`, dims: [E, KV], type: more }, { name: `${p}attn_output.weight`, dims: [E, E], type: Q4K },
      { name: `${p}ffn_norm.weight`, dims: [E], type: F32 },
      { name: `${p}ffn_gate.weight`, dims: [E, F], type: Q4K }, { name: `${p}ffn_up.weight`, dims: [E, F], type: Q4K },
      { name: `${p}ffn_down.weight`, dims: [F, E], type: more });
  }
  t.push({ name: 'output_norm.weight', dims: [E], type: F32 });
  if (!sh.tied) t.push({ name: 'output.weight', dims: [E, sh.vocab], type: Q6K });
  const header = ggufHeader(metadata(name, sh), t, 32);
  return { name, shape: sh, tensors: t, header, fileBytes: header.fileBytes };
}

export interface SynthOptions { out?: string; seed?: number; force?: boolean; log?: (line: string) => void }
export interface SynthResult {
  path: string; bytes: number; cached: boolean;
  seconds: number; fillSeconds: number; // wall time in all; of it, making the random blocks (the rest is planning and disk)
  peakRssBytes: number;
}

const CHUNK = 8 << 20; // bytes of blocks per write (≤ 64 MiB; 8 MiB keeps the patch loop in cache)

function writeAll(fd: number, b: Uint8Array): void {
  for (let off = 0; off < b.length;) off += writeSync(fd, b, off, b.length - off);
}

function sidecarOf(plan: SynthPlan, seed: number) {
  return { shape: { name: plan.name, ...plan.shape }, seed, mix: MIX, bytes: plan.fileBytes, generatorVersion: GENERATOR_VERSION };
}

/** Writes (or finds in the cache) the synthetic model `name`; returns where it is and what it cost. */
export function generateSynthetic(name: string, opts: SynthOptions = {}): SynthResult {
  const t0 = performance.now(), seed = (opts.seed ?? 1) >>> 0, log = opts.log ?? (() => {});
  const plan = planSynthetic(name);
  const dir = opts.out ?? `${cacheDir()}/synthetic`;
  const path = `${dir}/${name}.gguf`, side = `${dir}/${name}.json`;
  const want = sidecarOf(plan, seed);
  if (!opts.force && existsSync(path) && existsSync(side) && statSync(path).size === plan.fileBytes) {
    try {
      if (JSON.stringify(JSON.parse(readFileSync(side, 'utf8'))) === JSON.stringify(want))
        return { path, bytes: plan.fileBytes, cached: true, seconds: (performance.now() - t0) / 1000, fillSeconds: 0, peakRssBytes: process.resourceUsage().maxRSS * 1024 };
    } catch { /* unreadable sidecar: regenerate */ }
  }
  mkdirSync(dir, { recursive: true });
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  const words = new Uint32Array(Math.ceil(CHUNK / 4) + 64), buf = new Uint8Array(words.buffer);
  const zeros = new Uint8Array(32);
  let fillMs = 0;
  try {
    const { header, offsets, sizes } = plan.header;
    writeAll(fd, header);
    let pos = 0, shown = 0; // bytes of the data section written; progress shown up to
    plan.tensors.forEach((t, i) => {
      if (offsets[i] > pos) { writeAll(fd, zeros.subarray(0, offsets[i] - pos)); pos = offsets[i]; }
      const rng = new XorShift128(seed, hashName(t.name));
      if (t.type === 0) { writeAll(fd, normWeights(t.dims[0], rng)); pos += sizes[i]; return; }
      const gen: BlockGen = t.type === 12 ? q4kGen(t.dims[0]) : q6kGen(t.dims[0]);
      const perChunk = Math.floor(CHUNK / gen.blockBytes);
      for (let left = sizes[i] / gen.blockBytes; left > 0;) {
        const n = Math.min(perChunk, left);
        const f0 = performance.now();
        gen.fill(buf, words, n, rng);
        fillMs += performance.now() - f0;
        writeAll(fd, buf.subarray(0, n * gen.blockBytes));
        left -= n; pos += n * gen.blockBytes;
      }
      if (pos - shown >= 1e9) { shown = pos; log(`  … ${t.name}: ${(pos / 1e9).toFixed(1)} / ${(plan.header.dataBytes / 1e9).toFixed(1)} GB`); }
    });
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  closeSync(fd);
  const size = statSync(tmp).size;
  if (size !== plan.fileBytes) throw new Error(`${tmp}: wrote ${size} bytes, planned ${plan.fileBytes}`);
  renameSync(tmp, path);
  writeFileSync(side, JSON.stringify(want, null, 1) + '\n');
  return { path, bytes: size, cached: false, seconds: (performance.now() - t0) / 1000, fillSeconds: fillMs / 1000, peakRssBytes: process.resourceUsage().maxRSS * 1024 };
}

/** The path of synthetic model `name` (generated on first use, then cached), for benches and tests. */
export async function ensureSyntheticModel(name: string, opts: SynthOptions = {}): Promise<string> {
  return generateSynthetic(name, opts).path;
}

function main(argv: string[]): void {
  const names: string[] = [], opts: SynthOptions = { log: (l) => console.log(l) };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out') opts.out = argv[++i];
    else if (a === '--seed') opts.seed = Number(argv[++i]);
    else if (a === '--force') opts.force = true;
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else names.push(a);
  }
  if (!names.length || opts.seed !== undefined && !Number.isInteger(opts.seed)) {
    console.error(`usage: node dist/bench/synth-models.js ${Object.keys(SHAPES).join('|')} [--out DIR] [--seed N] [--force]`);
    process.exit(2);
  }
  for (const name of names) {
    const r = generateSynthetic(name, opts), sh = SHAPES[name];
    const gb = (b: number) => `${(b / 1e9).toFixed(3)} GB`;
    console.log(`${r.path}\n  ${r.bytes} bytes (${gb(r.bytes)})${r.cached ? ' cached' : ''}`);
    if (sh.realBytes) console.log(`  real ${sh.realName}: ${gb(sh.realBytes)} (synthetic is ${((r.bytes / sh.realBytes - 1) * 100).toFixed(1)} %)`);
    if (r.cached) continue;
    console.log(`  generated in ${r.seconds.toFixed(1)} s (${(r.bytes / 1e6 / r.seconds).toFixed(0)} MB/s to disk, fsync included), peak RSS ${(r.peakRssBytes / 2 ** 20).toFixed(0)} MiB`);
    console.log(`  random blocks: ${r.fillSeconds.toFixed(1)} s of it (${(r.bytes / 1e6 / r.fillSeconds).toFixed(0)} MB/s); the rest is writing`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try { main(process.argv.slice(2)); } catch (e) { console.error(`synth-models: ${(e as Error).message}`); process.exit(1); }
}
