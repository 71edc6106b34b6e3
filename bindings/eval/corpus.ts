// English prose from the Debian package python3.11-doc (reStructuredText sources of the Python documentation),
// reduced to plain paragraphs and split by file into calibration and evaluation sets that never overlap.
import { Rng } from '../util/rng.js';

/** Where python3.11-doc puts the sources; LOWBIT_TP_DOCS points elsewhere (a copy on a machine without the package). */
export const DOC_ROOT = globalThis.process?.env?.LOWBIT_TP_DOCS ?? '/usr/share/doc/python3.11/html/_sources';

export interface Corpus { calibration: string[]; evaluation: string[]; files: { calibration: number; evaluation: number } }

/** Plain text of one reStructuredText source: prose paragraphs only (no code, tables, directives, titles). */
export function proseParagraphs(rst: string): string[] {
  const out: string[] = [];
  for (const block of rst.split(/\n\s*\n/)) {
    const lines = block.split('\n');
    if (lines.some((l) => /^\s/.test(l) || /^\.\.|^[=\-~^"'`#*+]{3,}\s*$|^\+[-=+]+|^\|/.test(l))) continue; // indented, directive, title, table
    const text = lines.join(' ')
      .replace(/:[\w:-]+:`~?!?([^`<]*?)(?:\s*<[^>]*>)?`/g, '$1')   // :role:`text <target>` → text
      .replace(/`([^`<]*?)\s*<[^>]*>`_+/g, '$1')                     // `text <url>`_ → text
      .replace(/``([^`]*)``/g, '$1').replace(/`([^`]*)`_*/g, '$1')
      .replace(/\*\*([^*]+)\*\*/g, '$1').replace(/\*([^*]+)\*/g, '$1')
      .replace(/\s+/g, ' ').replace(/::$/, ':').trim();
    const words = text.split(' ');
    if (words.length < 20 || /[{}\\]|>>>|\$ /.test(text)) continue;
    const letters = text.replace(/[^A-Za-z]/g, '').length;
    if (letters / text.length < 0.7) continue;
    out.push(text);
  }
  return out;
}

/** Stable split by path: about one file in eight goes to calibration. */
export function isCalibrationFile(relPath: string): boolean {
  let h = 2166136261;
  for (let i = 0; i < relPath.length; i++) h = Math.imul(h ^ relPath.charCodeAt(i), 16777619);
  return (h >>> 0) % 8 === 0;
}

export async function loadCorpus(root = DOC_ROOT): Promise<Corpus> {
  const fs = await import('node:fs/promises');
  let files: string[];
  try {
    files = (await fs.readdir(root, { recursive: true })).filter((f) => f.endsWith('.rst.txt')).sort();
  } catch {
    throw new Error(`no evaluation text at ${root}: install the Debian package python3.11-doc (bash scripts/setup.sh does)`);
  }
  const corpus: Corpus = { calibration: [], evaluation: [], files: { calibration: 0, evaluation: 0 } };
  for (const f of files) {
    const paras = proseParagraphs(await fs.readFile(`${root}/${f}`, 'utf8'));
    if (!paras.length) continue;
    const cal = isCalibrationFile(f);
    (cal ? corpus.calibration : corpus.evaluation).push(...paras);
    corpus.files[cal ? 'calibration' : 'evaluation']++;
  }
  // Boilerplate paragraphs recur across files: keep each once, and never in both sets.
  corpus.calibration = [...new Set(corpus.calibration)];
  const cal = new Set(corpus.calibration);
  corpus.evaluation = [...new Set(corpus.evaluation)].filter((p) => !cal.has(p));
  return corpus;
}

/** Token windows of `length` cut from paragraphs joined by blank lines, shuffled reproducibly. */
export function windows(paragraphs: string[], encode: (t: string) => number[], length: number, count: number, seed: number): number[][] {
  const rng = new Rng(seed);
  const order = rng.sample(paragraphs.length, paragraphs.length).map((i) => ({ i, k: rng.next() })).sort((a, b) => a.k - b.k).map((x) => x.i);
  const out: number[][] = [];
  let buf: number[] = [];
  for (const i of order) {
    buf.push(...encode(paragraphs[i] + '\n\n'));
    while (buf.length >= length && out.length < count) { out.push(buf.slice(0, length)); buf = buf.slice(length); }
    if (out.length >= count) break;
  }
  if (out.length < count) throw new Error(`text gives only ${out.length} windows of ${length} tokens, ${count} wanted`);
  return out;
}
