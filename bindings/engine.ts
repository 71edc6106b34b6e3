// The engine: plan a model's shards, start one worker per shard (each loads its own slice of the file into its own
// memory), run forwards and gather the vocabulary-parallel logits. The main thread holds no weights.
import { Gguf } from './gguf/reader.js';
import { ModelSource, openSource, readGgufHeader, sha256Source } from './gguf/source.js';
import { configFromGguf, ModelConfig } from './model/config.js';
import { tokenizerFromGguf, TokenizerInfo } from './tokenizer/index.js';
import { planShards } from './tp/plan.js';
import { availableMemory, describePlan, planMemory, planProblem, smallestFittingTp } from './tp/budget.js';
import { createSharedLink } from './tp/link.js';
import { linkCaps, MemoryOptions } from './tp/memory.js';
import { ShardPool } from './tp/pool.js';
import { LocalPool } from './tp/local.js';
import { CommConfig } from './tp/allreduce.js';
import { ForwardResult } from './tp/shard.js';
import type { RemotePool } from './net/remote-pool.js';
import { describePlan as describeAuto } from './tp/cost.js';
import { KernelFlavor, loadKernelModule, sharedMemory, hasRelaxedSimd, runtimeCaps } from './kernels.js';
import { modelSource } from './models.js';

// The TCP pool (node:net, node:crypto) loads only when peers are given; a specifier in a variable keeps bundlers
// (the workerd build) from inlining it and hoisting its Node imports into runtimes that have none.
const NET_POOL = './net/remote-pool.js';

export interface EngineOptions {
  tp?: number; maxBatch?: number; context?: number; flavor?: KernelFlavor;
  /** Worker threads (default: where the runtime has them). Without, one shard runs in the calling thread. */
  threads?: boolean;
  /** A precompiled kernel module, for runtimes that can't compile WebAssembly from bytes (workerd). */
  kernelModule?: WebAssembly.Module;
  callTimeoutMs?: number; barrierTimeoutMs?: number;
  /**
   * Single-token steps multiply int8-quantized activations with the packed weight blocks (as llama.cpp does): less
   * arithmetic per weight, slightly different numbers. Otherwise (default) every matmul is f32 arithmetic on the
   * dequantized weights, bit-identical to an f32 copy of the model. Weights stay packed either way.
   */
  quantizedDecode?: boolean;
  /** 'packed' (default): weights stay in quantized blocks; 'f32': expanded (the reference layout, 3–8× the memory). */
  weights?: 'packed' | 'f32';
  /** Bytes the host can give (default: measured); the plan is refused above it. null: don't check. */
  availableBytes?: number | null;
  progress?: (message: string) => void;
  /**
   * Shards 1… in other processes or hosts (`lowbit-tp shard --listen HOST:PORT`), as HOST:PORT each; shard 0 runs here.
   * TP is then peers + 1. `peerSecret`: the shards' shared secret; `fenceMs`: how long a shard waits for a peer's data.
   */
  peers?: string[]; peerSecret?: string; fenceMs?: number;
}
export interface ForwardOutput { logits: Float32Array; rows: number; bytesSent: number; valuesSent: number; checks: number; mismatches: number }

export class Engine {
  private pos = 0;
  comm: CommConfig | null = null;

  private constructor(readonly cfg: ModelConfig, readonly tok: TokenizerInfo, readonly pool: ShardPool | LocalPool | RemotePool, readonly tp: number,
                      readonly modelId: string, readonly gguf: Gguf, private source: ModelSource, private cap: number,
                      readonly maxBatch: number, private vocabSlices: [number, number][], readonly shardBytes: number[]) {}

  /** `model`: a known name (smollm2, gemma3), a path, a Blob/File (browsers) or the file's bytes. */
  static async load(model: string | Uint8Array | Blob, opts: EngineOptions = {}): Promise<Engine> {
    const say = opts.progress ?? (() => {});
    const t0 = Date.now();
    const { source, name } = await modelSource(model);
    const reader = await openSource(source);
    let g: Gguf;
    try { g = await readGgufHeader(reader); } finally { await reader.close(); }
    const cfg = configFromGguf(g);
    const tok = tokenizerFromGguf(g);
    const tp = opts.tp ?? (opts.peers ? opts.peers.length + 1 : 1);
    const plans = planShards(cfg, tp);
    const caps = runtimeCaps(), threads = opts.threads ?? caps.threads;
    if (threads && !caps.threads) throw new Error(`this runtime can't run shards on threads (${caps.why.join(', ')})`);
    if (!threads && tp > 1) throw new Error(`TP ${tp} needs worker threads, which this runtime lacks (${caps.why.join(', ')}); TP 1 runs in-process`);
    if (!threads && caps.why.length) say(`no threads here (${caps.why.join(', ')}): one shard runs in the calling thread`);
    // Plain SIMD by default: on the 2-core AMD machine it beat relaxed FMA; on a 16-core Xeon with Node 22 relaxed
    // won at 64 tokens (docs/results/). Without shared memory, the 'single' build.
    const flavor = opts.flavor ?? (caps.sharedMemory ? 'simd' : 'single');
    if (flavor === 'relaxed' && !hasRelaxedSimd()) throw new Error('relaxed-SIMD kernels need a runtime with relaxed SIMD (Node ≥ 22, Deno, Chrome ≥ 114)');
    const module = opts.kernelModule ?? await loadKernelModule(flavor);
    // A given module may be either build: whichever memory it links against tells which.
    const probe = (sh: boolean) => (new WebAssembly.Instance(module, { env: { memory: sharedMemory(1 << 20, sh), abort() {} } }).exports.heapBase as () => number)();
    let shared = flavor !== 'single', heapBase: number;
    try { heapBase = probe(shared); } catch (e) { if (!opts.kernelModule) throw e; shared = !shared; heapBase = probe(shared); }
    if (threads && !shared) throw new Error('worker threads need the shared-memory kernel build');

    const context = Math.min(opts.context ?? 2048, cfg.contextLength), maxBatch = opts.maxBatch ?? 64;
    const memory: MemoryOptions = { maxBatch, cap: context, heapBase, packed: (opts.weights ?? 'packed') === 'packed' };
    const plan = planMemory(g, cfg, tp, memory);
    for (const line of describePlan(plan, context)) say(`${line}\n`); // a trailing newline: lines to keep, not progress to redraw
    const available = opts.peers ? null : opts.availableBytes === undefined ? await availableMemory() : opts.availableBytes;
    const problem = planProblem(plan, available);
    if (problem) {
      const fits = smallestFittingTp(g, cfg, memory, available, tp + 1);
      throw new Error(`${name} does not fit at TP ${tp}: ${problem}. ` +
        (fits ? `The smallest TP degree that fits is ${fits} (--tp ${fits})` : 'No TP degree fits this host') +
        `${context > 512 ? `; a shorter --context (now ${context}) shrinks the KV cache` : ''}.`);
    }

    const init = { source, module, shared, cfg, plans, memory, quantizedDecode: opts.quantizedDecode ?? false };
    let shown = -1;
    const loaded = new Array<number>(tp).fill(0), totals = new Array<number>(tp).fill(1);
    const onProgress = (s: number, done: number, total: number) => {
      loaded[s] = done; totals[s] = total;
      const pct = Math.floor((100 * loaded.reduce((a, b) => a + b, 0)) / totals.reduce((a, b) => a + b, 0) / 10) * 10;
      if (pct > shown) { shown = pct; say(`loading weights: ${pct} %`); }
    };
    const pool = opts.peers
      ? await (await import(NET_POOL) as typeof import('./net/remote-pool.js')).RemotePool.start(init, { peers: opts.peers, secret: opts.peerSecret, flavor,
        callTimeoutMs: opts.callTimeoutMs, fenceMs: opts.fenceMs, onProgress, onNote: (m: string) => say(`${m}\n`) })
      : threads
      ? await ShardPool.start(init, createSharedLink(tp, ...Object.values(linkCaps(cfg, tp, maxBatch)) as [number, number]),
        { callTimeoutMs: opts.callTimeoutMs, barrierTimeoutMs: opts.barrierTimeoutMs, onProgress })
      : await LocalPool.start(init, onProgress);
    say(`loaded ${name} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return new Engine(cfg, tok, pool, tp, name, g, source, context, maxBatch, plans.map((p) => p.vocab), plan.shards.map((s) => s.bytes));
  }

  /** Over the network: the link measured at connect and what `auto` chose from it (net/remote-pool.ts); else null. */
  get link(): { rttMs: number; mbps: number; roundMs?: number; auto: string | null } | null {
    const p = this.pool as Partial<RemotePool>;
    return typeof p.link?.rttMs === 'number' ? { rttMs: p.link.rttMs, mbps: p.link.mbps, roundMs: p.link.roundMs, auto: p.autoPlan ? describeAuto(p.autoPlan) : null } : null;
  }

  get position(): number { return this.pos; }
  /** Tokens the KV cache holds (the context this engine was loaded with). */
  get context(): number { return this.cap; }
  reset(): void { this.pos = 0; }
  /** Rewind to `pos` (the cache beyond it is overwritten by what comes next). */
  truncate(pos: number): void { if (pos < 0 || pos > this.pos) throw new Error(`cannot rewind to ${pos}`); this.pos = pos; }

  private hash: string | null = null;
  /** SHA-256 of the model file (streamed): profiles are bound to it. */
  async modelHash(): Promise<string> {
    if (!this.hash) this.hash = await sha256Source(this.source);
    return this.hash;
  }

  async setComm(config: CommConfig | null): Promise<void> {
    const sites = 2 * this.cfg.layers; // checked here too, so a bad list fails before any shard sees it
    if (config?.siteModes && config.siteModes.length !== sites) throw new Error(`siteModes: ${config.siteModes.length} modes for ${sites} sites`);
    await this.pool.all({ op: 'comm', config });
    this.comm = config;
  }

  /**
   * Appends `tokens` to the sequence and runs them (in chunks of maxBatch). Returns logits [rows × vocab] for the
   * new tokens from index `from` on (true: all of them; default: the last one).
   */
  async forward(tokens: number[], from: number | boolean = tokens.length - 1): Promise<ForwardOutput> {
    const { maxBatch, cap } = this, V = this.cfg.vocab;
    if (tokens.length === 0) throw new Error('forward: no tokens');
    if (this.pos + tokens.length > cap) throw new Error(`sequence of ${this.pos + tokens.length} tokens exceeds the context of ${cap} (raise --context, up to ${this.cfg.contextLength})`);
    for (const t of tokens) if (!Number.isInteger(t) || t < 0 || t >= V) throw new Error(`token id ${t} outside the vocabulary of ${V}`);
    const first = from === true ? 0 : from === false ? tokens.length - 1 : Math.max(0, Math.min(from, tokens.length - 1));
    const rowsOut = tokens.length - first;
    const logits = new Float32Array(rowsOut * V);
    let bytesSent = 0, valuesSent = 0, checks = 0, mismatches = 0, row = 0;
    for (let at = 0; at < tokens.length; at += maxBatch) {
      const chunk = Int32Array.from(tokens.slice(at, at + maxBatch)), M = chunk.length;
      const localFrom = Math.min(M, Math.max(0, first - at));
      const res = await this.pool.all<ForwardResult>({ op: 'forward', tokens: chunk, pos0: this.pos, logitsFrom: localFrom });
      this.pos += M;
      for (const r of res) { bytesSent += r.bytesSent; valuesSent += r.valuesSent; checks += r.checks; mismatches += r.mismatches; }
      for (let m = localFrom; m < M; m++, row++) res.forEach((r, s) => {
        const [v0, v1] = this.vocabSlices[s], Vl = v1 - v0;
        logits.set(r.logits!.subarray((m - localFrom) * Vl, (m - localFrom + 1) * Vl), row * V + v0);
      });
    }
    return { logits, rows: rowsOut, bytesSent, valuesSent, checks, mismatches };
  }

  /** Tests: compare every shard's all-reduce result with shard 0's after every site. */
  async verifyIdentity(on: boolean): Promise<void> { await this.pool.all({ op: 'verify', on }); }

  encode(text: string, withBos = this.tok.addBos): number[] {
    const ids = this.tok.tokenizer.encode(text);
    return withBos && this.tok.bos >= 0 ? [this.tok.bos, ...ids] : ids;
  }

  async close(): Promise<void> { await this.pool.close(); }
}
