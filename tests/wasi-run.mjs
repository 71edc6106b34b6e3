// Runs the WASI build of the kernels' self-check under Node's WASI host (tests/wasi.test.ts reads its output).
import { WASI } from 'node:wasi';
import { readFileSync } from 'node:fs';
const wasi = new WASI({ version: 'preview1', args: [], env: {} });
const { instance } = await WebAssembly.instantiate(readFileSync(new URL('../build/lowbit-wasi.wasm', import.meta.url)), wasi.getImportObject());
wasi.start(instance);
