#!/usr/bin/env bash
# `make demo`: until the harness lands, the most real thing the engine does end to end.
# 1. Four qsm-node processes run the multicast probe over real UDP multicast on loopback, starting
#    at one shared instant, and each prints what it received from the other three.
# 2. qsm-blaster measures raw UDP multicast on this machine (1 sender -> 1 and 4 receivers), the
#    physical limit later benchmarks compare the engine against.
set -euo pipefail
build=${1:-build/release}
node=$build/engine/node/qsm-node
blaster=$build/harness/blaster/qsm-blaster
nodes=4 count=5000 rate=5000

echo "== $nodes qsm-node probes on 127.0.0.1, multicast 239.255.0.1:7500, $count packets each at $rate/s"
out=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$out"; }
trap cleanup EXIT INT TERM
start=$(( $(date +%s%3N) + 500 ))
for i in $(seq 1 $nodes); do
  "$node" probe --node-id "$i" --count $count --rate $rate --start-at-ms $start --linger 1 >"$out/$i.txt" 2>&1 &
  pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=1; done
pids=()
cat "$out"/*.txt
[[ $failed -eq 0 ]] || { echo "demo: a probe node failed" >&2; exit 1; }
total=$(grep -ho 'from node [0-9]*: [0-9]*/[0-9]*' "$out"/*.txt | awk -F'[ :/]+' '{r+=$4; e+=$5} END {printf "%d/%d", r, e}')
echo "== probe summary: $total packets received across all nodes"
echo
echo "== raw UDP multicast limit (qsm-blaster, 1000-byte datagrams, 2 s each)"
"$blaster" --receivers 1 --duration 2
"$blaster" --receivers 4 --duration 2
