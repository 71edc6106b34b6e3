// Serves the repository root on localhost with the cross-origin-isolation headers that SharedArrayBuffer needs.
// Usage: node web/serve.mjs [port]   then open http://127.0.0.1:PORT/web/
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.css': 'text/css' };
/** `mounts` maps extra URL prefixes to folders (the peers bench serves wllama and the model files this way). */
export function serve(port = 8080, mounts = {}) {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    const mount = Object.keys(mounts).find((m) => path.startsWith(m));
    const base = mount ? mounts[mount] : root;
    const file = join(base, mount ? path.slice(mount.length) : path.endsWith('/') ? `${path}index.html` : path);
    if (!file.startsWith(base) || (!mount && !/^\/(web|dist|build)\//.test(path))) { res.writeHead(404).end(); return; }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'Content-Type': types[extname(file)] ?? 'application/octet-stream',
        'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp', 'Cache-Control': 'no-store' });
      res.end(body);
    } catch { res.writeHead(404).end(); }
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2] ?? 8080);
  await serve(port);
  console.log(`lowbit-tp demo: http://127.0.0.1:${port}/web/`);
}
