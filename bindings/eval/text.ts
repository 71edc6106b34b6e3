// A user's own text for calibration and evaluation (`--text FILE`): UTF-8 prose, paragraphs split at blank lines,
// each paragraph assigned by a hash of its words to calibration (about one in eight) or evaluation, deduplicated, so
// the two parts of one file never share a paragraph. A profile records the file's SHA-256; evaluating another file
// against it is checked for paragraphs the calibration part had.
import { Corpus, isCalibrationFile } from './corpus.js';

export interface TextCorpus extends Corpus { file: string; sha256: string }

/** Paragraphs of plain text: blank-line separated, whitespace collapsed, at least `minWords` words. */
export function textParagraphs(text: string, minWords = 8): string[] {
  return text.replace(/\r\n?/g, '\n').split(/\n\s*\n/).map((p) => p.replace(/\s+/g, ' ').trim()).filter((p) => p.split(' ').length >= minWords);
}

/** Split paragraphs into disjoint calibration and evaluation parts (a stable hash of each paragraph decides). */
export function splitText(paragraphs: string[]): Corpus {
  const uniq = [...new Set(paragraphs)];
  const calibration = uniq.filter((p) => isCalibrationFile(p)), evaluation = uniq.filter((p) => !isCalibrationFile(p));
  return { calibration, evaluation, files: { calibration: 1, evaluation: 1 } };
}

export async function loadTextCorpus(file: string): Promise<TextCorpus> {
  const fs = await import('node:fs/promises');
  let bytes: Uint8Array;
  try { bytes = await fs.readFile(file); } catch (e) { throw new Error(`cannot read --text ${file}: ${(e as Error).message}`); }
  let text: string;
  try { text = new TextDecoder('utf-8', { fatal: true }).decode(bytes); } catch { throw new Error(`--text ${file} is not UTF-8 text`); }
  const sha256 = (await import('node:crypto')).createHash('sha256').update(bytes).digest('hex');
  const c = splitText(textParagraphs(text));
  if (!c.calibration.length || !c.evaluation.length)
    throw new Error(`--text ${file} has too little prose (${c.calibration.length} calibration and ${c.evaluation.length} evaluation paragraphs of ≥ 8 words, separated by blank lines)`);
  return { ...c, file, sha256 };
}

/** Paragraphs of `evaluation` that the calibration part of `calibration` also holds (must be none). */
export function overlap(calibration: string[], evaluation: string[]): number {
  const cal = new Set(calibration);
  return evaluation.filter((p) => cal.has(p)).length;
}
