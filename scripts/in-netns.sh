#!/usr/bin/env bash
# Runs a command inside a fresh network namespace that has only `lo` (up), then removes it, also
# when the command fails or is interrupted. Without root (or without `ip netns`) the command runs
# directly: tests then use 127.0.0.1 only, with the multicast interface set to loopback.
set -euo pipefail
if [[ $(id -u) -ne 0 ]] || ! command -v ip >/dev/null; then
  exec "$@"
fi
ns="qsm-test-$$-${RANDOM}"
cleanup() { ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true; ip netns del "$ns" 2>/dev/null || true; }
trap cleanup EXIT INT TERM
ip netns add "$ns"
ip -n "$ns" link set lo up
QSM_IN_NETNS="$ns" ip netns exec "$ns" "$@"
