// Fuzz the network frame decoder: `node --import tsx scripts/net-fuzz.ts [cases=200000] [seed=1]`.
import { fuzzDecoder } from '../bindings/net/fuzz.js';
const cases = Number(process.argv[2] ?? 200_000), seed = Number(process.argv[3] ?? 1);
const t0 = Date.now(), r = fuzzDecoder(cases, seed);
console.log(JSON.stringify({ ...r, seconds: (Date.now() - t0) / 1000 }));
process.exitCode = r.crashes ? 1 : 0;
