// Calibration and evaluation end to end, small: text split, task builders, JSONL reader, profile binding
// (another TP degree or model is refused), every metric for a few modes, and the report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Engine } from '../bindings/engine.js';
import { isCalibrationFile, loadCorpus, windows } from '../bindings/eval/corpus.js';
import { choiceItems, clozeItems, parseChoiceJsonl } from '../bindings/eval/tasks.js';
import { calibrate } from '../bindings/calibrate/calibrate.js';
import { profileSites } from '../bindings/calibrate/profile.js';
import { evaluate } from '../bindings/eval/run.js';
import { markdownTable, svgPlot } from '../bindings/eval/report.js';

const corpus = await loadCorpus();

test('calibration and evaluation text come from different files and are large enough', async () => {
  assert.ok(corpus.files.calibration > 0 && corpus.files.evaluation > 0);
  const cal = new Set(corpus.calibration);
  assert.ok(corpus.evaluation.every((p) => !cal.has(p)), 'no paragraph in both sets');
  assert.equal(isCalibrationFile('tutorial/index.rst.txt'), isCalibrationFile('tutorial/index.rst.txt'));
  const e = await Engine.load('smollm2', { tp: 1 });
  const evalTokens = corpus.evaluation.reduce((n, p) => n + e.tok.tokenizer.encode(p).length, 0);
  assert.ok(evalTokens >= 50_000, `evaluation text has ${evalTokens} tokens`);
  assert.equal(windows(corpus.calibration, (t) => e.encode(t, false), 128, 32, 1).length, 32);
  await e.close();
});

test('task builders give at least 500 items each; lm-eval JSONL files are read and checked', () => {
  const cloze = clozeItems(corpus.evaluation, 500, 1), choice = choiceItems(corpus.evaluation, 500, 2);
  assert.equal(cloze.length, 500);
  assert.equal(choice.length, 500);
  assert.ok(cloze.every((c) => /^ [A-Za-z]{4,}$/.test(c.target) && c.context.split(' ').length >= 20));
  assert.ok(choice.every((c) => c.endings.length === 4 && c.gold >= 0 && c.gold < 4));
  const items = parseChoiceJsonl('{"query": "The sky is", "choices": ["blue", "green"], "gold": 0}\n{"ctx": "Two plus two is", "endings": [" five", " four"], "label": 1}\n');
  assert.deepEqual(items[1], { context: 'Two plus two is', endings: [' five', ' four'], gold: 1 });
  assert.throws(() => parseChoiceJsonl('{"query": "x", "choices": ["a"], "gold": 3}'), /line 1/);
  assert.throws(() => parseChoiceJsonl('not json'), /line 1: not JSON/);
});

test('calibrate → profile → evaluate, end to end; a profile for another TP degree or model is refused', async () => {
  const e = await Engine.load('smollm2', { tp: 2, maxBatch: 32 });
  const seqs = windows(corpus.calibration, (t) => e.encode(t, false), 32, 4, 1);
  const profile = await calibrate(e, seqs, 1 / 64);
  const expect = { sha256: await e.modelHash(), tp: 2, layers: e.cfg.layers, hidden: e.cfg.hidden };
  const sites = profileSites(JSON.parse(JSON.stringify(profile)), expect);
  assert.equal(sites.length, 60);
  assert.equal(profile.sites[0].partial[0].outliers.length, 9);
  assert.throws(() => profileSites(profile, { ...expect, tp: 3 }), /made for TP 2, this run uses TP 3/);
  assert.throws(() => profileSites(profile, { ...expect, sha256: 'f'.repeat(64) }), /made for another model/);

  const dir = mkdtempSync(`${tmpdir()}/lbtp-`);
  writeFileSync(`${dir}/mini.jsonl`, '{"query": "The capital of France is", "choices": [" Paris", " a banana"], "gold": 0}\n');
  const data = {
    windows: windows(corpus.evaluation, (t) => e.encode(t, false), 48, 1, 3),
    cloze: clozeItems(corpus.evaluation, 4, 4),
    choice: [{ name: 'choice', items: choiceItems(corpus.evaluation, 4, 5) }, { name: 'mini', items: parseChoiceJsonl(readFileSync(`${dir}/mini.jsonl`, 'utf8')) }],
  };
  const modes = [
    { label: 'exact', mode: 'exact', algorithm: 'all-gather' as const },
    { label: 'paper', mode: 'outlier-int4-static', algorithm: 'all-gather' as const },
    { label: 'paper rs-ag', mode: 'outlier-int4-static', algorithm: 'rs-ag' as const },
    { label: 'random', mode: 'random-int4-static', algorithm: 'all-gather' as const },
  ];
  const res = await evaluate(e, modes, data, sites, 1 / 64);
  await e.close();
  const [exact, paper, paperRs] = res;
  assert.equal(exact.meanKL, 0);
  assert.equal(exact.top1, 1);
  assert.equal(exact.bitsPerValue, 32);
  assert.equal(exact.tasks.mini, 1, 'exact answers the easy JSONL item');
  assert.ok(paper.bitsPerValue > 4.18 && paper.bitsPerValue < 4.6, `paper codec bits ${paper.bitsPerValue}`);
  assert.ok(paperRs.bitsPerValue > 4.18 && paperRs.bitsPerValue < 4.8, `rs-ag bits ${paperRs.bitsPerValue}`);
  for (const r of res) {
    assert.ok(Number.isFinite(r.ppl) && r.ppl > 1 && r.meanKL >= 0 && r.top1 <= 1);
    assert.deepEqual(Object.keys(r.tasks).sort(), ['choice', 'cloze', 'mini']);
    assert.ok(r.scorePct !== undefined);
  }
  const report = { model: 'smollm2', tp: 2, algorithm: 'all-gather', profile: null, items: {}, seconds: 1, results: res };
  assert.match(markdownTable([report]), /\| smollm2 \| 2 \| paper \| all-gather \| 4\.\d\d \|/);
  assert.match(svgPlot([report]), /^<svg[\s\S]*<circle[\s\S]*<\/svg>\n$/);

  // Resume keeps finished modes only when they were made with the same calibration profile.
  const { runEval } = await import('../bindings/commands.js');
  const p1 = `${dir}/p1.json`, p2 = `${dir}/p2.json`, out = `${dir}/eval.json`;
  writeFileSync(p1, JSON.stringify(profile));
  writeFileSync(p2, JSON.stringify({ ...profile, calibration: { ...profile.calibration, source: 'another copy' } }));
  const said: string[] = [];
  const opts = { model: 'smollm2', tp: 2, modes: ['exact', 'outlier-int4-static'], algorithm: 'all-gather' as const, fraction: 1 / 64,
    windows: 1, windowTokens: 32, cloze: 1, choice: 1, jsonl: [], seed: 5, out, say: (m: string) => said.push(m), resume: true };
  const first = await runEval({ ...opts, profile: p1 });
  assert.equal(first.results[1].profileSha256?.length, 64);
  assert.equal(first.results[0].profileSha256, undefined, 'exact uses no profile');
  const again = await runEval({ ...opts, profile: p1 });
  assert.ok(said.some((m) => /resuming: 2 of 2 modes/.test(m)), 'same profile: nothing to redo');
  assert.deepEqual(again.results, first.results);
  const other = await runEval({ ...opts, profile: p2 });
  assert.ok(said.some((m) => /resuming: 1 of 2 modes .*1 made with another calibration profile/.test(m)), said.join('|'));
  assert.notEqual(other.results[1].profileSha256, first.results[1].profileSha256);
});

test('parts of a run evaluated in parallel processes join into one report; parts of different runs do not', async () => {
  const { mergeReports } = await import('../bindings/commands.js');
  const mode = (label: string, mode: string, cloze: number) => ({ label, mode, algorithm: 'all-gather' as const, bitsPerValue: 4, ppl: 10, meanKL: 0.1, top1: 0.9, tasks: { cloze } });
  const run = (results: ReturnType<typeof mode>[], seconds: number, tp = 3) => ({ model: 'smollm2', tp, algorithm: 'all-gather', profile: null, items: { windows: 2, cloze: 10 }, seconds, results });
  const merged = mergeReports([run([mode('outlier-int4-static', 'outlier-int4-static', 0.3)], 5), run([mode('exact', 'exact', 0.4)], 7)]);
  assert.deepEqual(merged.results.map((r) => r.label), ['exact', 'outlier-int4-static'], 'modes in the paper order');
  assert.equal(merged.seconds, 12);
  assert.ok(Math.abs(merged.results[1].scorePct! - 75) < 1e-9, 'score against the exact part');
  assert.throws(() => mergeReports([run([], 1, 3), run([], 1, 2)]), /different models, TP degrees or items/);
  const withProfile = (h: string) => ({ ...mode('outlier-int4-static', 'outlier-int4-static', 0.3), profileSha256: h });
  assert.equal(mergeReports([run([withProfile('aa')], 1), run([mode('exact', 'exact', 0.4)], 1)]).results.length, 2, 'exact needs no profile');
  assert.throws(() => mergeReports([run([withProfile('aa')], 1), run([{ ...withProfile('bb'), label: 'int4-static', mode: 'int4-static' }], 1)]), /different calibration profiles/);
});

test('--text: a user file splits into disjoint calibration and evaluation paragraphs; overlap with another profile text is found', async () => {
  const { textParagraphs, splitText, loadTextCorpus, overlap } = await import('../bindings/eval/text.js');
  const para = (i: number) => `Paragraph number ${i} talks about tensor parallel inference and how shards add their partial sums together.`;
  const text = Array.from({ length: 400 }, (_, i) => para(i)).join('\n\n') + '\n\n' + para(7) + '\n\nshort line\n';
  const dir = mkdtempSync(`${tmpdir()}/lowbit-text-`), file = `${dir}/mine.txt`;
  writeFileSync(file, text);
  assert.equal(textParagraphs(text).length, 401, 'paragraphs of ≥ 8 words, the short line dropped');
  const c = await loadTextCorpus(file);
  assert.equal(c.calibration.length + c.evaluation.length, 400, 'deduplicated');
  assert.ok(c.calibration.length > 20 && c.calibration.length < 90, `about one in eight to calibration: ${c.calibration.length}`);
  assert.equal(overlap(c.calibration, c.evaluation), 0, 'the two parts share no paragraph');
  assert.deepEqual(splitText(textParagraphs(text)), { calibration: c.calibration, evaluation: c.evaluation, files: c.files }, 'the split is stable');
  assert.match(c.sha256, /^[0-9a-f]{64}$/);
  assert.ok(overlap(c.calibration, [...c.evaluation, c.calibration[0]]) === 1, 'a shared paragraph is counted');
  writeFileSync(`${dir}/bad.txt`, new Uint8Array([0xff, 0xfe, 0x00]));
  await assert.rejects(loadTextCorpus(`${dir}/bad.txt`), /not UTF-8/);
  writeFileSync(`${dir}/tiny.txt`, para(1));
  await assert.rejects(loadTextCorpus(`${dir}/tiny.txt`), /too little prose/);
});
