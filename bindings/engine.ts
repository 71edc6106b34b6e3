// The engine: load a GGUF model, split it over a pool of shard workers that share one memory, run forwards.
import { parseGguf, Gguf } from './gguf/reader.js';
import { configFromGguf, ModelConfig } from './model/config.js';
import { tokenizerFromGguf, TokenizerInfo } from './tokenizer/index.js';
import { planShards } from './tp/plan.js';
import { MatrixName, MemoryMap, planMemory, TENSOR_OF } from './tp/memory.js';
import { loadWeights } from './tp/load.js';
import { ShardPool } from './tp/pool.js';
import { LocalPool } from './tp/local.js';
import { CommConfig } from './tp/allreduce.js';
import { ForwardResult } from './tp/shard.js';
import { KernelFlavor, loadKernelModule, sharedMemory, hasRelaxedSimd, runtimeCaps } from './kernels.js';
import { readModel } from './models.js';

export interface EngineOptions {
  tp?: number; maxBatch?: number; context?: number; flavor?: KernelFlavor;
  /** Worker threads (default: where the runtime has them). Without, one shard runs in the calling thread. */
  threads?: boolean;
  /** A precompiled kernel module, for runtimes that can't compile WebAssembly from bytes (workerd). */
  kernelModule?: WebAssembly.Module;
  callTimeoutMs?: number; barrierTimeoutMs?: number;
  /**
   * Also keep Q4_1 / Q8_0 weight matrices in their GGUF blocks and decode single tokens from them (int8
   * activations, as llama.cpp does): less memory traffic per token, slightly different numbers. Prefill stays f32.
   */
  quantizedDecode?: boolean;
  progress?: (message: string) => void;
}
export interface ForwardOutput { logits: Float32Array; rows: number; bytesSent: number; valuesSent: number; checks: number; mismatches: number }

export class Engine {
  private pos = 0;
  comm: CommConfig | null = null;

  private constructor(readonly cfg: ModelConfig, readonly tok: TokenizerInfo, readonly map: MemoryMap, readonly memory: WebAssembly.Memory,
                      readonly pool: ShardPool | LocalPool, readonly tp: number, readonly modelId: string, readonly gguf: Gguf) {}

  static async load(model: string | Uint8Array, opts: EngineOptions = {}): Promise<Engine> {
    const say = opts.progress ?? (() => {});
    const t0 = Date.now();
    const { bytes, path } = typeof model === 'string' ? await readModel(model) : { bytes: model, path: '(bytes)' };
    const g = parseGguf(bytes);
    const cfg = configFromGguf(g);
    const tok = tokenizerFromGguf(g);
    const tp = opts.tp ?? 1;
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
    const probe = (sh: boolean) => (new WebAssembly.Instance(module, { env: { memory: sharedMemory(65536, sh), abort() {} } }).exports.heapBase as () => number)();
    let shared = flavor !== 'single', heapBase: number;
    try { heapBase = probe(shared); } catch (e) { if (!opts.kernelModule) throw e; shared = !shared; heapBase = probe(shared); }
    if (threads && !shared) throw new Error('worker threads need the shared-memory kernel build');
    const context = Math.min(opts.context ?? 2048, cfg.contextLength);
    const quantTypes = opts.quantizedDecode ? (l: number, m: MatrixName) => g.tensors.get(`blk.${l}.${TENSOR_OF[m]}.weight`)?.type ?? 0 : undefined;
    const map = planMemory(cfg, plans, opts.maxBatch ?? 64, context, heapBase, quantTypes);
    say(`${cfg.arch} ${cfg.layers} layers, hidden ${cfg.hidden}, TP ${tp}: ${(map.bytes / 2 ** 20).toFixed(0)} MiB shared memory, ${flavor} kernels`);
    const memory = sharedMemory(map.bytes, shared);
    loadWeights(g, cfg, map, memory, (done, total) => say(`loading weights: layer ${done}/${total}`));
    const pool = threads
      ? await ShardPool.start({ memory, module, map, cfg }, { callTimeoutMs: opts.callTimeoutMs, barrierTimeoutMs: opts.barrierTimeoutMs })
      : LocalPool.start({ memory, module, map, cfg });
    say(`loaded ${path} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return new Engine(cfg, tok, map, memory, pool, tp, path, g);
  }

  get position(): number { return this.pos; }
  /** Tokens the KV cache holds (the context this engine was loaded with). */
  get context(): number { return this.map.cap; }
  reset(): void { this.pos = 0; }
  /** Rewind to `pos` (the cache beyond it is overwritten by what comes next). */
  truncate(pos: number): void { if (pos < 0 || pos > this.pos) throw new Error(`cannot rewind to ${pos}`); this.pos = pos; }

  private hash: string | null = null;
  /** SHA-256 of the model file: profiles are bound to it. */
  async modelHash(): Promise<string> {
    if (!this.hash) {
      const d = new Uint8Array(await crypto.subtle.digest('SHA-256', this.gguf.bytes as Uint8Array<ArrayBuffer>));
      this.hash = Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
    }
    return this.hash;
  }

  async setComm(config: CommConfig | null): Promise<void> {
    await this.pool.all({ op: 'comm', config });
    this.comm = config;
  }

  /**
   * Appends `tokens` to the sequence and runs them (in chunks of maxBatch). Returns logits [rows × vocab] for the
   * new tokens from index `from` on (true: all of them; default: the last one).
   */
  async forward(tokens: number[], from: number | boolean = tokens.length - 1): Promise<ForwardOutput> {
    const { maxBatch, cap } = this.map, V = this.cfg.vocab;
    if (tokens.length === 0) throw new Error('forward: no tokens');
    if (this.pos + tokens.length > cap) throw new Error(`sequence of ${this.pos + tokens.length} tokens exceeds the context of ${cap} (raise --context, up to ${this.cfg.contextLength})`);
    for (const t of tokens) if (!Number.isInteger(t) || t < 0 || t >= V) throw new Error(`token id ${t} outside the vocabulary of ${V}`);
    const first = from === true ? 0 : from === false ? tokens.length - 1 : Math.max(0, Math.min(from, tokens.length - 1));
    const rowsOut = tokens.length - first;
    const logits = new Float32Array(rowsOut * V);
    let bytesSent = 0, valuesSent = 0, checks = 0, mismatches = 0, row = 0;
    for (let at = 0; at < tokens.length; at += maxBatch) {
      const chunk = tokens.slice(at, at + maxBatch), M = chunk.length;
      new Int32Array(this.memory.buffer, this.map.tokens, M).set(chunk);
      const localFrom = Math.min(M, Math.max(0, first - at));
      const res = await this.pool.all<ForwardResult>({ op: 'forward', M, pos0: this.pos, logitsFrom: localFrom });
      this.pos += M;
      for (const r of res) { bytesSent += r.bytesSent; valuesSent += r.valuesSent; checks += r.checks; mismatches += r.mismatches; }
      for (let m = localFrom; m < M; m++, row++) for (const s of this.map.shards) {
        const src = new Float32Array(this.memory.buffer, s.logits + 4 * (m - localFrom) * s.Vl, s.Vl);
        logits.set(src, row * V + s.plan.vocab[0]);
      }
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
