// Fuzzing the frame decoder (tests/net.test.ts runs a small number, scripts/net-fuzz.ts ≥ 10^5): valid frames,
// mutated ones (flipped bytes, lying lengths, unknown types) and garbage, cut into random chunks. The decoder must
// either yield frames whose payloads respect the cap or throw a FrameError — nothing else, ever.
import { encodeFrame, FrameDecoder, FrameError, FrameType } from './frame.js';

export interface FuzzReport { cases: number; accepted: number; rejected: number; frames: number; crashes: number; firstCrash?: string }

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 2 ** 32; };
}

export function fuzzDecoder(cases: number, seed = 1, cap = 4096): FuzzReport {
  const r = rng(seed), int = (n: number) => Math.floor(r() * n);
  const rep: FuzzReport = { cases, accepted: 0, rejected: 0, frames: 0, crashes: 0 };
  for (let c = 0; c < cases; c++) {
    const parts: Uint8Array[] = [];
    const kind = int(4);
    for (let f = 0, n = 1 + int(4); f < n; f++) {
      const payload = new Uint8Array(int(3) === 0 ? int(cap + 64) : int(64)).map(() => int(256));
      parts.push(encodeFrame((1 + int(7)) as FrameType, int(2 ** 32), int(65536), payload));
    }
    let bytes = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    parts.reduce((at, p) => { bytes.set(p, at); return at + p.length; }, 0);
    if (kind === 1) for (let k = 0, n = 1 + int(8); k < n; k++) bytes[int(bytes.length)] = int(256);       // flipped bytes
    else if (kind === 2) { const dv = new DataView(bytes.buffer); dv.setUint32(0, [0, 6, 7, 0xffffffff, cap + 8, int(2 ** 32)][int(6)], true); } // lying length
    else if (kind === 3) bytes = bytes.map(() => int(256));                                                   // garbage
    if (int(4) === 0) bytes = bytes.subarray(0, int(bytes.length + 1));                                       // truncated
    const allowed = int(2) === 0 ? () => true : (t: FrameType) => t === FrameType.Data;
    const d = new FrameDecoder(cap, allowed);
    try {
      let rejected = false;
      for (let at = 0; at < bytes.length && !rejected;) {
        const n = 1 + int(Math.min(bytes.length - at, int(2) ? 7 : 5000));
        try {
          for (const f of d.push(bytes.subarray(at, at + n))) {
            if (f.payload.length > cap) throw new Error(`payload of ${f.payload.length} past the cap ${cap}`);
            rep.frames++;
          }
        } catch (e) { if (e instanceof FrameError) rejected = true; else throw e; }
        at += n;
      }
      if (rejected) rep.rejected++; else rep.accepted++;
    } catch (e) {
      rep.crashes++;
      rep.firstCrash ??= `case ${c}: ${(e as Error).stack}`;
    }
  }
  return rep;
}
