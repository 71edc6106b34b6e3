// Per-site bit allocation (issue 12 item 2): the allocator against brute force, wire bits against real encoder
// output, `best` / -k<N> names, and end to end: per-site modes in the shards, sensitivities and `best` from a profile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { allocate, errorPower, familyMode, makeAllocation, modeWireBits, SiteOption, siteOptions, stepKind } from '../bindings/calibrate/allocate.js';
import { EC_ROW_TABLES } from '../bindings/codec/entropy-tables.js';
import { BEST_FAMILIES, contextFor, parseCommMode } from '../bindings/calibrate/plan.js';
import { parseCodec } from '../bindings/codec/spec.js';
import { encodeRotated } from '../bindings/codec/rotated.js';
import { COMPACT_SKIP } from '../bindings/codec/compact.js';
import { FeatureRanges } from '../bindings/calibrate/ranges.js';
import { Rng } from '../bindings/util/rng.js';
import { Engine } from '../bindings/engine.js';
import { loadCorpus, windows } from '../bindings/eval/corpus.js';
import { calibrate } from '../bindings/calibrate/calibrate.js';
import { addAllocation, commConfigFor } from '../bindings/commands.js';
import { profileSites } from '../bindings/calibrate/profile.js';

test('allocation: the Lagrangian + fill result is within one step of the brute-force optimum and never over budget', () => {
  const rng = new Rng(7);
  for (let trial = 0; trial < 40; trial++) {
    const n = 2 + (trial % 4), budget = 3 + 3 * rng.next();
    const sens = Array.from({ length: n }, () => Math.exp(-6 * rng.next()));
    const options = siteOptions({ 'rot128-int*-g128': sens, 'outlier-rot128-int*-g128': sens.map((s) => s * rng.next()) }, 4, 576, 1 / 64);
    const { choice, wireBits, predictedKL } = allocate(options, budget);
    assert.ok(wireBits <= budget + 1e-9, `over budget: ${wireBits} > ${budget}`);
    // brute force over every combination
    let best = Infinity;
    const rec = (i: number, cost: number, kl: number) => {
      if (cost > budget * n + 1e-9) return;
      if (i === n) { best = Math.min(best, kl); return; }
      for (const o of options[i]) rec(i + 1, cost + o.cost, kl + o.kl);
    };
    rec(0, 0, 0);
    assert.ok(predictedKL <= 2.5 * best + 1e-12, `trial ${trial}: ${predictedKL} vs optimum ${best}`);
    assert.equal(choice.length, n);
  }
  // the most sensitive site gets the most bits; a budget below the cheapest option is refused
  const opts = siteOptions({ 'rot128-int*-g128': [1e-2, 1e-4, 1e-4, 1e-4] }, 4, 576, 1 / 64);
  const { choice } = allocate(opts, 4.25);
  const bitsOf = (o: SiteOption) => (o.mode === 'exact' ? 32 : parseCodec(o.mode).bits);
  assert.ok(bitsOf(opts[0][choice[0]]) > bitsOf(opts[1][choice[1]]));
  assert.throws(() => allocate(opts, 1.5), /below the cheapest allocation/);
  assert.equal(errorPower(32, 4), 0);
  assert.ok(Math.abs(errorPower(3, 4) - (15 / 7) ** 2) < 1e-12);
});

test('modelled wire bits equal what the encoder writes, less what the compact header saves on the link', () => {
  const E = 576, rows = 8, rng = new Rng(3), x = new Float32Array(rows * E).map(() => rng.normal());
  const r = new FeatureRanges(E); r.update(x, rows);
  for (const mode of ['rot128-int3-g128', 'outlier-rot128-int5-g128', 'outlier-rot128-int4-g128-k2', 'rot128-int8-g128']) {
    const ctx = contextFor(parseCommMode(mode), E, r, 1 / 64);
    const bytes = encodeRotated(ctx, x, rows)!;
    assert.equal(modeWireBits(mode, E, rows, 1 / 64), (8 * (bytes.length - COMPACT_SKIP)) / (rows * E), mode);
  }
  assert.equal(modeWireBits('exact', E, rows, 1 / 64), 32);
  // entropy-coded streams (-ec, wire-format §12, §13) vary with the data: modelled at the table's Gaussian mean length
  for (const mode of ['rot128-int4-g128-ec', 'outlier-rot128-int3-g128-ec-k2', 'rot128-int7-g128-ec', 'rot128-int4-row-ec', 'outlier-rot128-int3-row-ec-k2', 'rot128-int6-row-ec']) {
    const bytes = encodeRotated(contextFor(parseCommMode(mode), E, r, 1 / 64), x, rows)!;
    const got = (8 * (bytes.length - COMPACT_SKIP)) / (rows * E), model = modeWireBits(mode, E, rows, 1 / 64);
    assert.ok(Math.abs(got - model) < 0.05, `${mode}: ${got} bits sent, ${model} modelled`);
  }
  assert.ok(Math.abs(errorPower(3, 4, 'entropy') - (10 / 5) ** 2) < 1e-12);
  // §13: the step is k(b) · RMS, so error power follows k²
  assert.ok(Math.abs(errorPower(3, 4, 'row') - (EC_ROW_TABLES[3].k / EC_ROW_TABLES[4].k) ** 2) < 1e-12);
  assert.equal(stepKind('outlier-rot128-int*-row-ec-k2'), 'row');
  assert.equal(stepKind('rot128-int*-g128-ec'), 'entropy');
  assert.equal(familyMode('rot128-int*-g128', 5), 'rot128-int5-g128');
  assert.equal(familyMode('rot128-int*-g128', 32), 'exact');
});

test('names: best, best:B and -k<N>', () => {
  assert.equal(parseCommMode('best').best, null);
  assert.equal(parseCommMode('best:4.25').best, 4.25);
  assert.throws(() => parseCommMode('best:1'), /2 … 32/);
  assert.throws(() => parseCommMode('bestest'), /best or best:BITS/);
  assert.equal(parseCodec('outlier-rot128-int4-g128-k2').outlierKeep, 2);
  assert.throws(() => parseCodec('rot128-int4-g128-k2'), /outlier- codecs only/);
  const ctx = contextFor(parseCommMode('outlier-rot128-int4-g128-k3'), 576, (() => { const r = new FeatureRanges(576); r.update(new Float32Array(1152).map((_, i) => (i < 576 ? i : 576 - i)), 2); return r; })());
  assert.deepEqual(Array.from(ctx.outliers), [573, 574, 575]);
});

test('per-site modes run in the shards: all exact is bitwise exact; a sensitivity pass and `best` come from the profile', async () => {
  const e = await Engine.load('smollm2', { tp: 2, maxBatch: 32 });
  try {
    const corpus = await loadCorpus();
    const seqs = windows(corpus.calibration, (t) => e.encode(t, false), 16, 2, 1);
    const profile = await calibrate(e, seqs, 1 / 64);
    const sites = profileSites(profile, { sha256: await e.modelHash(), tp: 2, layers: e.cfg.layers, hidden: e.cfg.hidden });
    const n = 2 * e.cfg.layers, ids = seqs[1];
    e.reset(); const exact = await e.forward(ids, true);
    await e.setComm({ mode: 'rot128-int4-g128', siteModes: Array(n).fill('exact'), algorithm: 'all-gather', fraction: 1 / 64, sites });
    e.reset(); const allExact = await e.forward(ids, true);
    assert.deepEqual(allExact.logits, exact.logits, 'every site exact: the exact sum, bit for bit');
    assert.equal((8 * allExact.bytesSent) / allExact.valuesSent, 32);
    const mixed = Array.from({ length: n }, (_, i) => (i % 2 ? 'rot128-int3-g128' : 'exact'));
    await e.setComm({ mode: 'rot128-int4-g128', siteModes: mixed, algorithm: 'all-gather', fraction: 1 / 64, sites });
    await e.verifyIdentity(true);
    e.reset(); const out = await e.forward(ids, true);
    await e.verifyIdentity(false);
    const bits = (8 * out.bytesSent) / out.valuesSent, expectBits = (32 + modeWireBits('rot128-int3-g128', e.cfg.hidden, ids.length, 1 / 64)) / 2;
    assert.ok(Math.abs(bits - expectBits) < 1e-9, `half exact, half 3-bit: ${bits} vs ${expectBits}`);
    assert.equal(out.mismatches, 0, 'shards hold bitwise-identical sums');
    assert.notDeepEqual(out.logits, exact.logits);
    await assert.rejects(e.setComm({ mode: 'exact', siteModes: ['exact'], algorithm: 'all-gather', fraction: 1 / 64, sites }), /siteModes: 1 modes for 60 sites/);

    // sensitivities of every family on one short sequence, the allocation stored in the profile, `best` runs it
    await addAllocation(e, profile, [seqs[0].slice(0, 8)], 4.25, () => {});
    const a = profile.allocation!;
    assert.deepEqual(a.families, BEST_FAMILIES);
    for (const f of BEST_FAMILIES) assert.ok(a.sensitivity[f].length === n && a.sensitivity[f].every((s) => s >= 0 && Number.isFinite(s)));
    assert.ok(a.wireBits <= 4.25 && a.wireBits > 3.5, `allocation wire bits ${a.wireBits}`);
    const dir = mkdtempSync(`${tmpdir()}/lbtp-alloc-`), path = `${dir}/p.json`;
    writeFileSync(path, JSON.stringify(profile));
    const cfg = (await commConfigFor(e, 'smollm2', 'best:5.25', 'all-gather', path, () => {}))!;
    assert.deepEqual(cfg.siteModes, makeAllocation(a.sensitivity, a.probeBits, 5.25, e.cfg.hidden, 1 / 64, a.calibration, a.rows, a.probeWireBits).siteModes);
    for (const f of BEST_FAMILIES) assert.ok(a.probeWireBits![f].every((b) => b > 3 && b < 5), `${f}: measured bits ${a.probeWireBits![f].slice(0, 4)}`);
    assert.deepEqual((await commConfigFor(e, 'smollm2', 'best', 'all-gather', path, () => {}))!.siteModes, a.siteModes);
    await e.setComm(cfg);
    e.reset(); const best = await e.forward(seqs[1], true);
    assert.ok((8 * best.bytesSent) / best.valuesSent <= 5.25 + 0.5, 'best:5.25 stays near its budget (16-token messages pay more header)');
    // a profile without sensitivities gets them on first use of `best`, saved for next time
    delete profile.allocation;
    writeFileSync(path, JSON.stringify(profile));
    const said: string[] = [];
    await commConfigFor(e, 'smollm2', 'best', 'all-gather', path, (m) => said.push(m));
    assert.ok(said.some((m) => /measuring them once/.test(m)));
    assert.ok(JSON.parse(readFileSync(path, 'utf8')).allocation.siteModes.length === n);
  } finally { await e.close(); }
});
