// One shard as a device: its own WebAssembly.Memory (weights in packed blocks, KV cache, activations), its own
// kernel instance, and a link to its peers. It loads its slice of the model itself, straight from the file.
// Runs inside a worker thread (tp/worker.ts), or in-process where threads are missing (TP 1).
import { instantiateKernels, KernelExports, sharedMemory } from '../kernels.js';
import { ModelSource, openSource, readGgufHeader } from '../gguf/source.js';
import { ModelConfig } from '../model/config.js';
import { forwardLayers, Kernels, lmHead } from '../model/transformer.js';
import { CommConfig, Communicator } from './allreduce.js';
import { Link, SharedLink, SharedLinkSpec } from './link.js';
import { loadShard, LoadProgress } from './load.js';
import { MemoryOptions, planShardMemory, ShardMemory } from './memory.js';
import { ShardPlan } from './plan.js';

export interface ShardInit {
  source: ModelSource; module: WebAssembly.Module; shared: boolean; cfg: ModelConfig; plans: ShardPlan[]; shard: number;
  memory: MemoryOptions; link: SharedLinkSpec | null; barrierTimeoutMs: number;
  /** Single-token GEMVs on int8 activations against the packed blocks (as llama.cpp); else f32 arithmetic. */
  quantizedDecode: boolean;
}
export interface ForwardResult { bytesSent: number; valuesSent: number; checks: number; mismatches: number; logits: Float32Array | null }

/** A link for one shard alone: never called (TP 1 has nobody to talk to). */
const NO_LINK: Link = {
  rank: 0, size: 1, capAll: 0, capOne: 0,
  send() { throw new Error('TP 1 has no peers'); }, fence() {}, recv() { throw new Error('TP 1 has no peers'); }, abort() {},
};

export class Shard {
  private constructor(private init: ShardInit, readonly mem: ShardMemory, private memory: WebAssembly.Memory,
                      private k: Kernels & KernelExports, readonly comm: Communicator) {}

  /** `link`: a transport made by the caller (the TCP link of bindings/net); default: the SharedLink of init.link. */
  static async create(init: ShardInit, progress?: LoadProgress, link?: Link): Promise<Shard> {
    const reader = await openSource(init.source);
    try {
      const g = await readGgufHeader(reader);
      const mem = planShardMemory(g, init.cfg, init.plans, init.shard, init.memory);
      const memory = sharedMemory(mem.bytes, init.shared);
      const k = instantiateKernels(init.module, memory) as unknown as Kernels & KernelExports;
      await loadShard(reader, g, init.cfg, mem, memory, progress);
      link ??= init.link ? new SharedLink(init.link, init.shard, init.barrierTimeoutMs) : NO_LINK;
      const comm = new Communicator(mem, k, new Uint8Array(memory.buffer), link, 2 * init.cfg.layers);
      return new Shard(init, mem, memory, k, comm);
    } finally { await reader.close(); }
  }

  /** M tokens at positions pos0…; this shard's vocabulary slice of the logits for rows [logitsFrom, M). */
  forward(tokens: Int32Array, pos0: number, logitsFrom: number): ForwardResult {
    const { cfg, quantizedDecode } = this.init, M = tokens.length, s = this.mem;
    if (M > s.maxBatch) throw new Error(`forward of ${M} tokens exceeds the batch of ${s.maxBatch}`);
    const c = this.comm, before = { b: c.bytesSent, v: c.valuesSent, k: c.checks, x: c.mismatches };
    const bytes = new Uint8Array(this.memory.buffer);
    forwardLayers(cfg, s, this.k, bytes, tokens, {
      reduce: (site, partial, m) => c.reduce(site, partial, m),
      reduceExact: (partial, n) => c.exact(partial, n, false),
      shards: s.shards,
    }, pos0, quantizedDecode);
    let logits: Float32Array | null = null;
    if (logitsFrom < M) {
      lmHead(cfg, s, this.k, M, logitsFrom, quantizedDecode);
      logits = new Float32Array(this.memory.buffer, s.logits, (M - logitsFrom) * s.Vl).slice();
    }
    return { bytesSent: c.bytesSent - before.b, valuesSent: c.valuesSent - before.v, checks: c.checks - before.k, mismatches: c.mismatches - before.x, logits };
  }

  configureComm(cfg: CommConfig | null): void { this.comm.configure(cfg); }

  /** Benchmark hook: `reps` all-reduces of M rows of a synthetic partial; returns ms per all-reduce. */
  benchReduce(M: number, reps: number): number {
    const s = this.mem, shard = this.init.shard, E = s.hidden;
    const f32 = new Float32Array(this.memory.buffer, s.partial, M * E);
    for (let i = 0; i < M * E; i++) f32[i] = Math.sin(i * 0.37 + shard) * (i % 97 === 0 ? 30 : 1);
    this.comm.reduce(0, s.partial, M); // warm-up
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) this.comm.reduce((r + 1) % 2, s.partial, M);
    return (performance.now() - t0) / reps;
  }

  /** Bytes this shard's memory occupies (the plan's total). */
  get bytes(): number { return this.mem.bytes; }
}
