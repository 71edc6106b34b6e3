// workerd (npm package `workerd`): the package detects that threads are missing, says so, refuses TP 2 with a
// clear error, and still runs the SIMD codec and a one-shard forward whose logits equal Node's bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, copyFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { syntheticLlama } from '../bench/synthetic.js';
import { Engine } from '../bindings/engine.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const workerd = `${root}/node_modules/.bin/workerd`;

test('workerd: no threads detected and reported, TP 2 refused, codec and one-shard forward run', { skip: !existsSync(workerd) && 'workerd not installed', timeout: 180_000 }, async () => {
  const dir = mkdtempSync(`${tmpdir()}/lbtp-edge-`);
  const model = syntheticLlama({ layers: 2, hidden: 64, heads: 4, kvHeads: 2, ffn: 128, vocab: 300 }, 7);
  writeFileSync(`${dir}/model.gguf`, model);
  copyFileSync(`${root}/build/lowbit-single.wasm`, `${dir}/lowbit-single.wasm`);
  execFileSync(`${root}/node_modules/.bin/esbuild`, [`${root}/tests/edge/worker.ts`, '--bundle', '--format=esm', '--platform=neutral',
    '--external:lowbit-single.wasm', '--external:model.gguf', '--external:node:*', `--outfile=${dir}/bundle.js`, '--log-level=warning']);
  const port = 20000 + Math.floor(Math.random() * 20000);
  writeFileSync(`${dir}/config.capnp`, `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .w) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const w :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "bundle.js"),
    (name = "lowbit-single.wasm", wasm = embed "lowbit-single.wasm"),
    (name = "model.gguf", data = embed "model.gguf"),
  ],
  compatibilityDate = "2024-09-01",
);
`);
  const proc = spawn(workerd, ['serve', `${dir}/config.capnp`], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (d) => { log += d; });
  try {
    let res: Response | null = null;
    for (let i = 0; i < 100 && !res; i++) {
      try { res = await fetch(`http://127.0.0.1:${port}/`); } catch { await new Promise((r) => setTimeout(r, 100)); }
    }
    assert.ok(res, `workerd did not answer: ${log}`);
    const body = await res.json() as { caps: { threads: boolean; why: string[] }; codecSame: boolean; tp2: string; logits: number[]; rows: number };
    assert.equal(body.caps.threads, false);
    assert.ok(body.caps.why.length > 0, 'says what is missing');
    assert.match(body.tp2, /TP 2 needs worker threads, which this runtime lacks/);
    assert.equal(body.codecSame, true);
    const e = await Engine.load(model, { tp: 1, threads: false, flavor: 'single' });
    const out = await e.forward([1, 2, 3, 4], true);
    await e.close();
    assert.equal(body.rows, 4);
    assert.deepEqual(body.logits, Array.from(out.logits.subarray(0, 8)));
  } finally {
    proc.kill();
  }
});
