#!/usr/bin/env bash
# The cost of observability: the baseline scenario (4 local nodes, 1 sender at max rate) without
# metrics, then with every node serving /metrics and a Prometheus scraping each every second.
# Prints the slowest receiver's msgs/s of each and their ratio. Usage: scripts/bench-scrape.sh [build/release]
set -euo pipefail
build=${1:-build/release}
harness=$build/harness/qsm-harness
seconds=${BENCH_SECONDS:-15}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for mode in plain scraped; do
  flags=()
  [[ $mode == scraped ]] && flags=(--prometheus)
  "$harness" run baseline --set duration=${seconds}s --out "$out/$mode" --quiet --no-plot "${flags[@]}" >/dev/null
done
# summary.json: "msgs_per_s": {"max": ..., "median": ..., "min": ...} - the slowest receiver.
min_rate() { sed -n '/"msgs_per_s"/,/}/s/.*"min": \([0-9.e+]*\).*/\1/p' "$1"; }
plain=$(min_rate "$out/plain/baseline/summary.json")
scraped=$(min_rate "$out/scraped/baseline/summary.json")
printf "no scrape %.0f msgs/s, 1 s scrape of every node %.0f msgs/s, ratio %.3f\n" "$plain" "$scraped" \
  "$(echo "$scraped / $plain" | bc -l)"
