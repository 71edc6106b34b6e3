#!/usr/bin/env bash
# Issue 11's network targets on a lent many-core machine without Node or network (bench/net-device.bench.ts):
# unpacks the carried Node binary (.dev/node.xz, as scripts/device-large.sh does), falls back to the carried iproute2
# (.nettools/, copied from a Debian 12 host: bin/ip, bin/tc wrappers + libs) where the machine has no ip / tc,
# generates the synthetic model there, then runs the steps given:
#   overhead           loopback, in-process TP 2 vs root + 1 shard process (no namespaces needed)
#   table:TP:RATE      the comm-mode table at TP over scripts/net-ns.sh (every shard its own namespace, tbf at RATE)
#   hosts:RATE[:NA:NB:TP1]  two emulated hosts: host A = the root + NA (default 3) shard processes pinned to cores 0-3,
#                      host B = NB (default 4) shard processes pinned to cores 4-7 in another network namespace, joined
#                      by one veth pair shaped with tbf at RATE (both ends); against in-process TP TP1 (default 4) on
#                      host A's cores (this file's `rig`). TP 2 with one shard per host: NET_CPUS_A=0-1 NET_CPUS_B=2-3
#                      and hosts:1gbit:0:1:1 (each host one compute thread, as the one host alone)
# Usage: scripts/device-net.sh make-nettools   (here, once), then on the device
#        scripts/device-net.sh OUTDIR STEP…   e.g. scripts/device-net.sh $OUT overhead table:2:100mbit hosts:1gbit
# Env: NET_MODEL (default llama-3.2-1b), NET_CPUS_A / NET_CPUS_B (default 0-3 / 4-7), NET_BENCH_FLAGS (extra flags for every bench run, e.g. "--repeats 5"),
# NET_OVERHEAD_FLAGS (extra flags for the overhead step only).
# Without network namespaces the table and hosts steps run over loopback, unshaped, and say so (rate "loopback").
set -euo pipefail
SECRET=device-net-secret

# --- make-nettools (run here, on a Debian 12 / glibc ≥ 2.34 x86-64 host with iproute2): the ip / tc copies to carry ---
if [[ ${1:-} == make-nettools ]]; then
  mkdir -p .nettools/bin .nettools/real .nettools/lib
  cp /usr/sbin/ip /usr/sbin/tc .nettools/real/
  for l in libbpf.so.1 libbsd.so.0 libcap.so.2 libelf.so.1 libmd.so.0 libmnl.so.0 libxtables.so.12 libz.so.1; do cp -L "/lib/x86_64-linux-gnu/$l" .nettools/lib/; done
  for t in ip tc; do printf '#!/bin/sh\nd=$(dirname "$(readlink -f "$0")")/..\nLD_LIBRARY_PATH=$d/lib exec "$d/real/%s" "$@"\n' $t >.nettools/bin/$t; chmod +x .nettools/bin/$t; done
  grep -qx '/.nettools/' .git/info/exclude 2>/dev/null || echo '/.nettools/' >>.git/info/exclude
  echo "made .nettools ($(du -sh .nettools | cut -f1)); carry it with dist, build, .dev and node_modules/@huggingface"; exit
fi

# --- rig: two hosts joined by one shaped veth pair (runs inside a network namespace; re-invoked by `hosts`) ---
if [[ ${1:-} == rig ]]; then
  shift; rate=$1 na=$2 nb=$3 cpua=$4 cpub=$5 model=$6; shift 7 # … -- ROOT COMMAND
  pin() { local c=$1; shift; if [[ $c == all ]]; then "$@"; else taskset -c "$c" "$@"; fi; }
  pids=() kid=
  cleanup() { for p in "${pids[@]}" $kid; do kill "$p" 2>/dev/null || true; done; }
  trap cleanup EXIT
  if [[ $rate == loopback ]]; then a=127.0.0.1 b=127.0.0.1
  else
    a=10.9.0.1 b=10.9.0.2
    ip link set lo up
    unshare -n sleep 1000000 & kid=$!
    sleep 0.2
    ip link add va type veth peer name vb
    ip link set vb netns "$kid"
    ip addr add $a/24 dev va && ip link set va up
    nsenter -t "$kid" -n sh -c "ip link set lo up && ip addr add $b/24 dev vb && ip link set vb up"
    hostb() { nsenter -t "$kid" -n "$@"; }
    if [[ $rate != none ]]; then
      tc qdisc add dev va root tbf rate "$rate" burst 64kb latency 50ms
      hostb tc qdisc add dev vb root tbf rate "$rate" burst 64kb latency 50ms
    fi
  fi
  peers=""
  start() { # HOST(a|b) CPUS ADDR:PORT
    local h=$1 c=$2 addr=$3 o cmd; o=$(mktemp)
    cmd=(node dist/bindings/cli.js shard --listen "$addr" --secret $SECRET --model "$model" --quiet)
    [[ $c == all ]] || cmd=(taskset -c "$c" "${cmd[@]}")
    [[ $h == b && -n $kid ]] && cmd=(nsenter -t "$kid" -n "${cmd[@]}")
    "${cmd[@]}" >"$o" &
    pids+=("$!"); peers+="${peers:+,}$addr"
    for _ in $(seq 600); do grep -q '^listening' "$o" && return; sleep 0.1; done
    echo "rig: shard at $addr did not start" >&2; exit 1
  }
  for ((i = 1; i <= na; i++)); do start a "$cpua" "$a:$((7000 + i))"; done
  for ((i = 1; i <= nb; i++)); do start b "$cpub" "$b:$((7100 + i))"; done
  echo "rig: rate $rate, host A ($a, cpus $cpua): root + $na shards, host B ($b, cpus $cpub): $nb shards" >&2
  LOWBIT_TP_PEERS=$peers LOWBIT_TP_SECRET=$SECRET NET_RATE=$rate pin "$cpua" "$@"
  exit
fi

out=$1; shift
mkdir -p /tmp/n "$out"
[ -x /tmp/n/node ] || xz -dc .dev/node.xz > /tmp/n/node
chmod +x /tmp/n/node; export PATH=/tmp/n:$PATH
if ! command -v ip >/dev/null || ! command -v tc >/dev/null; then export PATH=$PATH:$PWD/.nettools/bin; echo "ip / tc: the carried copies (.nettools)"; fi
export LOWBIT_TP_CACHE=/tmp/lowbit-cache
MODEL=${NET_MODEL:-llama-3.2-1b}
FLAGS=${NET_BENCH_FLAGS:-}
CPUA=${NET_CPUS_A:-0-3} CPUB=${NET_CPUS_B:-4-7} # the two hosts' cores
echo "cores: $(nproc); node $(node --version); $(grep -m1 'model name' /proc/cpuinfo); $(free -g | awk '/Mem/{print $2 " GiB RAM"}'); $(uname -r)"
echo "cpu0 siblings: $(cat /sys/devices/system/cpu/cpu0/topology/thread_siblings_list 2>/dev/null), cpu4: $(cat /sys/devices/system/cpu/cpu4/topology/thread_siblings_list 2>/dev/null); taskset: $(taskset -pc $$ 2>&1 | sed 's/.*: //')"
NS=
if unshare -r -n true 2>/dev/null; then NS="unshare -r -n"; elif unshare -n true 2>/dev/null; then NS="unshare -n"; fi
NSOK=0
if [[ -n $NS ]] && $NS sh -c 'ip link add va type veth peer name vb && tc qdisc add dev va root tbf rate 1gbit burst 64kb latency 50ms' 2>&1; then NSOK=1; fi
BRIDGE=0
if [[ $NSOK == 1 ]] && $NS sh -c 'ip link add br0 type bridge' 2>&1; then BRIDGE=1; fi
echo "namespaces: '${NS:-none}', veth+tbf: $NSOK, bridge: $BRIDGE"
node dist/bench/synth-models.js "$MODEL" 2>&1 | tail -2
path=$LOWBIT_TP_CACHE/synthetic/$MODEL.gguf
bench() { node dist/bench/net-device.bench.js --model "$MODEL" "$@" $FLAGS; }

for step in "$@"; do
  t0=$(date +%s)
  case $step in
    overhead) bench --part overhead ${NET_OVERHEAD_FLAGS:-} --out "$out/net-overhead.json" 2>&1 | tee "$out/net-overhead.log" ;;
    table:*)
      IFS=: read -r _ tp rate <<<"$step"
      name=net-tp$tp-$rate
      if [[ $NSOK == 1 && $BRIDGE == 1 ]]; then
        # the rig of npm run bench:net: root in a bridge namespace, each shard in its own namespace behind a shaped veth
        inner=(node dist/bench/net-device.bench.js --part table --model "$MODEL" --out "$out/$name.json" $FLAGS)
        [[ $NS == "unshare -n" ]] && pre=(env NET_NS_INNER=1 unshare -n) || pre=()
        NET_SHARD_CMD="node dist/bindings/cli.js shard" "${pre[@]}" bash scripts/net-ns.sh --rate "$rate" --shards $((tp - 1)) --secret $SECRET --model "$path" -- "${inner[@]}" 2>&1 | tee "$out/$name.log"
      elif [[ $NSOK == 1 && $tp == 2 ]]; then
        echo "no bridge: TP 2 over this file's two-host rig (root on host A, the shard on host B)"
        $NS bash "$0" rig "$rate" 0 1 all all "$path" -- node dist/bench/net-device.bench.js --part table --model "$MODEL" --out "$out/$name.json" $FLAGS 2>&1 | tee "$out/$name.log"
      else
        echo "network namespaces unavailable here: table at TP $tp over loopback, unshaped (not $rate)"
        bash "$0" rig loopback 0 $((tp - 1)) all all "$path" -- node dist/bench/net-device.bench.js --part table --model "$MODEL" --out "$out/net-tp$tp-loopback.json" $FLAGS 2>&1 | tee "$out/net-tp$tp-loopback.log"
      fi ;;
    hosts:*)
      IFS=: read -r _ rate na nb tp1 <<<"$step"
      na=${na:-3} nb=${nb:-4} tp1=${tp1:-4}
      if [[ $NSOK != 1 ]]; then echo "network namespaces unavailable here: two hosts over loopback, unshaped (not $rate)"; rate=loopback; fi
      [[ $NSOK == 1 ]] && pre=($NS) || pre=()
      name=net-hosts-$rate; [[ $na/$nb/$tp1 == 3/4/4 ]] || name=net-hosts-$rate-tp$((na + nb + 1))-vs-tp$tp1
      "${pre[@]}" bash "$0" rig "$rate" "$na" "$nb" "$CPUA" "$CPUB" "$path" -- \
        node dist/bench/net-device.bench.js --part hosts --single-tp "$tp1" --model "$MODEL" --out "$out/$name.json" $FLAGS 2>&1 | tee "$out/$name.log" ;;
    *) echo "device-net.sh: unknown step $step" >&2; exit 2 ;;
  esac
  echo "step $step: $(( $(date +%s) - t0 )) s"
done
