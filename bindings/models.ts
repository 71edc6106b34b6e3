// Where the models live: the set-up step caches them (scripts/fetch-models.sh); any local .gguf path works too.
import type { ModelSource } from './gguf/source.js';

export const MODELS: Record<string, { file: string; fetch: string }> = {
  smollm2: { file: 'SmolLM2-135M-Instruct.Q4_1.gguf', fetch: 'bash scripts/fetch-models.sh smollm2' },
  gemma3: { file: 'gemma-3-270m-q4_k_m.gguf', fetch: 'bash scripts/fetch-models.sh gemma3' },
};

export function cacheDir(): string {
  const env = globalThis.process?.env ?? {};
  return env.LOWBIT_TP_CACHE ?? `${env.HOME ?? env.USERPROFILE ?? '.'}/.cache/lowbit-tp`;
}

/** Path of a model by name (smollm2, gemma3) or path; a missing model says how to get it. Never reads the file. */
export async function modelPath(nameOrPath: string): Promise<string> {
  const fs = await import('node:fs/promises');
  const known = MODELS[nameOrPath];
  const path = known ? `${cacheDir()}/${known.file}` : nameOrPath;
  try { await fs.access(path); } catch (e) {
    if (known) throw new Error(`model ${nameOrPath} is not downloaded (${path} missing): run "${known.fetch}" or "bash scripts/setup.sh"`);
    throw new Error(`cannot read model file ${path}: ${(e as Error).message}`);
  }
  return path;
}

/** What the shards read the model from: a file (by name or path), a Blob/File, or bytes in memory. */
export async function modelSource(model: string | Uint8Array | Blob): Promise<{ source: ModelSource; name: string }> {
  if (typeof model === 'string') { const path = await modelPath(model); return { source: { kind: 'path', path }, name: path }; }
  if (model instanceof Uint8Array) return { source: { kind: 'bytes', bytes: model }, name: '(bytes)' };
  return { source: { kind: 'blob', blob: model }, name: (model as { name?: string }).name ?? '(blob)' };
}

/** Bytes of a model by name or path (small files only: tests, fixtures). */
export async function readModel(nameOrPath: string): Promise<{ bytes: Uint8Array; path: string }> {
  const path = await modelPath(nameOrPath);
  return { bytes: new Uint8Array(await (await import('node:fs/promises')).readFile(path)), path };
}
