// Where the models live: the set-up step caches them (scripts/fetch-models.sh); any local .gguf path works too.
export const MODELS: Record<string, { file: string; fetch: string }> = {
  smollm2: { file: 'SmolLM2-135M-Instruct.Q4_1.gguf', fetch: 'bash scripts/fetch-models.sh smollm2' },
  gemma3: { file: 'gemma-3-270m-q4_k_m.gguf', fetch: 'bash scripts/fetch-models.sh gemma3' },
};

export function cacheDir(): string {
  const env = globalThis.process?.env ?? {};
  return env.LOWBIT_TP_CACHE ?? `${env.HOME ?? env.USERPROFILE ?? '.'}/.cache/lowbit-tp`;
}

/** Bytes of a model by name (smollm2, gemma3) or path; a missing model says how to get it. */
export async function readModel(nameOrPath: string): Promise<{ bytes: Uint8Array; path: string }> {
  const fs = await import('node:fs/promises');
  const known = MODELS[nameOrPath];
  const path = known ? `${cacheDir()}/${known.file}` : nameOrPath;
  try {
    return { bytes: new Uint8Array(await fs.readFile(path)), path };
  } catch (e) {
    if (known) throw new Error(`model ${nameOrPath} is not downloaded (${path} missing): run "${known.fetch}" or "bash scripts/setup.sh"`);
    throw new Error(`cannot read model file ${path}: ${(e as Error).message}`);
  }
}
