// Worker thread of a networked shard: the same requests as tp/worker.ts, answered on a MessagePort handed over in
// workerData (tp/worker.ts, imported for dispatch(), serves the parent port, which this pool never writes to).
// The shard's link is a SocketLink over the SharedArrayBuffer its process's event loop pumps to the sockets.
import { workerData, type MessagePort } from 'node:worker_threads';
import { Shard, ShardInit } from '../tp/shard.js';
import { dispatch, Port, Request, serve } from '../tp/worker.js';
import type { SocketLinkSpec } from './link-layout.js';
import { SocketLink } from './socket-link.js';

export type NetRequest = Request
  | { op: 'netInit'; init: Omit<ShardInit, 'link' | 'barrierTimeoutMs'>; link: SocketLinkSpec | null }
  | { op: 'linkReset' };

/** The shard over its SocketLink (TP 1: no link). */
async function createNetShard(init: Omit<ShardInit, 'link' | 'barrierTimeoutMs'>, spec: SocketLinkSpec | null,
                              progress: (d: number, t: number) => void): Promise<{ shard: Shard; link: SocketLink | null }> {
  const link = spec ? new SocketLink(spec) : null;
  const shard = await Shard.create({ ...init, link: null, barrierTimeoutMs: 0 }, progress, link ?? undefined);
  return { shard, link };
}

const port = (workerData as { port: MessagePort }).port;
const state = { shard: null as Shard | null, link: null as SocketLink | null };
serve<NetRequest>(port as unknown as Port, (f) => port.on('message', f), async (req, progress) => {
  if (req.op === 'netInit') {
    const { shard, link } = await createNetShard(req.init, req.link, progress);
    Object.assign(state, { shard, link });
    return { bytes: shard.bytes };
  }
  if (req.op === 'linkReset') { state.link?.reset(); return undefined; }
  return dispatch(state, req);
});
