#!/usr/bin/env bash
# A network rig for shards in separate network namespaces: the root's namespace holds a bridge; each shard host is a
# child namespace joined to it by a veth pair shaped with tc tbf at --rate (both ends). Everything runs unprivileged
# inside `unshare -r -n` (a user + network namespace); netem does not exist on this kernel, so there is no added delay.
# The bucket is 64 KB, the largest packet veth hands over (GSO): smaller drops packets, larger lets messages under
# its size pass at memory speed (a real link serializes every byte at its rate).
#   usage: scripts/net-ns.sh [--rate 1gbit|none] [--shards N] [--secret S] [--model M] [--launch] -- ROOT COMMAND…
# Starts N shard processes (10.9.0.2…, port 7000), waits until they listen, then runs the root command in the root
# namespace (10.9.0.1) with LOWBIT_TP_PEERS, LOWBIT_TP_SECRET and NET_SHARD_PIDS set. Exit: the root command's.
# --launch: the torch.distributed way instead — every process gets RANK / WORLD_SIZE / MASTER_ADDR=10.9.0.1 /
# MASTER_PORT=29500 and no peer list; the shards listen on every interface of their namespace (a free port) and
# register with the root, which sees them at 10.9.0.2….
# NET_SHARD_CMD overrides how a shard starts (default: node --import tsx bindings/cli.ts shard).
set -euo pipefail
RATE=1gbit SHARDS=1 SECRET=${LOWBIT_TP_SECRET:-net-ns-secret} MODEL=smollm2 LAUNCH=
while [[ $# -gt 0 && $1 != -- ]]; do
  case $1 in
    --rate) RATE=$2; shift 2;; --shards) SHARDS=$2; shift 2;; --secret) SECRET=$2; shift 2;; --model) MODEL=$2; shift 2;; --launch) LAUNCH=1; shift;;
    *) echo "net-ns.sh: unknown option $1" >&2; exit 2;;
  esac
done
[[ ${1:-} == -- ]] && shift
if [[ -z ${NET_NS_INNER:-} ]]; then
  if ! unshare -r -n true 2>/dev/null; then echo "net-ns.sh: network namespaces unavailable (unshare -r -n failed)" >&2; exit 77; fi
  NET_NS_INNER=1 exec unshare -r -n bash "$0" --rate "$RATE" --shards "$SHARDS" --secret "$SECRET" --model "$MODEL" ${LAUNCH:+--launch} -- "$@"
fi
SHARD_CMD=${NET_SHARD_CMD:-node --import tsx bindings/cli.ts shard}
pids=() kids=()
cleanup() { for p in "${pids[@]}" "${kids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
ip link set lo up
ip link add br0 type bridge && ip addr add 10.9.0.1/24 dev br0 && ip link set br0 up
shape() { if [[ $RATE != none ]]; then "$@" tc qdisc add dev "$DEV" root tbf rate "$RATE" burst 64kb latency 50ms; fi; }
peers=""
for ((i = 1; i <= SHARDS; i++)); do
  unshare -n sleep 100000 & kid=$!; kids+=("$kid")
  sleep 0.1
  ip link add "vr$i" type veth peer name "vs$i"
  ip link set "vs$i" netns "$kid"
  ip link set "vr$i" master br0 && ip link set "vr$i" up
  nsenter -t "$kid" -n sh -c "ip link set lo up && ip addr add 10.9.0.$((i + 1))/24 dev vs$i && ip link set vs$i up"
  DEV=vr$i shape
  DEV=vs$i shape nsenter -t "$kid" -n
  out=$(mktemp)
  if [[ -n $LAUNCH ]]; then
    RANK=$i WORLD_SIZE=$((SHARDS + 1)) MASTER_ADDR=10.9.0.1 MASTER_PORT=29500 nsenter -t "$kid" -n $SHARD_CMD --secret "$SECRET" --model "$MODEL" --quiet >"$out" &
  else
    nsenter -t "$kid" -n $SHARD_CMD --listen "10.9.0.$((i + 1)):7000" --secret "$SECRET" --model "$MODEL" --quiet >"$out" &
  fi
  pids+=("$!")
  peers+="${peers:+,}10.9.0.$((i + 1)):7000"
  for _ in $(seq 300); do grep -q '^listening' "$out" && break; sleep 0.1; done
  grep -q '^listening' "$out" || { echo "net-ns.sh: shard $i did not start" >&2; exit 1; }
done
if [[ -n $LAUNCH ]]; then
  RANK=0 WORLD_SIZE=$((SHARDS + 1)) MASTER_ADDR=10.9.0.1 MASTER_PORT=29500 LOWBIT_TP_SECRET=$SECRET NET_SHARD_PIDS="${pids[*]}" NET_RATE=$RATE "$@"
else
  LOWBIT_TP_PEERS=$peers LOWBIT_TP_SECRET=$SECRET NET_SHARD_PIDS="${pids[*]}" NET_RATE=$RATE "$@"
fi
