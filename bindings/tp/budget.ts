// The memory plan, checked before anything is allocated or read: every shard's memory (weights, KV cache for the
// context, activations, codec contexts) must fit one wasm32 memory (4 GiB), and all shards plus the link must fit
// the host's available memory. A refusal names the smallest TP degree that fits.
import { Gguf } from '../gguf/reader.js';
import { ModelConfig } from '../model/config.js';
import { createSharedLink, sharedLinkBytes } from './link.js';
import { linkCaps, MemoryOptions, planShardMemory, ShardMemory } from './memory.js';
import { planShards } from './plan.js';

export const WASM32_MAX_BYTES = 65536 * 65536; // 65 536 pages of 64 KiB

export interface MemoryPlan { tp: number; shards: ShardMemory[]; linkBytes: number; totalBytes: number }

export function planMemory(g: Gguf, cfg: ModelConfig, tp: number, o: MemoryOptions): MemoryPlan {
  const plans = planShards(cfg, tp);
  const shards = plans.map((_, s) => planShardMemory(g, cfg, plans, s, o));
  const caps = linkCaps(cfg, tp, o.maxBatch);
  const linkBytes = tp > 1 ? sharedLinkBytes(tp, caps.all, caps.one) : 0;
  return { tp, shards, linkBytes, totalBytes: shards.reduce((a, s) => a + s.bytes, 0) + linkBytes };
}

const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
const mib = (b: number) => (b >= 2 ** 30 ? gib(b) : `${(b / 2 ** 20).toFixed(0)} MiB`);

/** Plain lines: one per shard, then the link and the total. */
export function describePlan(p: MemoryPlan, context: number): string[] {
  const lines = [`memory plan, TP ${p.tp} (context ${context} tokens):`];
  for (const [s, m] of p.shards.entries()) {
    const b = m.budget;
    lines.push(`  shard ${s}: ${mib(m.bytes)} = weights ${mib(b.weights)} + KV cache ${mib(b.kvCache)} + activations ${mib(b.activations)} + codec ${mib(b.codec)}`);
  }
  if (p.linkBytes) lines.push(`  link (shared between shards): ${mib(p.linkBytes)}`);
  lines.push(`  total: ${mib(p.totalBytes)}`);
  return lines;
}

/** Why this plan cannot run here, or null: a shard over 4 GiB, or more than the host has available. */
export function planProblem(p: MemoryPlan, available: number | null): string | null {
  const worst = p.shards.reduce((a, s) => Math.max(a, s.bytes), 0);
  if (worst > WASM32_MAX_BYTES) return `a shard needs ${gib(worst)}, over the 4 GiB of one wasm32 memory`;
  if (available !== null && p.totalBytes > available) return `the shards need ${gib(p.totalBytes)} in all, the host has ${gib(available)} available`;
  return null;
}

/** The smallest TP degree whose plan fits (tried up to the head count), or null. */
export function smallestFittingTp(g: Gguf, cfg: ModelConfig, o: MemoryOptions, available: number | null, from = 1): number | null {
  for (let tp = from; tp <= cfg.heads; tp++) {
    let p: MemoryPlan;
    try { p = planMemory(g, cfg, tp, o); } catch { continue; } // e.g. a TP degree that leaves a shard without heads
    if (!planProblem(p, available)) return tp;
  }
  return null;
}

/** Bytes this host can give us now (Linux MemAvailable where readable), or null where the runtime can't tell. */
export async function availableMemory(): Promise<number | null> {
  const proc = globalThis.process as (NodeJS.Process & { availableMemory?: () => number }) | undefined;
  if (typeof proc?.versions?.node !== 'string') return null;
  try {
    const { readFileSync } = await import('node:fs');
    const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch { /* not Linux */ }
  if (typeof proc.availableMemory === 'function') return proc.availableMemory();
  try { return (await import('node:os')).freemem(); } catch { return null; }
}

export { createSharedLink };
