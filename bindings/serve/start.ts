// `lowbit-tp serve`: load the model over TP shards, pick its chat template, listen, and drain on SIGTERM / SIGINT.
import { Engine } from '../engine.js';
import { Algorithm } from '../tp/allreduce.js';
import { parseCommMode } from '../calibrate/plan.js';
import { commConfigFor } from '../commands.js';
import { RunningServer, ServerOptions, isLoopback, startServer } from './server.js';
import { ChatTemplate, readChatMeta } from './template.js';

export interface ServeOptions extends Omit<ServerOptions, 'modelId' | 'template'> {
  model: string; tp: number; comm: string; algorithm: Algorithm; context: number; profile?: string; quantizedDecode: boolean;
  drainMs: number; say: (m: string) => void;
  /** Shards 1… as HOST:PORT (`lowbit-tp shard`), and their shared secret: TP is then peers + 1. */
  peers?: string[]; peerSecret?: string;
}

export async function serveModel(o: ServeOptions): Promise<RunningServer> {
  const host = o.host ?? '127.0.0.1';
  if (!isLoopback(host) && !o.apiKey) throw new Error(`--host ${host} is not loopback: give --api-key KEY too (clients send "Authorization: Bearer KEY")`);
  parseCommMode(o.comm); // a bad --comm fails before the model loads
  const meta = await readChatMeta(o.model);
  const template = ChatTemplate.of(meta);
  const engine = await Engine.load(o.model, { tp: o.peers ? o.peers.length + 1 : o.tp, context: o.context, progress: o.say, quantizedDecode: o.quantizedDecode,
    peers: o.peers, peerSecret: o.peerSecret });
  o.say('\n');
  let server: RunningServer;
  try {
    await engine.setComm(await commConfigFor(engine, o.model, o.comm, o.algorithm, o.profile, o.say));
    const modelId = o.model.replace(/^.*\//, '').replace(/\.gguf$/i, '');
    server = await startServer(engine, { ...o, modelId, template });
  } catch (e) { await engine.close(); throw e; }
  const log = server.ctx.log;
  log(`${server.url}/v1 serves ${o.model} at TP ${o.tp}, comm ${o.comm}; context ${engine.context} tokens; ` +
    `chat ${template ? 'with the model\'s own template' : 'unavailable (no tokenizer.chat_template in the GGUF; completions only)'}; ` +
    `${o.apiKey ? 'API key required' : 'no API key (loopback only)'}; one sequence at a time, others queue first-come first-served`);
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) { log(`${sig} again: exiting now`); process.exit(1); }
    stopping = true;
    log(`${sig}: draining (${server.ctx.queue.running ? 1 : 0} running, ${server.ctx.queue.queued} queued; new requests get 503; deadline ${o.drainMs / 1000} s)`);
    server.drain(o.drainMs).then(() => engine.close()).then(() => { log('drained, bye'); process.exit(0); },
      (e) => { log(`drain failed: ${(e as Error).message}`); process.exit(1); });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return server;
}
