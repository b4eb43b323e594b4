#!/usr/bin/env bash
# `make demo`: the default perturbation suite on a local cluster (4 qsm-node processes on
# loopback): a baseline, a receiver that sleeps 0.5 s every 5 s, and a receiver that drops all
# input for 10 ms every 1 s. Prints one row per run and the throughput of each perturbed run as a
# fraction of the baseline, and says where the results folder is. Exits non-zero if any delivery
# check fails. Extra arguments go to qsm-harness (e.g. --set duration=60s).
set -euo pipefail
build=${1:-build/release}
shift || true
exec "$build/harness/qsm-harness" suite default "$@"
