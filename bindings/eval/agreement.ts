// Agreement of our logits with a reference fixture (scripts/reference/logits_fixture.py) and between TP degrees.
import { argmax } from './metrics.js';
export interface LogitsFixture { ids: number[]; probe: number[]; top_ids: number[][]; top_logits: number[][]; probe_logits: number[][] }
export interface Agreement { positions: number; maxAbsDelta: number; meanAbsDelta: number; argmaxAgree: number }

/** Compare logits [rows × V] with the fixture's top-5 and probe logits at every position. */
export function compareWithFixture(logits: Float32Array, V: number, fx: LogitsFixture): Agreement {
  let maxAbs = 0, sumAbs = 0, count = 0, agree = 0;
  const rows = fx.ids.length;
  for (let r = 0; r < rows; r++) {
    const row = logits.subarray(r * V, (r + 1) * V);
    const cmp = (id: number, want: number) => { const d = Math.abs(row[id] - want); maxAbs = Math.max(maxAbs, d); sumAbs += d; count++; };
    fx.top_ids[r].forEach((id, i) => cmp(id, fx.top_logits[r][i]));
    fx.probe.forEach((id, i) => cmp(id, fx.probe_logits[r][i]));
    if (argmax(row) === fx.top_ids[r][0]) agree++;
  }
  return { positions: rows, maxAbsDelta: maxAbs, meanAbsDelta: sumAbs / count, argmaxAgree: agree / rows };
}

/** Max relative difference of two logit sets: max |a − b| / max |b|, and argmax agreement. */
export function compareLogits(a: Float32Array, b: Float32Array, V: number): { maxRel: number; argmaxAgree: number } {
  let maxDiff = 0, maxB = 0, agree = 0;
  for (let i = 0; i < a.length; i++) { maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i])); maxB = Math.max(maxB, Math.abs(b[i])); }
  const rows = a.length / V;
  for (let r = 0; r < rows; r++) if (argmax(a.subarray(r * V, (r + 1) * V)) === argmax(b.subarray(r * V, (r + 1) * V))) agree++;
  return { maxRel: maxDiff / maxB, argmaxAgree: agree / rows };
}
