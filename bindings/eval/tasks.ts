// Zero-shot tasks built from the evaluation text (standard sets can't be downloaded here), and a reader for
// lm-eval-style JSONL multiple-choice files for users who have the standard sets.
import { Rng } from '../util/rng.js';

/** Last-word cloze (LAMBADA-like): predict `target` (the passage's final word, with its leading space). */
export interface ClozeItem { context: string; target: string }
/** Multiple choice (HellaSwag-like): which ending follows the context; scored by log-likelihood. */
export interface ChoiceItem { context: string; endings: string[]; gold: number }

const sentences = (p: string): string[] => p.match(/[^.!?]+[.!?]+(\s|$)/g)?.map((s) => s.trim()).filter((s) => s.split(' ').length >= 6) ?? [];

export function clozeItems(paragraphs: string[], count: number, seed: number): ClozeItem[] {
  const rng = new Rng(seed), items: ClozeItem[] = [];
  for (const i of rng.sample(paragraphs.length, paragraphs.length).sort(() => rng.next() - 0.5)) {
    const ss = sentences(paragraphs[i]);
    // Passage: whole sentences ending on a sentence whose last word is a plain word of 4+ letters.
    for (let k = ss.length - 1; k >= 1; k--) {
      const m = /^(.*\s)([A-Za-z]{4,})[.!?]$/.exec(ss[k]);
      if (!m) continue;
      const context = [...ss.slice(0, k), m[1].trimEnd()].join(' ');
      if (context.split(' ').length < 20) continue;
      items.push({ context, target: ` ${m[2]}` });
      break;
    }
    if (items.length >= count) break;
  }
  if (items.length < count) throw new Error(`only ${items.length} cloze items in the evaluation text`);
  return items;
}

export function choiceItems(paragraphs: string[], count: number, seed: number): ChoiceItem[] {
  const rng = new Rng(seed);
  const all = paragraphs.map(sentences);
  const pool = all.flatMap((ss, p) => ss.map((s) => ({ s, p })));
  const items: ChoiceItem[] = [];
  for (const i of rng.sample(paragraphs.length, paragraphs.length).sort(() => rng.next() - 0.5)) {
    const ss = all[i];
    if (ss.length < 3) continue;
    const k = 1 + Math.floor(rng.next() * (ss.length - 1));
    const context = ss.slice(Math.max(0, k - 2), k).join(' '), truth = ss[k];
    const wrong: string[] = [];
    while (wrong.length < 3) { const c = pool[Math.floor(rng.next() * pool.length)]; if (c.p !== i && !wrong.includes(c.s)) wrong.push(c.s); }
    const gold = Math.floor(rng.next() * 4);
    const endings = [...wrong];
    endings.splice(gold, 0, truth);
    items.push({ context, endings: endings.map((e) => ` ${e}`), gold });
    if (items.length >= count) break;
  }
  if (items.length < count) throw new Error(`only ${items.length} choice items in the evaluation text`);
  return items;
}

/**
 * lm-eval-style JSONL: one object per line with a context (`query`, `ctx` or `context`), choices (`choices` or
 * `endings`) and the gold index (`gold` or `label`).
 */
export function parseChoiceJsonl(text: string): ChoiceItem[] {
  return text.split('\n').filter((l) => l.trim()).map((line, n) => {
    let o: Record<string, unknown>;
    try { o = JSON.parse(line); } catch { throw new Error(`JSONL line ${n + 1}: not JSON`); }
    const context = o.query ?? o.ctx ?? o.context, endings = o.choices ?? o.endings, gold = Number(o.gold ?? o.label);
    if (typeof context !== 'string' || !Array.isArray(endings) || endings.some((e) => typeof e !== 'string') || !Number.isInteger(gold) || gold < 0 || gold >= endings.length)
      throw new Error(`JSONL line ${n + 1}: needs query/ctx/context (string), choices/endings (strings) and gold/label (index)`);
    return { context, endings: (endings as string[]).map((e) => (/^\s/.test(e) ? e : ` ${e}`)), gold };
  });
}
