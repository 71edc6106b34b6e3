// Byte-level BPE (GPT-2 style) from GGUF metadata: tokenizer.ggml.model = "gpt2" (SmolLM2).
import { SpecialSplitter } from './special.js';

// GPT-2's pre-tokenizer pattern.
const PRETOKENIZE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's reversible map from bytes to printable code points. */
function byteToUnicode(): string[] {
  const keep: number[] = [];
  for (let b = 33; b <= 126; b++) keep.push(b);
  for (let b = 161; b <= 172; b++) keep.push(b);
  for (let b = 174; b <= 255; b++) keep.push(b);
  const map = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) map[b] = String.fromCodePoint(keep.includes(b) ? b : 256 + extra++);
  return map;
}

export class BpeTokenizer {
  private vocab = new Map<string, number>();
  private ranks = new Map<string, number>();
  private byteMap = byteToUnicode();
  private unByte = new Map<string, number>();
  private cache = new Map<string, number[]>();
  private specials: SpecialSplitter;
  private encoder = new TextEncoder();

  constructor(readonly tokens: string[], merges: string[], tokenTypes: number[]) {
    tokens.forEach((t, i) => this.vocab.set(t, i));
    merges.forEach((m, i) => this.ranks.set(m, i));
    this.byteMap.forEach((ch, b) => this.unByte.set(ch, b));
    this.specials = new SpecialSplitter(tokens.map((text, id) => ({ text, id })).filter(({ id }) => tokenTypes[id] === 3 || tokenTypes[id] === 4));
  }

  encode(text: string): number[] {
    const ids: number[] = [];
    for (const piece of this.specials.split(text)) {
      if ('id' in piece) { ids.push(piece.id); continue; }
      for (const m of piece.text.matchAll(PRETOKENIZE)) ids.push(...this.word(m[0]));
    }
    return ids;
  }

  private word(w: string): number[] {
    const hit = this.cache.get(w);
    if (hit) return hit;
    let parts = Array.from(this.encoder.encode(w), (b) => this.byteMap[b]);
    while (parts.length > 1) {
      let best = -1, bestRank = Infinity;
      for (let i = 0; i < parts.length - 1; i++) {
        const r = this.ranks.get(`${parts[i]} ${parts[i + 1]}`);
        if (r !== undefined && r < bestRank) { bestRank = r; best = i; }
      }
      if (best < 0) break;
      const merged = parts[best] + parts[best + 1];
      const next: string[] = [];
      for (let i = 0; i < parts.length; i++) {
        if (i < parts.length - 1 && parts[i] + parts[i + 1] === merged && this.ranks.get(`${parts[i]} ${parts[i + 1]}`) === bestRank) { next.push(merged); i++; }
        else next.push(parts[i]);
      }
      parts = next;
    }
    const ids = parts.map((p) => {
      const id = this.vocab.get(p);
      if (id === undefined) throw new Error(`BPE: piece "${p}" is not in the vocabulary`);
      return id;
    });
    if (this.cache.size < 100_000) this.cache.set(w, ids);
    return ids;
  }

  decode(ids: number[]): string {
    const bytes: number[] = [];
    for (const id of ids) {
      const t = this.tokens[id];
      if (t === undefined) continue;
      for (const ch of t) { const b = this.unByte.get(ch); if (b !== undefined) bytes.push(b); }
    }
    return new TextDecoder().decode(new Uint8Array(bytes));
  }
}
