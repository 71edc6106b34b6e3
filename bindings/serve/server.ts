// The HTTP server of `lowbit-tp serve`. Plain node:http: three JSON routes and server-sent events need no
// framework, and owning the request loop directly is what lets us cap bodies while reading them, see a client
// leave mid-stream (and stop its generation between two tokens), and drain on SIGTERM.
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { createHash, timingSafeEqual } from 'node:crypto';
import { GenerateEngine } from '../generate.js';
import { ApiError } from './protocol.js';
import { complete, listModels, sendJson, ServeContext } from './routes.js';
import { SlotQueue } from './queue.js';
import { ChatTemplate } from './template.js';

export interface ServerOptions {
  modelId: string; template: ChatTemplate | null;
  host?: string; port?: number;
  /** Required unless the host is loopback; clients send it as `Authorization: Bearer KEY`. */
  apiKey?: string;
  maxBodyBytes?: number; maxTokens?: number; defaultMaxTokens?: number; maxQueue?: number;
  log?: (line: string) => void;
}
export interface RunningServer {
  url: string; port: number; server: Server; ctx: ServeContext;
  /** Stop taking requests, let those in flight (running and queued) finish, then close. After `deadlineMs` the rest are stopped (503). */
  drain(deadlineMs?: number): Promise<void>;
}

export const isLoopback = (host: string): boolean => /^(localhost|127(\.\d{1,3}){3}|::1|::ffff:127(\.\d{1,3}){3}|\[::1\])$/i.test(host);

export async function startServer(engine: GenerateEngine, o: ServerOptions): Promise<RunningServer> {
  const host = o.host ?? '127.0.0.1';
  if (!isLoopback(host) && !o.apiKey) throw new Error(`serving on ${host} (not loopback) needs --api-key: anyone who reaches the port could use the model`);
  const maxBody = o.maxBodyBytes ?? 1 << 20;
  const maxTokens = Math.min(o.maxTokens ?? 1024, engine.context);
  const ctx: ServeContext = {
    engine, modelId: o.modelId, template: o.template, queue: new SlotQueue(o.maxQueue ?? 64),
    limits: { maxTokens, defaultMaxTokens: Math.min(o.defaultMaxTokens ?? 256, maxTokens) },
    dead: null, log: o.log ?? ((l) => console.error(`lowbit-tp serve: ${l}`)), created: Math.floor(Date.now() / 1000),
  };
  const keyHash = o.apiKey ? createHash('sha256').update(o.apiKey).digest() : null;
  const inflight = new Map<AbortController, Promise<void>>();
  let draining = false;

  const handle = async (req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> => {
    if (draining) { res.setHeader('Connection', 'close'); throw new ApiError(503, 'the server is shutting down', 'server_error', null, 'shutting_down'); }
    const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/\/+$/, '');
    if (path === '/health') return sendJson(res, ctx.dead ? 503 : 200, { status: ctx.dead ? 'engine failed' : 'ok', running: ctx.queue.running, queued: ctx.queue.queued });
    if (keyHash) {
      const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
      if (!m || !timingSafeEqual(createHash('sha256').update(m[1].trim()).digest(), keyHash)) throw new ApiError(401, 'Incorrect API key provided (send it as "Authorization: Bearer KEY")', 'invalid_request_error', null, 'invalid_api_key');
    }
    const route = ({ '/v1/models': 'GET', '/v1/completions': 'POST', '/v1/chat/completions': 'POST' } as Record<string, string>)[path];
    if (!route) throw new ApiError(404, `no route ${req.method} ${path} (this server has GET /v1/models, POST /v1/completions, POST /v1/chat/completions)`, 'invalid_request_error', null, 'unknown_url');
    if (req.method !== route) { res.setHeader('Allow', route); throw new ApiError(405, `${path} takes ${route}, not ${req.method}`, 'invalid_request_error', null, 'method_not_allowed'); }
    if (route === 'GET') return listModels(ctx, res);
    const body = await readJson(req, res, maxBody);
    await complete(ctx, path === '/v1/chat/completions' ? 'chat' : 'completion', body, res, signal);
  };

  const server = createServer((req, res) => {
    const ac = new AbortController();
    // A client that disconnects before its answer is complete frees its slot: queued, it leaves the queue; running,
    // its generation stops before the next token.
    res.on('close', () => { if (!res.writableFinished) ac.abort(); });
    const done = handle(req, res, ac.signal).catch((e) => {
      if (!(e instanceof ApiError)) { ctx.log(`internal error on ${req.method} ${req.url}: ${(e as Error).stack ?? e}`); e = new ApiError(500, `internal error: ${(e as Error).message}`, 'server_error'); }
      sendJson(res, (e as ApiError).status, (e as ApiError).body());
    }).finally(() => inflight.delete(ac));
    inflight.set(ac, done);
  });
  server.requestTimeout = 60_000; // the whole request (headers + body) must arrive within this; answers may take longer
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(o.port ?? 8080, host, () => { server.off('error', reject); resolve(); }); });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;

  async function drain(deadlineMs = 60_000): Promise<void> {
    draining = true;
    const closed = new Promise<void>((r) => server.close(() => r()));
    server.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => { timer = setTimeout(() => r('late'), deadlineMs); });
    if (await Promise.race([Promise.all(inflight.values()).then(() => 'ok' as const), late]) === 'late') {
      ctx.log(`drain deadline (${deadlineMs} ms) passed: stopping ${inflight.size} request(s)`);
      for (const ac of inflight.keys()) ac.abort();
      await Promise.all(inflight.values());
    }
    clearTimeout(timer);
    server.closeAllConnections();
    await closed;
  }
  return { url, port, server, ctx, drain };
}

/** The request body as JSON, refusing bodies over `max` bytes (413) and text that is not JSON (400). */
async function readJson(req: IncomingMessage, res: ServerResponse, max: number): Promise<unknown> {
  const tooLarge = () => {
    res.setHeader('Connection', 'close'); // stop reading the rest of an oversized body: close after the answer
    res.once('finish', () => req.destroy());
    return new ApiError(413, `request body over the limit of ${max} bytes`, 'invalid_request_error', null, 'body_too_large');
  };
  if (Number(req.headers['content-length'] ?? 0) > max) throw tooLarge();
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > max) throw tooLarge();
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) throw new ApiError(400, 'the request body is empty; send a JSON object', 'invalid_request_error', null, 'invalid_body');
  try { return JSON.parse(text); } catch (e) {
    throw new ApiError(400, `the request body is not valid JSON: ${(e as Error).message}`, 'invalid_request_error', null, 'invalid_json');
  }
}
