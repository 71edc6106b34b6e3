#!/usr/bin/env bash
# Regenerates docs/results/full/{eval-*.json, accuracy.md, accuracy.svg}: the paper's table on our models.
# Modes: exact, bf16, int4 static / group-32, random 16-bit selection, the paper's codec (both all-reduce
# algorithms), top-range outliers + group int4, int8-group, int3 + outliers. Items: 16 windows × 256 tokens,
# 500 cloze, 500 choice. On a 2-core machine this takes many hours; set EVAL_ITEMS="--cloze 100 --choice 100
# --windows 4" for a reduced run (the JSON records the item counts). Each mode is saved as it finishes and
# --resume skips the modes already there, so the full table can be built over several sittings.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
ITEMS=${EVAL_ITEMS:-}
for run in "smollm2 3" "gemma3 2" "gemma3 4"; do
  set -- $run
  [ -f "${LOWBIT_TP_CACHE:-$HOME/.cache/lowbit-tp}/profiles/$1-tp$2.json" ] || node dist/bindings/cli.js calibrate --model "$1" --tp "$2"
  node dist/bindings/cli.js eval --model "$1" --tp "$2" --comm paper --resume --out "docs/results/${OUT_DIR:-full}/eval-$1-tp$2.json" $ITEMS
done
