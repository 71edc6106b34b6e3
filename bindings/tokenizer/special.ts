// Splits text around special tokens (control / user-defined entries of the GGUF vocabulary), longest match first,
// as Hugging Face tokenizers do for added tokens.
export type Piece = { text: string } | { id: number };

export class SpecialSplitter {
  private byFirst = new Map<string, { text: string; id: number }[]>();
  constructor(specials: { text: string; id: number }[]) {
    for (const s of specials) {
      if (!s.text) continue;
      const k = s.text[0];
      if (!this.byFirst.has(k)) this.byFirst.set(k, []);
      this.byFirst.get(k)!.push(s);
    }
    for (const list of this.byFirst.values()) list.sort((a, b) => b.text.length - a.text.length);
  }
  split(text: string): Piece[] {
    const out: Piece[] = [];
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const cands = this.byFirst.get(text[i]);
      if (!cands) continue;
      const hit = cands.find((c) => text.startsWith(c.text, i));
      if (!hit) continue;
      if (i > start) out.push({ text: text.slice(start, i) });
      out.push({ id: hit.id });
      i += hit.text.length - 1;
      start = i + 1;
    }
    if (start < text.length) out.push({ text: text.slice(start) });
    return out;
  }
}
