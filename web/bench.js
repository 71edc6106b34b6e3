// Prefill and decode tokens/s in the browser, for bench/peers.bench.ts: lowbit-tp at a TP degree (Web Workers over
// shared memory) and wllama (llama.cpp in WebAssembly) at a thread count, on the same GGUF and the same prompt.
import { Engine } from '../dist/bindings/index.js';

const log = (t) => { document.getElementById('log').textContent += `\n${t}`; };
const modelBlob = async (url) => (await fetch(url)).blob();

/** lowbit-tp: `prompt` token ids prefilled at once, then `decode` single-token steps (greedy not needed for speed). */
window.benchLowbit = async ({ url, tp, comm, prompt, decode, quantizedDecode = false }) => {
  const engine = await Engine.load(await modelBlob(url), { tp, maxBatch: prompt.length, context: prompt.length + decode + 8, quantizedDecode });
  try {
    await engine.setComm(comm === 'exact' ? null : { mode: comm, algorithm: 'all-gather', fraction: 1 / 64 });
    engine.reset(); await engine.forward(prompt.slice(0, 8)); engine.reset(); // warm-up
    let t = performance.now();
    await engine.forward(prompt);
    const pre = performance.now() - t;
    t = performance.now();
    for (let i = 0; i < decode; i++) await engine.forward([prompt[i]]);
    const dec = performance.now() - t;
    log(`lowbit-tp TP ${tp} ${comm}${quantizedDecode ? ' (GGUF-block decode)' : ''}: prefill ${(prompt.length / pre * 1000).toFixed(1)} tok/s, decode ${(decode / dec * 1000).toFixed(1)} tok/s`);
    return { promptTokens: prompt.length, prefillTokS: prompt.length / (pre / 1000), decodeTokS: decode / (dec / 1000) };
  } finally { await engine.close(); }
};

/** wllama: a completion of `decode` tokens (EOS ignored) after `text`; llama.cpp's own timings. */
window.benchWllama = async ({ url, wllamaUrl, wasmUrl, threads, text, decode }) => {
  const { Wllama } = await import(wllamaUrl);
  const w = new Wllama({ default: wasmUrl }, { suppressNativeLog: true });
  await w.loadModel([await modelBlob(url)], { n_threads: threads, n_ctx: 512, n_batch: 512, n_gpu_layers: 0 });
  try {
    const r = await w.createCompletion({ prompt: text, max_tokens: decode, temperature: 0, ignore_eos: true });
    const tm = r.timings;
    log(`wllama ${threads} threads: prefill ${tm.prompt_per_second.toFixed(1)} tok/s, decode ${tm.predicted_per_second.toFixed(1)} tok/s`);
    return { promptTokens: tm.prompt_n, prefillTokS: tm.prompt_per_second, decodeTokS: tm.predicted_per_second, decoded: tm.predicted_n };
  } finally { await w.exit(); }
};
log('ready');
document.body.dataset.ready = 'yes';
