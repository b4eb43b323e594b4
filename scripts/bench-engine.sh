#!/usr/bin/env bash
# Engine benchmarks over real UDP on loopback, against the raw multicast limit in the same run.
# Prints figures; asserts nothing. Usage: scripts/bench-engine.sh [build/release]
#  1. throughput: 1 sender, K = 1 and 4 receivers, 64, 1000 and 8192-byte messages, maximum rate,
#     default settings: qsm-blaster (raw, unreliable, one message per datagram), qsm-norm-blaster
#     (NORM, reliable, ACK-based flow control; when libnorm is installed) vs qsm-node run (reliable
#     QSM), and QSM with packing off (--datagram-bytes 0), msgs/s of the slowest receiver
#  2. 1000-byte messages: adaptive rounds (default) vs the paper's fixed token rate (5 rounds/s)
#  3. token RTT at the region leader, K = 1 (2 nodes): nearly idle (200 msgs/s) vs full rate
#  4. throughput with 1 vs 10,000 groups in the region
#  5. the cluster key's cost: throughput and CPU per message with and without --key (medians of
#     BENCH_PAIRS alternated pairs)
set -euo pipefail
build=${1:-build/release}
node=$build/daemons/qsm-node
blaster=$build/harness/blaster/qsm-blaster
norm=$build/harness/blaster/qsm-norm-blaster  # absent without libnorm: its columns say n/a
seconds=${BENCH_SECONDS:-3}
size=1000  # message bytes; everything else at its default

# run_engine K EXTRA...: K receivers + 1 sender (the last node); prints one JSON line per node.
run_engine() {
  local k=$1; shift
  local members=() pids=() out
  out=$(mktemp -d)
  for i in $(seq 1 $((k + 1))); do members+=(--member "$i=127.0.0.1:$((7200 + i))"); done
  local start=$(( $(date +%s%3N) + 400 ))
  for i in $(seq 1 $((k + 1))); do
    local load=()
    [[ $i -eq $((k + 1)) ]] && load=(--send-seconds "$seconds")
    "$node" run --node-id "$i" "${members[@]}" --size "$size" "${load[@]}" "$@" \
      --duration $((seconds + 3)) --start-at-ms $start --json >"$out/$i.json" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  cat "$out"/*.json
  rm -rf "$out"
}
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }
# slowest receiver (all nodes but the sender, which is the last)
min_receiver_rate() { head -n "$1" | field delivered_per_s | sort -n | head -1; }
# messages sent but missing at the slowest receiver (QSM is reliable: must be 0)
undelivered() {
  local runs=$2 sent least
  sent=$(echo "$runs" | tail -1 | sed -n 's/.*"sent":\([0-9]*\).*/\1/p')
  least=$(echo "$runs" | head -n "$1" | sed -n 's/.*"delivered":\([0-9]*\).*/\1/p' | sort -n | head -1)
  echo $((sent - least))
}

# NORM's msgs/s at the slowest receiver, or n/a; its undelivered messages go to stderr.
norm_rate() {
  [[ -x $norm ]] || { echo n/a; return; }
  local out rate
  out=$("$norm" --receivers "$1" --size "$2" --duration "$seconds" --json) ||
    echo "qsm-norm-blaster: not everything delivered: $out" >&2
  rate=$(echo "$out" | grep -o '"per_s":[0-9]*' | cut -d: -f2 | sort -n | head -1)
  echo "${rate:-n/a}"  # n/a: it printed no result at all
}
ratio() { [[ $2 == n/a ]] && echo n/a || printf "%.2f" "$(echo "$1 / $2" | bc -l)"; }

printf "%-6s %-3s %12s %12s %12s %8s %9s %16s %8s %12s\n" bytes K "raw msgs/s" "NORM msgs/s" "QSM msgs/s" \
  "QSM/raw" "QSM/NORM" "unpacked msgs/s" "packing" "undelivered"
for size in 64 1000 8192; do
  for k in 1 4; do
    raw=$("$blaster" --receivers $k --size "$size" --duration "$seconds" --json | grep -o '"per_s":[0-9]*' |
      cut -d: -f2 | sort -n | head -1)
    nrm=$(norm_rate $k "$size")
    runs=$(run_engine $k)
    qsm=$(echo "$runs" | min_receiver_rate $k)
    unpacked_runs=$(run_engine $k --datagram-bytes 0)
    unpacked=$(echo "$unpacked_runs" | min_receiver_rate $k)
    printf "%-6s %-3s %12.0f %12s %12.0f %8.2f %9s %16.0f %8.2f %6d + %-5d\n" "$size" $k "$raw" "$nrm" "$qsm" \
      "$(echo "$qsm / $raw" | bc -l)" "$(ratio "$qsm" "$nrm")" "$unpacked" "$(echo "$qsm / $unpacked" | bc -l)" \
      "$(undelivered $k "$runs")" "$(undelivered $k "$unpacked_runs")"
  done
done
size=1000

echo
printf "%-3s %16s %20s %8s\n" K "adaptive msgs/s" "fixed 5/s msgs/s" "ratio"
for k in 1 4; do
  qsm=$(run_engine $k | min_receiver_rate $k)
  fixed=$(run_engine $k --rounds fixed | min_receiver_rate $k)
  printf "%-3s %16.0f %20.0f %8.2f\n" $k "$qsm" "$fixed" "$(echo "$qsm / $fixed" | bc -l)"
done

echo
idle=$(run_engine 1 --rate 200 | head -1)
busy=$(run_engine 1 | head -1)
printf "token RTT at the region leader (K = 1, 2 nodes): idle p50 %s us p99 %s us; full rate p50 %s us p99 %s us" \
  "$(echo "$idle" | field token_rtt_p50_us)" "$(echo "$idle" | field token_rtt_p99_us)" \
  "$(echo "$busy" | field token_rtt_p50_us)" "$(echo "$busy" | field token_rtt_p99_us)"
printf " (p99 full/idle %.1f)\n" "$(echo "$(echo "$busy" | field token_rtt_p99_us) / $(echo "$idle" | field token_rtt_p99_us)" | bc -l)"

echo
one=$(run_engine 2 --groups 1 | min_receiver_rate 2)
many=$(run_engine 2 --groups 10000 | min_receiver_rate 2)
printf "groups: 1 group %.0f msgs/s, 10000 groups %.0f msgs/s (ratio %.2f)\n" "$one" "$many" "$(echo "$many / $one" | bc -l)"
"$build/engine/sim/group_memory_bench" 2>/dev/null | grep BM_

# 5. The cluster key's cost (engine/README.md, "Trust model"): the same run with and without
# --key, 1000-byte messages, BENCH_PAIRS (default 3) alternated pairs per configuration, since one
# run's throughput varies by about 10% on a shared machine; the table gives the medians of the
# runs and of the pairs' ratios. CPU: seconds of all nodes per million messages delivered to the
# slowest receiver.
echo
pairs=${BENCH_PAIRS:-3}
key_dir=$(mktemp -d)
trap 'rm -rf "$key_dir"' EXIT
"$node" keygen "$key_dir/cluster.key"
cpu_per_million() {  # $1: K, $2: the runs' JSON lines
  local cpu delivered
  cpu=$(echo "$2" | field cpu_s | paste -sd+ | bc -l)
  delivered=$(echo "$2" | head -n "$1" | sed -n 's/.*"delivered":\([0-9]*\).*/\1/p' | sort -n | head -1)
  echo "$cpu * 1000000 / $delivered" | bc -l
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
echo "the cluster key's cost: medians of $pairs alternated pairs of runs"
printf "%-6s %-3s %14s %14s %8s %18s %18s %8s %12s\n" bytes K "no key msgs/s" "key msgs/s" "ratio" \
  "no key cpu s/M" "key cpu s/M" "ratio" "undelivered"
for size in 1000 64 8192; do
  for k in 1 4; do
    p="" q="" pc="" qc="" rate_ratio="" cpu_ratio="" missing=0
    for _ in $(seq "$pairs"); do
      plain=$(run_engine $k)
      keyed=$(run_engine $k --key "$key_dir/cluster.key")
      p1=$(echo "$plain" | min_receiver_rate $k) q1=$(echo "$keyed" | min_receiver_rate $k)
      pc1=$(cpu_per_million $k "$plain") qc1=$(cpu_per_million $k "$keyed")
      p+=" $p1" q+=" $q1" pc+=" $pc1" qc+=" $qc1"
      rate_ratio+=" $(echo "$q1 / $p1" | bc -l)" cpu_ratio+=" $(echo "$qc1 / $pc1" | bc -l)"
      missing=$((missing + $(undelivered $k "$plain") + $(undelivered $k "$keyed")))
    done
    printf "%-6s %-3s %14.0f %14.0f %8.2f %18.2f %18.2f %8.2f %12d\n" "$size" $k "$(echo "$p" | median)" \
      "$(echo "$q" | median)" "$(echo "$rate_ratio" | median)" "$(echo "$pc" | median)" "$(echo "$qc" | median)" \
      "$(echo "$cpu_ratio" | median)" "$missing"
  done
done
size=1000
