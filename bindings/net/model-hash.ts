// SHA-256 of a model file, cached in a sidecar next to it (<file>.sha256.json, keyed by size and mtime) so a shard
// does not rehash 8 GB at every start. Where the folder is read-only, the hash is computed and not cached.
import { readFile, stat, writeFile } from 'node:fs/promises';
import { sha256Source } from '../gguf/source.js';

export async function modelSha256(path: string): Promise<string> {
  const st = await stat(path), side = `${path}.sha256.json`;
  try {
    const c = JSON.parse(await readFile(side, 'utf8'));
    if (c.size === st.size && c.mtimeMs === st.mtimeMs && /^[0-9a-f]{64}$/.test(c.sha256)) return c.sha256;
  } catch { /* no sidecar yet */ }
  const sha256 = await sha256Source({ kind: 'path', path });
  try { await writeFile(side, JSON.stringify({ size: st.size, mtimeMs: st.mtimeMs, sha256 })); } catch { /* read-only: not cached */ }
  return sha256;
}
