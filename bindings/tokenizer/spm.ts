// SentencePiece-style tokenizer from GGUF metadata: tokenizer.ggml.model = "llama" (Gemma 3): spaces become ▁,
// adjacent symbols merge best-score-first (leftmost on ties), unknown characters fall back to <0xXX> byte tokens.
import { SpecialSplitter } from './special.js';

interface Sym { text: string; prev: number; next: number; alive: boolean }

/** Max-heap of candidate merges: higher score first, then leftmost. */
class MergeHeap {
  private a: { score: number; left: number; text: string }[] = [];
  private before(x: { score: number; left: number }, y: { score: number; left: number }): boolean {
    return x.score > y.score || (x.score === y.score && x.left < y.left);
  }
  push(e: { score: number; left: number; text: string }): void {
    const a = this.a; a.push(e);
    for (let i = a.length - 1; i > 0;) { const p = (i - 1) >> 1; if (!this.before(a[i], a[p])) break; [a[i], a[p]] = [a[p], a[i]]; i = p; }
  }
  pop(): { score: number; left: number; text: string } | undefined {
    const a = this.a; if (!a.length) return undefined;
    const top = a[0], last = a.pop()!;
    if (a.length) {
      a[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1, r = l + 1; let m = i;
        if (l < a.length && this.before(a[l], a[m])) m = l;
        if (r < a.length && this.before(a[r], a[m])) m = r;
        if (m === i) break; [a[i], a[m]] = [a[m], a[i]]; i = m;
      }
    }
    return top;
  }
}

export class SpmTokenizer {
  private vocab = new Map<string, number>();
  private byteIds: number[] = new Array(256).fill(-1);
  private specials: SpecialSplitter;
  private encoder = new TextEncoder();

  constructor(readonly tokens: string[], private scores: number[], tokenTypes: number[], readonly addSpacePrefix: boolean) {
    tokens.forEach((t, i) => { if (tokenTypes[i] === 1 || tokenTypes[i] === 6 || !this.vocab.has(t)) this.vocab.set(t, i); });
    tokenTypes.forEach((ty, i) => {
      const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(tokens[i]);
      if (ty === 6 && m) this.byteIds[parseInt(m[1], 16)] = i;
    });
    this.specials = new SpecialSplitter(tokens.map((text, id) => ({ text, id })).filter(({ id }) => tokenTypes[id] === 3 || tokenTypes[id] === 4));
  }

  encode(text: string): number[] {
    const ids: number[] = [];
    let first = true;
    for (const piece of this.specials.split(text)) {
      if ('id' in piece) { ids.push(piece.id); first = false; continue; }
      let t = piece.text.replace(/ /g, '\u2581');
      if (first && this.addSpacePrefix) t = '\u2581' + t;
      first = false;
      this.segment(t, ids);
    }
    return ids;
  }

  private segment(text: string, out: number[]): void {
    const chars = Array.from(text); // code points
    const syms: Sym[] = chars.map((ch, i) => ({ text: ch, prev: i - 1, next: i + 1 < chars.length ? i + 1 : -1, alive: true }));
    const heap = new MergeHeap();
    const tryPair = (l: number) => {
      if (l < 0 || syms[l].next < 0) return;
      const text = syms[l].text + syms[syms[l].next].text;
      const id = this.vocab.get(text);
      if (id !== undefined) heap.push({ score: this.scores[id], left: l, text });
    };
    for (let i = 0; i + 1 < syms.length; i++) tryPair(i);
    for (let e = heap.pop(); e; e = heap.pop()) {
      const L = syms[e.left];
      if (!L.alive || L.next < 0) continue;
      const R = syms[L.next];
      if (L.text + R.text !== e.text) continue; // stale entry: a side merged since
      L.text = e.text; R.alive = false; L.next = R.next;
      if (R.next >= 0) syms[R.next].prev = e.left;
      tryPair(L.prev); tryPair(e.left);
    }
    for (let i = 0; i >= 0 && i < syms.length; i = syms[i].next) {
      const id = this.vocab.get(syms[i].text);
      if (id !== undefined) { out.push(id); continue; }
      for (const b of this.encoder.encode(syms[i].text)) {
        if (this.byteIds[b] < 0) throw new Error(`SPM: no byte token for 0x${b.toString(16)}`);
        out.push(this.byteIds[b]);
      }
    }
  }

  decode(ids: number[]): string {
    const bytes: number[] = [];
    const enc = this.encoder;
    for (const id of ids) {
      const t = this.tokens[id];
      if (t === undefined) continue;
      const b = this.byteIds.indexOf(id);
      if (b >= 0) { bytes.push(b); continue; }
      for (const x of enc.encode(t.replace(/\u2581/g, ' '))) bytes.push(x);
    }
    return new TextDecoder().decode(new Uint8Array(bytes));
  }
}
