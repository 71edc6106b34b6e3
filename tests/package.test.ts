// The npm package as a user gets it: pack, install the tarball into an empty project, run the CLI, import it as
// ESM from Node, and import it from Deno (Deno from the npm package that ships its binary), where a TP 2
// generation runs on Web Workers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(`${tmpdir()}/lbtp-pkg-`);
// A user's environment: without npm's npm_* variables and without this project's node_modules/.bin on PATH
// (under `npm test` it holds an old npm that as-pect's dependencies bring along).
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
env.PATH = (process.env.PATH ?? '').split(':').filter((p) => !p.includes('node_modules/.bin')).join(':');
const run = (cmd: string, args: string[], cwd = dir) => execFileSync(cmd, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 });

test('npm pack → install in an empty folder → npx lowbit-tp --help and an ESM import work', () => {
  const tarball = run('npm', ['pack', '--silent', '--pack-destination', dir], root).trim().split('\n').pop()!;
  writeFileSync(`${dir}/package.json`, JSON.stringify({ name: 'user-project', private: true, type: 'module' }));
  run('npm', ['install', '--silent', '--no-audit', '--no-fund', `${dir}/${tarball}`]);
  assert.match(run('npx', ['lowbit-tp', '--help']), /usage: lowbit-tp <command>/);
  writeFileSync(`${dir}/use.mjs`, `
    import { parseCodec, makeContext, encodeReference, decodeReference, Engine } from 'lowbit-tp';
    const ctx = makeContext(parseCodec('int4-g32'), 64);
    const x = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i));
    const y = new Float32Array(64);
    decodeReference(ctx, encodeReference(ctx, x, 1), y, false);
    console.log(typeof Engine, Math.max(...x.map((v, i) => Math.abs(v - y[i]))) < 0.1);
  `);
  assert.equal(run('node', ['use.mjs']).trim(), 'function true');
});

test('Deno imports the package and runs a TP 2 generation on Web Workers', { skip: !existsSync(`${root}/node_modules/.bin/deno`) && 'deno not installed' }, () => {
  writeFileSync(`${dir}/deno.mjs`, `
    import { Engine, generate } from './node_modules/lowbit-tp/dist/bindings/index.js';
    const e = await Engine.load('smollm2', { tp: 2 });
    await e.setComm({ mode: 'int8-g32', algorithm: 'all-gather', fraction: 1 / 64 });
    const r = await generate(e, 'The capital of France is', { maxTokens: 3 });
    await e.close();
    console.log(JSON.stringify({ text: r.text, deno: typeof Deno !== 'undefined', bits: r.bitsPerValue }));
  `);
  const out = JSON.parse(run(`${root}/node_modules/.bin/deno`, ['run', '-A', 'deno.mjs']).trim().split('\n').pop()!);
  assert.equal(out.deno, true);
  assert.match(out.text, /Paris/);
  assert.ok(out.bits > 8 && out.bits < 10);
});
