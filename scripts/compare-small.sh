#!/usr/bin/env bash
# Small models before vs after a change, on this machine: the scaling bench of two checkouts (OLD: a worktree of an
# earlier commit, built; NEW: this one), run alternately REPS times each, then medians and ranges of each side.
# Usage: scripts/compare-small.sh OLD_DIR [REPS] [MODEL] [TPS]   (e.g. git worktree add /tmp/old e072a13 && build it)
set -euo pipefail
old=$1 reps=${2:-5} model=${3:-smollm2} tps=${4:-1,2}
out=$(mktemp -d)
for r in $(seq 1 "$reps"); do
  for side in old new; do
    dir=$([ $side = old ] && echo "$old" || pwd)
    (cd "$dir" && node dist/bench/scaling.bench.js --model "$model" --tp "$tps" --comm exact --decode-weights gguf --prefill 128 --decode 16 >/dev/null 2>&1)
    cp "$dir/docs/results/scaling-$model-gguf-decode.json" "$out/$side-$r.json"
    git -C "$dir" checkout -q -- "docs/results/scaling-$model-gguf-decode.json" 2>/dev/null || true # keep the committed result
    echo "rep $r $side done" >&2
  done
done
node -e '
const fs = require("fs"), dir = process.argv[1], rows = {};
for (const f of fs.readdirSync(dir)) { const side = f.split("-")[0];
  for (const r of JSON.parse(fs.readFileSync(`${dir}/${f}`)).rows) for (const k of ["prefillTokS", "decodeTokS"])
    (rows[`TP ${r.tp} ${k}`] ??= { old: [], new: [] })[side].push(r[k]); }
const med = (v) => { const s = [...v].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const f = (v) => `${med(v).toFixed(1)} (${Math.min(...v).toFixed(1)}–${Math.max(...v).toFixed(1)})`;
console.log("| config | before | after | after / before |\n|---|---|---|---|");
for (const [k, v] of Object.entries(rows)) console.log(`| ${k} | ${f(v.old)} | ${f(v.new)} | ${(med(v.new) / med(v.old)).toFixed(2)}× |`);
' "$out"
