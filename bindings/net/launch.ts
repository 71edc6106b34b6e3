// torch.distributed-style launch: every process of a job learns its rank, the world size and the root's address
// from flags or from what a launcher sets — torchrun: RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT; Open MPI's
// mpirun: OMPI_COMM_WORLD_RANK / OMPI_COMM_WORLD_SIZE; MPICH and Intel MPI: PMI_RANK / PMI_SIZE. So ssh, systemd, a
// container orchestrator or mpirun can start the same command on every rank. Rank 0 is the root (run / eval / serve:
// it computes shard 0 and drives the rest); ranks 1…W−1 are shards that find the root at MASTER_ADDR:MASTER_PORT
// themselves (net/rendezvous.ts), so no process needs a list of the others' addresses.
// A world size of 1 (or none) is no launch: one process, its shards on threads (--tp).
import { isLoopback, parseAddress } from './conn.js';

export interface Launch {
  rank: number; worldSize: number;
  /** The root's rendezvous address, HOST:PORT. */
  master: string;
  /** How long the root waits for every rank to register, and a shard for the root to answer (ms). */
  joinTimeoutMs: number;
  /** Where rank and world size came from (for messages). */
  source: string;
}

export interface LaunchFlags { rank?: string; 'world-size'?: string; master?: string; 'join-timeout'?: string }

export const DEFAULT_JOIN_S = 300; // a first start hashes the GGUF (≈ 2 s per GB) before the shard registers
export const MAX_WORLD = 64;       // what a socket link joins (socket-link.ts)

/** [rank variable, world-size variable] by launcher, in order of precedence after the flags. */
const FAMILIES: [string, string][] = [['RANK', 'WORLD_SIZE'], ['OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE'], ['PMI_RANK', 'PMI_SIZE']];

function integer(v: string, what: string): number {
  if (!/^\s*\d+\s*$/.test(v)) throw new Error(`${what} must be a whole number, got "${v}"`);
  return Number(v);
}

/** The launch this process is part of, or null. Throws, naming the flag or variable, on anything inconsistent. */
export function resolveLaunch(f: LaunchFlags, env: Record<string, string | undefined> = process.env): Launch | null {
  const family = FAMILIES.find(([, w]) => env[w] !== undefined && env[w] !== '');
  const sizeFrom = f['world-size'] !== undefined ? '--world-size' : family?.[1];
  if (!sizeFrom) {
    if (f.rank !== undefined || f.master !== undefined) throw new Error('--rank / --master need --world-size (or WORLD_SIZE) too');
    return null;
  }
  const worldSize = integer(f['world-size'] ?? env[sizeFrom]!, sizeFrom);
  if (worldSize <= 1) return null;
  if (worldSize > MAX_WORLD) throw new Error(`${sizeFrom} ${worldSize}: at most ${MAX_WORLD} ranks join one job`);
  // a rank from the same launcher as the world size, unless given as a flag
  const rankFam = family && env[family[0]] ? family : FAMILIES.find(([r]) => env[r]);
  const rankFrom = f.rank !== undefined ? '--rank' : rankFam?.[0];
  if (!rankFrom) throw new Error(`world size ${worldSize} (${sizeFrom}) but no rank: set ${family?.[0] ?? 'RANK'} or --rank`);
  const rank = integer(f.rank ?? env[rankFrom]!, rankFrom);
  if (rank >= worldSize) throw new Error(`rank ${rank} (${rankFrom}) is not below the world size ${worldSize} (${sizeFrom}): ranks are 0…${worldSize - 1}`);
  let master = f.master;
  if (master === undefined) {
    const addr = env.MASTER_ADDR, port = env.MASTER_PORT;
    if (!addr || !port) throw new Error(`rank ${rank} of ${worldSize} needs the root's address: --master HOST:PORT, or MASTER_ADDR and MASTER_PORT` +
      (addr ? ' (MASTER_PORT is not set)' : port ? ' (MASTER_ADDR is not set)' : ''));
    master = `${addr.includes(':') && !addr.startsWith('[') ? `[${addr}]` : addr}:${port}`;
  }
  const { port } = parseAddress(master);
  if (port === 0 && rank > 0) throw new Error(`rank ${rank} needs the root's real port (got ${master})`);
  const t = f['join-timeout'] ?? env.LOWBIT_TP_JOIN_TIMEOUT;
  const joinS = t === undefined || t === '' ? DEFAULT_JOIN_S : Number(t);
  if (!(joinS > 0)) throw new Error(`--join-timeout (LOWBIT_TP_JOIN_TIMEOUT) must be seconds > 0, got "${t}"`);
  return { rank, worldSize, master, joinTimeoutMs: joinS * 1000, source: `${rankFrom} / ${sizeFrom}` };
}

/**
 * Where a launched shard listens when --listen is not given: loopback when the root is (one machine), else every
 * interface on a free port; the root then reaches it at the address its registration came from.
 */
export function defaultShardListen(master: string): string {
  const { host } = parseAddress(master);
  return isLoopback(host) ? (host === '::1' ? '[::1]:0' : '127.0.0.1:0') : '0.0.0.0:0';
}

/** The variables that start rank r of this job (for messages that tell how to start a missing rank). */
export function launchEnv(l: Pick<Launch, 'worldSize' | 'master'>, rank: number | string): string {
  const { host, port } = parseAddress(l.master);
  return `RANK=${rank} WORLD_SIZE=${l.worldSize} MASTER_ADDR=${host} MASTER_PORT=${port}`;
}
