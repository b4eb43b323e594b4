#!/usr/bin/env bash
# `make demo`: until the harness lands, the most real thing the engine does end to end.
# 1. Four qsm-node processes form one QSM region over real UDP multicast on loopback; node 2 sends
#    50,000 reliable 1000-byte messages at full speed over 3 groups; every node prints what it
#    delivered, the token RTT (region leader), and what was still pending or cached at the end.
# 2. qsm-blaster measures raw UDP multicast to 3 receivers: the physical limit of this machine.
set -euo pipefail
build=${1:-build/release}
node=$build/engine/node/qsm-node
blaster=$build/harness/blaster/qsm-blaster
nodes=4 count=50000

members=()
for i in $(seq 1 $nodes); do members+=(--member "$i=127.0.0.1:$((7300 + i))"); done
echo "== QSM region of $nodes qsm-node processes on 127.0.0.1 (multicast 239.255.1.1:7400)," \
     "node 2 sends $count messages over 3 groups"
out=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$out"; }
trap cleanup EXIT INT TERM
start=$(( $(date +%s%3N) + 500 ))
for i in $(seq 1 $nodes); do
  load=()
  [[ $i -eq 2 ]] && load=(--count $count)
  "$node" run --node-id "$i" "${members[@]}" --groups 3 --token-rate 20 --window 50000 "${load[@]}" \
    --duration 5 --start-at-ms $start >"$out/$i.txt" 2>&1 &
  pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=1; done
pids=()
cat "$out"/*.txt
[[ $failed -eq 0 ]] || { echo "demo: a node failed" >&2; exit 1; }
delivered=$(grep -ho 'delivered [0-9]*' "$out"/*.txt | awk '{s+=$2} END {print s}')
echo "== $delivered of $((count * nodes)) deliveries ($count messages x $nodes members)"
echo
echo "== raw UDP multicast limit on this machine (qsm-blaster, 1000-byte datagrams, 2 s, 3 receivers)"
"$blaster" --receivers 3 --duration 2
