// The demo page's logic: load the picked GGUF into the engine, stream generated tokens, show tokens/s and bits.
import { Engine, generate } from '../dist/bindings/index.js';

const $ = (id) => document.getElementById(id);
const iso = $('iso');
iso.textContent = self.crossOriginIsolated
  ? 'Cross-origin isolated: SharedArrayBuffer and worker threads are available.'
  : 'Not cross-origin isolated: serve with COOP/COEP headers (npm run serve) for threads.';
if (!self.crossOriginIsolated) iso.className = 'warn';

let engine = null, loadedFor = '';
const status = (t) => { $('stats').textContent = t; };
$('file').addEventListener('change', () => { $('run').disabled = !$('file').files.length; });
$('run').addEventListener('click', async () => {
  $('run').disabled = true;
  $('out').textContent = '';
  try {
    const file = $('file').files[0], tp = Number($('tp').value), key = `${file.name}/${file.size}/${tp}`;
    if (loadedFor !== key) {
      if (engine) await engine.close();
      // the File itself: each shard worker reads only its slice of it (no whole-model copy in the page)
      engine = await Engine.load(file, { tp, progress: (m) => status(m) });
      loadedFor = key;
    }
    const comm = $('comm').value;
    await engine.setComm(comm === 'exact' ? null : { mode: comm, algorithm: 'all-gather', fraction: 1 / 64 });
    $('out').textContent = $('prompt').value;
    const r = await generate(engine, $('prompt').value, {
      maxTokens: Number($('max').value),
      onText: (t) => { $('out').textContent += t; status(`generating … ${$('out').textContent.length} chars`); },
    });
    status(`prefill ${r.prefillTokS.toFixed(1)} tok/s · decode ${r.decodeTokS.toFixed(1)} tok/s · ` +
      `${r.ids.length} tokens (${r.stopped}) · wire ${tp > 1 ? r.bitsPerValue.toFixed(2) : 'n/a'} bits/value · TP ${tp} · ${comm}`);
    document.body.dataset.done = 'yes';
  } catch (e) {
    status(`error: ${e.message}`);
    document.body.dataset.done = 'error';
  } finally {
    $('run').disabled = false;
  }
});
