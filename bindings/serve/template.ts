// Chat prompts from the model's own `tokenizer.chat_template` (GGUF metadata), rendered with @huggingface/jinja:
// the maintained Jinja subset that transformers.js uses for the same templates (114 KB of ESM, no dependencies of
// its own; ~10 ms to import), rather than a hand-written renderer that would silently mis-render some template.
import { Template } from '@huggingface/jinja';
import { Gguf, GgufError, meta, parseGguf } from '../gguf/reader.js';
import { MODELS, cacheDir, readModel } from '../models.js';

export interface ChatMeta { template: string | null; bosToken: string; eosToken: string }
export interface ChatMessage { role: string; content: string; name?: string }

/** A request error the server answers with 400 (template refused the conversation, or there is none). */
export class TemplateError extends Error { constructor(message: string) { super(message); this.name = 'TemplateError'; } }

/** The chat-template metadata of a parsed GGUF. */
export function chatMetaOf(g: Gguf): ChatMeta {
  const tokens = meta<string[]>(g, 'tokenizer.ggml.tokens');
  const tok = (key: string) => { const id = Number(g.metadata.get(key) ?? -1); return id >= 0 && id < tokens.length ? tokens[id] : ''; };
  const t = g.metadata.get('tokenizer.chat_template');
  return { template: typeof t === 'string' && t.trim() ? t : null, bosToken: tok('tokenizer.ggml.bos_token_id'), eosToken: tok('tokenizer.ggml.eos_token_id') };
}

/**
 * Chat metadata of a model (name or path, as Engine.load takes it) without reading the whole file: only the
 * header is read (doubling the prefix until it holds all metadata and tensor infos). parseGguf checks tensor
 * extents against the file size, so the header is parsed inside a zero-filled buffer of the file's full size
 * (untouched pages cost nothing); `dataOffset <= prefix` proves every byte it parsed came from the file.
 */
export async function readChatMeta(model: string | Uint8Array): Promise<ChatMeta> {
  if (typeof model !== 'string') return chatMetaOf(parseGguf(model));
  const fs = await import('node:fs/promises');
  const path = MODELS[model] ? `${cacheDir()}/${MODELS[model].file}` : model;
  let fh;
  try { fh = await fs.open(path, 'r'); } catch { return chatMetaOf(parseGguf((await readModel(model)).bytes)); } // readModel names the fix
  try {
    const size = (await fh.stat()).size;
    for (let prefix = 4 << 20; ; prefix *= 2) {
      const n = Math.min(prefix, size), buf = new Uint8Array(size);
      await fh.read(buf, 0, n, 0);
      try {
        const g = parseGguf(buf);
        if (g.dataOffset <= n) return chatMetaOf(g);
      } catch (e) {
        if (n >= size || !(e instanceof GgufError)) throw e;
      }
    }
  } finally { await fh.close(); }
}

export class ChatTemplate {
  private tpl: Template;
  constructor(readonly meta: ChatMeta & { template: string }) {
    try { this.tpl = new Template(meta.template); } catch (e) { throw new Error(`the model's chat template does not parse: ${(e as Error).message}`); }
  }
  /** A template, or null when the model has none. */
  static of(m: ChatMeta): ChatTemplate | null { return m.template ? new ChatTemplate(m as ChatMeta & { template: string }) : null; }

  /** The prompt text for `messages`, ending with the assistant's turn opened (add_generation_prompt). */
  render(messages: ChatMessage[]): string {
    try {
      return this.tpl.render({
        messages, add_generation_prompt: true, bos_token: this.meta.bosToken, eos_token: this.meta.eosToken,
      }); // raise_exception, which templates call to refuse a conversation, is built into @huggingface/jinja
    } catch (e) {
      throw new TemplateError(`the model's chat template refused these messages: ${(e as Error).message}`);
    }
  }
}

/**
 * Token ids of a rendered chat prompt: templates that write bos_token themselves get no second BOS; the others get
 * one when the model asks for it (tokenizer.ggml.add_bos_token), as llama.cpp does.
 */
export function encodeChat(engine: { encode(text: string, withBos?: boolean): number[]; tok: { addBos: boolean } }, text: string, bosToken: string): number[] {
  return engine.encode(text, engine.tok.addBos && !(bosToken && text.startsWith(bosToken)));
}
