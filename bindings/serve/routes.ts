// The three OpenAI routes: GET /v1/models, POST /v1/completions, POST /v1/chat/completions (streamed or not).
import { ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { generate, GenerateEngine, GenerateResult } from '../generate.js';
import { ApiError, ChatRequest, CompletionRequest, Limits, parseChat, parseCompletion } from './protocol.js';
import { QueueAbortedError, QueueFullError, SlotQueue } from './queue.js';
import { EventStream } from './sse.js';
import { ChatTemplate, encodeChat } from './template.js';

export interface ServeContext {
  engine: GenerateEngine; modelId: string; template: ChatTemplate | null; queue: SlotQueue; limits: Limits;
  /** Set once the engine failed: every request after it gets 503. */
  dead: Error | null;
  log: (line: string) => void;
  created: number;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) { if (!res.destroyed) res.end(); return; }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

const unavailable = (ctx: ServeContext) => new ApiError(503, `the model engine failed (${ctx.dead!.message}); restart the server`, 'server_error', null, 'engine_unavailable');

export function listModels(ctx: ServeContext, res: ServerResponse): void {
  sendJson(res, 200, { object: 'list', data: [{ id: ctx.modelId, object: 'model', created: ctx.created, owned_by: 'lowbit-tp' }] });
}

type Kind = 'completion' | 'chat';

export async function complete(ctx: ServeContext, kind: Kind, body: unknown, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const req = kind === 'chat' ? parseChat(body, ctx.limits) : parseCompletion(body, ctx.limits);
  if (ctx.dead) throw unavailable(ctx);
  const promptIds = tokenize(ctx, kind, req);
  const room = ctx.engine.context - promptIds.length;
  if (room < 1) throw new ApiError(400, `the prompt has ${promptIds.length} tokens; this server's context holds ${ctx.engine.context} (prompt + completion)`, 'invalid_request_error', kind === 'chat' ? 'messages' : 'prompt', 'context_length_exceeded');

  let release: () => void;
  try { release = await ctx.queue.acquire(signal); } catch (e) {
    if (e instanceof QueueAbortedError) return; // the client left while waiting: nothing to answer
    if (e instanceof QueueFullError) throw new ApiError(429, `the server is busy: ${e.message}; retry later`, 'server_error', null, 'queue_full');
    throw ctx.dead ? unavailable(ctx) : e;
  }
  const id = `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID()}`, created = Math.floor(Date.now() / 1000);
  const head = { id, object: kind === 'chat' ? 'chat.completion.chunk' : 'text_completion', created, model: ctx.modelId };
  const piece = (text: string | null, finish: string | null, first = false) => kind === 'chat'
    ? { ...head, choices: [{ index: 0, delta: text === null ? {} : first ? { role: 'assistant', content: text } : { content: text }, logprobs: null, finish_reason: finish }] }
    : { ...head, choices: [{ index: 0, text: text ?? '', logprobs: null, finish_reason: finish }] };
  let stream: EventStream | null = null;
  try {
    if (ctx.dead) throw unavailable(ctx);
    if (req.stream) { stream = new EventStream(res); if (kind === 'chat') stream.send(piece('', null, true)); }
    let r: GenerateResult;
    try {
      r = await generate(ctx.engine, '', {
        promptIds, maxTokens: Math.min(req.maxTokens, room), temperature: req.temperature, topP: req.topP, seed: req.seed,
        stop: req.stop, signal, onText: stream ? (t) => stream!.send(piece(t, null)) : undefined,
      });
    } catch (e) {
      ctx.dead = e as Error;
      ctx.log(`engine failed while serving ${id}: ${(e as Error).message} — answering 503 to this and every later request`);
      ctx.queue.failAll(e as Error);
      throw unavailable(ctx);
    }
    if (r.stopped === 'aborted') { // the client left (nothing to answer), or the drain deadline passed
      if (res.destroyed) return;
      throw new ApiError(503, 'the server is shutting down and stopped this generation', 'server_error', null, 'shutting_down');
    }
    const finish = r.stopped === 'length' ? 'length' : 'stop';
    const usage = { prompt_tokens: promptIds.length, completion_tokens: r.ids.length, total_tokens: promptIds.length + r.ids.length };
    if (stream) {
      stream.send(piece(null, finish));
      if (req.includeUsage) stream.send({ ...head, choices: [], usage });
      stream.end();
    } else if (kind === 'chat') {
      sendJson(res, 200, { ...head, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: r.text }, logprobs: null, finish_reason: finish }], usage });
    } else {
      sendJson(res, 200, { ...head, choices: [{ index: 0, text: r.text, logprobs: null, finish_reason: finish }], usage });
    }
  } catch (e) {
    if (stream) { stream.end(e instanceof ApiError ? e.body() : { error: { message: (e as Error).message, type: 'server_error', param: null, code: null } }); return; }
    throw e;
  } finally {
    release();
  }
}

function tokenize(ctx: ServeContext, kind: Kind, req: CompletionRequest | ChatRequest): number[] {
  const { engine } = ctx;
  if (kind === 'chat') {
    if (!ctx.template) throw new ApiError(400, `model ${ctx.modelId} has no chat template (no tokenizer.chat_template in its GGUF), so /v1/chat/completions cannot format messages; use /v1/completions with your own prompt`, 'invalid_request_error', 'messages', 'no_chat_template');
    let text: string;
    try { text = ctx.template.render((req as ChatRequest).messages); } catch (e) { throw new ApiError(400, (e as Error).message, 'invalid_request_error', 'messages', 'template_error'); }
    return encodeChat(engine, text, ctx.template.meta.bosToken);
  }
  const p = (req as CompletionRequest).prompt;
  if (typeof p === 'string') return engine.encode(p);
  const bad = p.find((t) => t >= engine.cfg.vocab);
  if (bad !== undefined) throw new ApiError(400, `token id ${bad} is outside the vocabulary of ${engine.cfg.vocab}`, 'invalid_request_error', 'prompt', 'invalid_value');
  return p;
}
