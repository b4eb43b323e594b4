#!/usr/bin/env bash
# `make bench`: every Google Benchmark program, then the raw multicast blaster for K = 1, 2, 4.
# Figures are printed, never asserted (a shared machine's timings are not test verdicts).
set -euo pipefail
build=${1:-build/release}
for b in engine/core/scheduler_bench engine/wire/wire_bench engine/transport/asio/transport_bench \
         engine/transport/auth/auth_bench \
         engine/membership/membership_bench; do
  echo "== $b"
  "$build/$b" --benchmark_min_time=0.2
done
for k in 1 2 4; do
  "$build/harness/blaster/qsm-blaster" --receivers $k --duration 3
done
