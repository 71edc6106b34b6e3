// One shard: a kernel instance over the shared memory, its slice of the model and its communicator.
// Runs inside a worker thread (tp/worker.ts), or in-process where threads are missing (TP 1).
import { instantiateKernels, KernelExports } from '../kernels.js';
import { ModelConfig } from '../model/config.js';
import { forwardLayers, Kernels, lmHead } from '../model/transformer.js';
import { Barrier } from './barrier.js';
import { CommConfig, Communicator } from './allreduce.js';
import { CTRL_INTS, MemoryMap, partialPtr } from './memory.js';

export interface ShardInit {
  memory: WebAssembly.Memory; module: WebAssembly.Module; map: MemoryMap; cfg: ModelConfig; shard: number; barrierTimeoutMs: number;
}
export interface ForwardResult { bytesSent: number; valuesSent: number; checks: number; mismatches: number }

export class Shard {
  private k: Kernels & KernelExports;
  private bytes: Uint8Array;
  readonly comm: Communicator;

  constructor(private init: ShardInit) {
    this.k = instantiateKernels(init.module, init.memory) as unknown as Kernels & KernelExports;
    this.bytes = new Uint8Array(init.memory.buffer);
    const ctrl = new Int32Array(init.memory.buffer, init.map.ctrl, CTRL_INTS);
    const barrier = new Barrier(ctrl, init.map.shards.length, init.barrierTimeoutMs);
    this.comm = new Communicator(init.map, init.shard, this.k, this.bytes, barrier, 2 * init.cfg.layers);
  }

  /** M tokens (already in map.tokens) at positions pos0…; LM-head logits for rows [logitsFrom, M). */
  forward(M: number, pos0: number, logitsFrom: number): ForwardResult {
    const { cfg, map, shard } = this.init, s = map.shards[shard];
    const c = this.comm, before = { b: c.bytesSent, v: c.valuesSent, k: c.checks, x: c.mismatches };
    forwardLayers(cfg, map, s, this.k, this.bytes, (site, partial, m) => this.comm.reduce(site, partial, m), M, pos0);
    if (logitsFrom < M) lmHead(cfg, map, s, this.k, M, logitsFrom);
    return { bytesSent: c.bytesSent - before.b, valuesSent: c.valuesSent - before.v, checks: c.checks - before.k, mismatches: c.mismatches - before.x };
  }

  configureComm(cfg: CommConfig | null): void { this.comm.configure(cfg); }

  /** Benchmark hook: `reps` all-reduces of M rows of the current partial buffers; returns ms per all-reduce. */
  benchReduce(M: number, reps: number): number {
    const { map, shard } = this.init, s = map.shards[shard];
    const f32 = new Float32Array(this.init.memory.buffer);
    for (const site of [0, 1]) {
      const p = partialPtr(map, s, site) / 4;
      for (let i = 0; i < M * map.hidden; i++) f32[p + i] = Math.sin(i * 0.37 + shard) * (i % 97 === 0 ? 30 : 1);
    }
    this.comm.reduce(0, partialPtr(map, s, 0), M); // warm-up
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) this.comm.reduce((r + 1) % 2, partialPtr(map, s, (r + 1) % 2), M);
    return (performance.now() - t0) / reps;
  }
}
