// The OpenAI request bodies this server accepts, checked field by field, and its error objects.
// Unknown fields are refused (400) rather than ignored, so a client never believes an option took effect.
import { ChatMessage } from './template.js';

/** An error answered as OpenAI does: HTTP status + {error: {message, type, param, code}}. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly type = 'invalid_request_error', readonly param: string | null = null, readonly code: string | null = null) {
    super(message);
  }
  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}
const bad = (message: string, param: string | null = null, code: string | null = 'invalid_value') => new ApiError(400, message, 'invalid_request_error', param, code);

export interface Limits { maxTokens: number; defaultMaxTokens: number }
export interface Sampling { maxTokens: number; temperature: number; topP: number; seed: number; stop: string[]; stream: boolean; includeUsage: boolean }
export interface CompletionRequest extends Sampling { prompt: string | number[] }
export interface ChatRequest extends Sampling { messages: ChatMessage[] }

const COMMON = ['model', 'max_tokens', 'temperature', 'top_p', 'seed', 'stop', 'stream', 'stream_options', 'n', 'user', 'presence_penalty', 'frequency_penalty', 'logprobs'];
const COMPLETION_FIELDS = new Set([...COMMON, 'prompt', 'echo', 'suffix', 'best_of']);
const CHAT_FIELDS = new Set([...COMMON, 'messages', 'max_completion_tokens', 'top_logprobs']);

function object(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('the request body must be a JSON object', null, 'invalid_body');
  return body as Record<string, unknown>;
}
function known(o: Record<string, unknown>, fields: Set<string>): void {
  for (const k of Object.keys(o)) if (!fields.has(k)) throw bad(`Unrecognized request argument supplied: ${k}`, k, 'unknown_parameter');
}
function num(o: Record<string, unknown>, k: string, dflt: number, lo: number, hi: number, integer = false): number {
  const v = o[k];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v))) throw bad(`${k} must be ${integer ? 'an integer' : 'a number'}`, k);
  if (v < lo || v > hi) throw bad(`${k} must be between ${lo} and ${hi}, got ${v}`, k);
  return v;
}
/** Fields that exist in the API but that this server only takes at their neutral value. */
function neutral(o: Record<string, unknown>, k: string, ok: (v: unknown) => boolean, what: string): void {
  if (o[k] !== undefined && o[k] !== null && !ok(o[k])) throw bad(`${k} is not supported by this server (only ${what})`, k, 'unsupported_parameter');
}

function sampling(o: Record<string, unknown>, limits: Limits, tokensKey: string): Sampling {
  if (o.model !== undefined && typeof o.model !== 'string') throw bad('model must be a string', 'model');
  neutral(o, 'n', (v) => v === 1, 'n = 1');
  neutral(o, 'presence_penalty', (v) => v === 0, '0');
  neutral(o, 'frequency_penalty', (v) => v === 0, '0');
  neutral(o, 'logprobs', (v) => v === false, 'false / null');
  neutral(o, 'top_logprobs', (v) => v === 0, '0');
  neutral(o, 'echo', (v) => v === false, 'false');
  neutral(o, 'suffix', (v) => v === '', 'none');
  neutral(o, 'best_of', (v) => v === 1, '1');
  if (o.user !== undefined && typeof o.user !== 'string') throw bad('user must be a string', 'user');
  const maxTokens = num(o, tokensKey, limits.defaultMaxTokens, 1, Number.MAX_SAFE_INTEGER, true);
  if (maxTokens > limits.maxTokens) throw bad(`${tokensKey} is ${maxTokens}; this server allows at most ${limits.maxTokens}`, tokensKey, 'max_tokens_exceeded');
  let stop: string[] = [];
  if (typeof o.stop === 'string') stop = [o.stop];
  else if (Array.isArray(o.stop)) stop = o.stop as string[];
  else if (o.stop !== undefined && o.stop !== null) throw bad('stop must be a string or an array of strings', 'stop');
  if (stop.length > 4 || stop.some((s) => typeof s !== 'string' || s.length === 0 || s.length > 256)) throw bad('stop takes up to 4 non-empty strings of at most 256 characters', 'stop');
  if (o.stream !== undefined && o.stream !== null && typeof o.stream !== 'boolean') throw bad('stream must be a boolean', 'stream');
  const so = o.stream_options;
  if (so !== undefined && so !== null) {
    if (typeof so !== 'object' || Array.isArray(so) || Object.keys(so).some((k) => k !== 'include_usage')) throw bad('stream_options takes only include_usage', 'stream_options');
    if (!o.stream) throw bad('stream_options is only allowed with stream: true', 'stream_options');
  }
  return {
    maxTokens, temperature: num(o, 'temperature', 1, 0, 2), topP: num(o, 'top_p', 1, Number.MIN_VALUE, 1),
    seed: num(o, 'seed', Math.floor(Math.random() * 2 ** 31), -(2 ** 53), 2 ** 53, true), stop, stream: o.stream === true,
    includeUsage: (so as { include_usage?: unknown } | undefined)?.include_usage === true,
  };
}

export function parseCompletion(body: unknown, limits: Limits): CompletionRequest {
  const o = object(body);
  known(o, COMPLETION_FIELDS);
  let prompt: string | number[];
  const p = o.prompt;
  if (typeof p === 'string') prompt = p;
  else if (Array.isArray(p) && p.length === 1 && typeof p[0] === 'string') prompt = p[0];
  else if (Array.isArray(p) && p.length > 0 && p.every((t) => Number.isInteger(t) && (t as number) >= 0)) prompt = p as number[];
  else if (p === undefined) throw bad('prompt is required', 'prompt', 'missing_required_parameter');
  else throw bad('prompt must be a string, an array of one string, or an array of token ids (one prompt per request)', 'prompt');
  if (prompt.length === 0) throw bad('prompt is empty', 'prompt');
  return { prompt, ...sampling(o, limits, 'max_tokens') };
}

export function parseChat(body: unknown, limits: Limits): ChatRequest {
  const o = object(body);
  known(o, CHAT_FIELDS);
  if (!Array.isArray(o.messages) || o.messages.length === 0) throw bad('messages must be a non-empty array', 'messages', o.messages === undefined ? 'missing_required_parameter' : 'invalid_value');
  const messages = o.messages.map((m: unknown, i: number): ChatMessage => {
    const at = `messages[${i}]`;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) throw bad(`${at} must be an object`, at);
    const r = m as Record<string, unknown>;
    for (const k of Object.keys(r)) if (k !== 'role' && k !== 'content' && k !== 'name') throw bad(`Unrecognized argument in ${at}: ${k}`, `${at}.${k}`, 'unknown_parameter');
    if (typeof r.role !== 'string' || !['system', 'developer', 'user', 'assistant'].includes(r.role)) throw bad(`${at}.role must be system, developer, user or assistant`, `${at}.role`);
    let content: string;
    if (typeof r.content === 'string') content = r.content;
    else if (Array.isArray(r.content) && r.content.every((c) => c && typeof c === 'object' && c.type === 'text' && typeof c.text === 'string' && Object.keys(c).length === 2)) content = r.content.map((c) => c.text).join('');
    else throw bad(`${at}.content must be a string or an array of {type: "text", text} parts (this server takes text only)`, `${at}.content`);
    if (r.name !== undefined && typeof r.name !== 'string') throw bad(`${at}.name must be a string`, `${at}.name`);
    // developer is the newer name of system; templates know system
    return { role: r.role === 'developer' ? 'system' : r.role, content, ...(r.name !== undefined ? { name: r.name as string } : {}) };
  });
  const key = o.max_completion_tokens !== undefined ? 'max_completion_tokens' : 'max_tokens';
  if (o.max_completion_tokens !== undefined && o.max_tokens !== undefined) throw bad('give max_tokens or max_completion_tokens, not both', 'max_tokens');
  const s = sampling({ ...o, max_tokens: o[key] }, limits, 'max_tokens');
  return { messages, ...s };
}
