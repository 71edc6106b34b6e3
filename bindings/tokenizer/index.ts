// Picks the tokenizer a GGUF file describes.
import { Gguf, meta } from '../gguf/reader.js';
import { BpeTokenizer } from './bpe.js';
import { SpmTokenizer } from './spm.js';

export interface Tokenizer {
  encode(text: string): number[];
  decode(ids: number[]): string;
  readonly tokens: string[];
}
export interface TokenizerInfo { tokenizer: Tokenizer; bos: number; eos: number; addBos: boolean; eot: number[] }

export function tokenizerFromGguf(g: Gguf): TokenizerInfo {
  const model = meta<string>(g, 'tokenizer.ggml.model');
  const tokens = meta<string[]>(g, 'tokenizer.ggml.tokens');
  const types = meta<number[]>(g, 'tokenizer.ggml.token_type', tokens.map(() => 1));
  let tokenizer: Tokenizer;
  if (model === 'gpt2') tokenizer = new BpeTokenizer(tokens, meta<string[]>(g, 'tokenizer.ggml.merges'), types);
  else if (model === 'llama') tokenizer = new SpmTokenizer(tokens, meta<number[]>(g, 'tokenizer.ggml.scores'), types, meta<boolean>(g, 'tokenizer.ggml.add_space_prefix', true));
  else throw new Error(`unsupported tokenizer model "${model}" (gpt2 and llama are supported)`);
  const eos = Number(meta<number>(g, 'tokenizer.ggml.eos_token_id'));
  // End-of-turn markers of chat models stop generation too.
  const eot = ['<|im_end|>', '<end_of_turn>'].map((t) => tokens.indexOf(t)).filter((i) => i >= 0);
  return {
    tokenizer, eos, eot,
    bos: Number(meta<number>(g, 'tokenizer.ggml.bos_token_id', -1)),
    addBos: meta<boolean>(g, 'tokenizer.ggml.add_bos_token', false),
  };
}
