// A framed TCP connection (node:net, TCP_NODELAY) and the handshake that opens it. Every connection to a shard's
// listener starts with a challenge–response on the shared secret (HMAC-SHA256 of a fresh random nonce, both ways);
// a peer that fails it gets nothing back (the socket is destroyed). Only then is its hello (protocol version,
// role, rank, model hash, plan hash) read; a mismatch is refused with the reason, since the peer proved the secret.
// Without a secret (loopback only: the listener refuses to start otherwise) the same exchange runs on an empty key.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import * as net from 'node:net';
import { frameHeader, Frame, FrameDecoder, FrameType, PROTOCOL_VERSION } from './frame.js';

export const HANDSHAKE_BYTES = 4096;   // the cap on any frame before a peer is known
export const HANDSHAKE_MS = 5000;

export interface Hello {
  role: 'control' | 'mesh' | 'register'; version: number; modelSha: string;
  /**
   * mesh: the dialling shard's rank, the session (epoch) and the plan's hash, which must match the listener's, and
   * the rank dialled (a process may host several: server.ts); control: the rank this connection drives.
   */
  rank?: number; epoch?: number; planHash?: string; to?: number;
  /** register (a launched shard to the root's rendezvous, net/rendezvous.ts): its world size and its shard server's address. */
  worldSize?: number; listen?: string;
}

/** The listener refused us, or we could not agree on the secret: retrying the same hello cannot help. */
export class HandshakeRefused extends Error {
  constructor(m: string) { super(m); this.name = 'HandshakeRefused'; }
}

export class Conn {
  readonly decoder: FrameDecoder;
  private closed = false;
  onFrame: (f: Frame) => void = () => {};
  onClose: (why: Error) => void = () => {};
  /** After every chunk whose frames were all handled (the link's loop end takes the reading back from there). */
  afterChunk: () => void = () => {};

  constructor(readonly socket: net.Socket, readonly name: string, maxPayload = HANDSHAKE_BYTES) {
    this.decoder = new FrameDecoder(maxPayload);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (e) => this.close(new Error(`${name}: ${e.message}`)));
    socket.on('close', () => this.close(new Error(`${name} disconnected`)));
  }

  /** Bytes of the stream, in order: what the socket delivers, or what a shard's worker read and gave back. */
  receive(chunk: Uint8Array): void {
    if (this.closed) return;
    let frames: Frame[];
    try { frames = this.decoder.push(chunk); } catch (e) { this.close(new Error(`${this.name}: malformed frame: ${(e as Error).message}`)); return; }
    for (const f of frames) {
      if (this.closed) return;
      try { this.onFrame(f); } catch (e) { this.close(new Error(`${this.name}: ${(e as Error).message}`)); return; }
    }
    if (!this.closed) this.afterChunk();
  }

  get isClosed(): boolean { return this.closed; }

  /** One frame; the parts are written after the header as they are (corked into one writev), not concatenated. */
  send(type: FrameType, round: number, from: number, ...parts: Uint8Array[]): void {
    if (this.closed) return;
    const n = parts.reduce((a, p) => a + p.length, 0);
    this.socket.cork();
    this.socket.write(frameHeader(type, round, from, n));
    for (const p of parts) if (p.length) this.socket.write(p);
    this.socket.uncork();
  }

  close(why: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.onClose(why);
  }
}

const mac = (secret: string, label: string, nonce: Uint8Array) => createHmac('sha256', secret).update(label).update(nonce).digest();
const json = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b));
const utf8 = (o: unknown) => new TextEncoder().encode(typeof o === 'string' ? o : JSON.stringify(o));

/** Listener side. `check` returns why a hello is refused, or null; resolves with the connection and the hello. */
export function acceptHandshake(socket: net.Socket, secret: string, check: (h: Hello) => string | null, info: unknown): Promise<{ conn: Conn; hello: Hello }> {
  const conn = new Conn(socket, `peer ${socket.remoteAddress}:${socket.remotePort}`);
  conn.decoder.allowed = (t) => t === FrameType.Auth;
  const nonce = randomBytes(32);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => conn.close(new Error(`${conn.name}: no authentication within ${HANDSHAKE_MS} ms`)), HANDSHAKE_MS);
    conn.onClose = (e) => { clearTimeout(timer); reject(e); };
    conn.onFrame = (f) => {
      clearTimeout(timer);
      const p = f.payload;
      if (p.length < 64 || !timingSafeEqual(p.subarray(0, 32), mac(secret, 'client', nonce))) { conn.close(new Error(`${conn.name}: failed authentication`)); return; }
      let hello: Hello;
      try { hello = json(p.subarray(64)); } catch { conn.close(new Error(`${conn.name}: unreadable hello`)); return; }
      const why = hello?.version !== PROTOCOL_VERSION ? `protocol version ${hello?.version} (this shard speaks ${PROTOCOL_VERSION})` : check(hello);
      if (why) { conn.send(FrameType.Refuse, 0, 0, utf8(why)); conn.socket.end(); conn.close(new Error(`${conn.name} refused: ${why}`)); return; }
      conn.decoder.allowed = () => true;
      conn.onClose = () => {};
      conn.onFrame = () => {};
      conn.send(FrameType.Welcome, 0, 0, mac(secret, 'server', p.subarray(32, 64)), utf8(info));
      resolve({ conn, hello });
    };
    const head = new Uint8Array(2); new DataView(head.buffer).setUint16(0, PROTOCOL_VERSION, true);
    conn.send(FrameType.Challenge, 0, 0, head, nonce);
  });
}

/** Dialling side: resolves with the connection and the listener's info, or fails naming `name`. */
export function dialHandshake(host: string, port: number, name: string, secret: string, hello: Hello, timeoutMs = HANDSHAKE_MS): Promise<{ conn: Conn; info: unknown }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const conn = new Conn(socket, name);
    conn.decoder.allowed = (t) => t === FrameType.Challenge;
    const nonce = randomBytes(32);
    let stage = 'connecting';
    const timer = setTimeout(() => conn.close(new Error(`${name}: no answer within ${timeoutMs} ms (${stage})`)), timeoutMs);
    conn.onClose = (e) => {
      clearTimeout(timer);
      reject(stage === 'authenticating' ? new HandshakeRefused(`${name} closed the connection during authentication (wrong or missing --secret?)`)
        : stage === 'refused' ? new HandshakeRefused(e.message) : e);
    };
    socket.on('connect', () => { stage = 'waiting for the challenge'; });
    conn.onFrame = (f) => {
      if (f.type === FrameType.Challenge) {
        const v = f.payload.length === 34 ? new DataView(f.payload.buffer, f.payload.byteOffset).getUint16(0, true) : -1;
        if (v !== PROTOCOL_VERSION) { stage = 'refused'; throw new Error(`speaks protocol version ${v}, this root ${PROTOCOL_VERSION}`); }
        stage = 'authenticating';
        conn.decoder.allowed = (t) => t === FrameType.Welcome || t === FrameType.Refuse;
        conn.send(FrameType.Auth, 0, 0, mac(secret, 'client', f.payload.subarray(2)), nonce, utf8(hello));
        return;
      }
      clearTimeout(timer);
      if (f.type === FrameType.Refuse) { stage = 'refused'; conn.close(new Error(`${name} refused the connection: ${new TextDecoder().decode(f.payload)}`)); return; }
      if (f.payload.length < 32 || !timingSafeEqual(f.payload.subarray(0, 32), mac(secret, 'server', nonce))) {
        stage = 'refused'; conn.close(new Error(`${name} could not prove the shared secret`)); return;
      }
      conn.decoder.allowed = () => true;
      conn.onClose = () => {};
      conn.onFrame = () => {};
      resolve({ conn, info: json(f.payload.subarray(32)) });
    };
  });
}

export function parseAddress(a: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(a.trim());
  if (!m) throw new Error(`"${a}" is not HOST:PORT`);
  const port = Number(m[3]);
  if (port < 0 || port > 65535) throw new Error(`port ${port} out of range in "${a}"`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export const isLoopback = (host: string) => host === 'localhost' || host === '::1' || /^127\./.test(host);
