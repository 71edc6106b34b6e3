// The browser demo end to end in headless Chromium (Debian chromium + playwright-core): served with the
// cross-origin-isolation headers, the page loads SmolLM2, generates at TP 2 over an int4 all-reduce on Web
// Workers, and shows tokens/s and wire bits/value. A screenshot lands in test-output/browser-demo.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readModel } from '../bindings/models.js';
// @ts-expect-error -- plain ESM helper without types
import { serve } from '../web/serve.mjs';

const CHROMIUM = '/usr/bin/chromium';

test('browser demo: pick the model, generate at TP 2, see tokens/s and bits/value', { skip: !existsSync(CHROMIUM) && 'Debian chromium not installed', timeout: 300_000 }, async () => {
  const { chromium } = await import('playwright-core');
  const { path: modelPath } = await readModel('smollm2');
  const port = 21000 + Math.floor(Math.random() * 20000);
  const server = await serve(port);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 640 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${port}/web/`);
    assert.equal(await page.evaluate(() => self.crossOriginIsolated), true, 'page is cross-origin isolated');
    await page.setInputFiles('#file', modelPath);
    await page.selectOption('#tp', '2');
    await page.selectOption('#comm', 'int4-g32');
    await page.fill('#max', '8');
    await page.click('#run');
    await page.waitForSelector('body[data-done]', { timeout: 240_000 });
    const stats = await page.textContent('#stats');
    const out = await page.textContent('#out');
    mkdirSync(fileURLToPath(new URL('../test-output/', import.meta.url)), { recursive: true });
    await page.screenshot({ path: fileURLToPath(new URL('../test-output/browser-demo.png', import.meta.url)) });
    assert.equal(await page.getAttribute('body', 'data-done'), 'yes', `demo failed: ${stats} ${errors.join('; ')}`);
    assert.match(out ?? '', /^The capital of France is Paris/);
    assert.match(stats ?? '', /decode [\d.]+ tok\/s .* wire 5\.\d\d bits\/value · TP 2 · int4-g32/);
  } finally {
    await browser.close();
    server.close();
  }
});
