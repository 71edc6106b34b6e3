// Calibration run: exact communication over the calibration text while every shard records, per site, the EMA
// ranges of its partial sums and of the reduced sum.
import { Engine } from '../engine.js';
import { FeatureRanges } from './ranges.js';
import { makeProfile, Profile } from './profile.js';

type Json = ReturnType<FeatureRanges['toJSON']>;

/** momentum: EMA of per-sequence extremes (the paper; 0.9), or 1 for the running extremes. */
/**
 * `outlierRows`: the profile's ranges leave out outlier-token rows (ranges.ts outlierRows: the first token's massive
 * activations), for the static codecs' -rows variants that send such rows raw (docs/wire-format.md §10).
 */
export async function calibrate(engine: Engine, sequences: number[][], fraction: number, progress?: (done: number, total: number) => void, momentum = 0.9,
                                outlierRows = false): Promise<Profile> {
  await engine.setComm(null);
  await engine.pool.all({ op: 'observe', momentum });
  for (let i = 0; i < sequences.length; i++) {
    engine.reset();
    await engine.forward(sequences[i]);
    progress?.(i + 1, sequences.length);
  }
  const perShard = await engine.pool.all<{ partial: Json; sum: Json }[]>({ op: 'observed' });
  const pick = (r: FeatureRanges) => (outlierRows ? r.withoutOutlierRows() : r);
  const sites = perShard[0].map((_, site) => ({
    partial: perShard.map((s) => pick(FeatureRanges.fromJSON(s[site].partial))),
    sum: pick(FeatureRanges.fromJSON(perShard[0][site].sum)),
  }));
  return makeProfile(sites, {
    model: { sha256: await engine.modelHash(), arch: engine.cfg.arch, file: engine.modelId.split('/').pop()! },
    tp: engine.tp, fraction, momentum: sites[0].sum.momentum,
    calibration: { sequences: sequences.length, tokensPerSequence: sequences[0]?.length ?? 0, source: 'python3.11-doc (calibration split)',
      ...(outlierRows ? { outlierRows: true, rowsSkipped: sites.map((s) => s.partial.map((r) => r.rowsSkipped)) } : {}) },
  });
}
