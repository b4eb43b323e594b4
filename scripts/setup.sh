#!/usr/bin/env bash
# Installs the Debian packages the build, tests and demo need. Idempotent: when everything is
# present it only runs dpkg queries (well under a second). Needs root (or sudo) to install.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libboost1.81-dev libgtest-dev libgmock-dev libbenchmark-dev
  clang-16 libclang-rt-16-dev      # libFuzzer target (clang 14 cannot compile libstdc++ 12's <expected>)
  clang-tidy-16                    # make tidy
  libcli11-dev                     # command-line parsing
  nettle-dev                      # the cluster key's MAC, UMAC (engine/transport/auth/)
  libnorm-dev                      # NORM, the reliable-multicast reference in make bench
  iproute2                         # network namespaces for multicast tests
  bc                               # arithmetic in the benchmark scripts
  libyaml-cpp-dev                  # scenario files (qsm-harness)
  nlohmann-json3-dev               # node plans, node results, summary.json
  nftables                         # network faults in netns clusters
  gnuplot-nox                      # figures (plots/)
  chromium                         # the HTML report's browser test (harness/run/report.h)
  prometheus-cpp-dev               # /metrics on every node (exporters/)
  prometheus                       # promtool and the server, for tests and --prometheus
  prometheus-node-exporter         # the playbooks' node_exporter role, run by their test
  ansible-core ansible-lint        # playbooks/ and the inventory launcher, and their tests
  openssh-server python3-apt       # the playbooks' test hosts run sshd; Ansible's apt module
)

# Node.js and npm type-check the Grafana dashboards (scripts/check-dashboards.sh). Machines of this
# kind come with them; elsewhere Debian's packages do.
command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
if dpkg-query -W -f='${Status}' libboost-dev 2>/dev/null | grep -q "install ok installed" &&
   ! dpkg-query -W -f='${Version}' libboost-dev | grep -q '^1\.81'; then
  echo "setup: libboost-dev (1.74) is installed and conflicts with libboost1.81-dev; remove it first" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Packages must not start daemons here (openssh-server would listen on port 22): a policy-rc.d
# that says no, unless the machine has one already (container images do).
policy=/usr/sbin/policy-rc.d
added_policy=""
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod 755 "$policy"
  added_policy=1
fi
trap '[[ -z $added_policy ]] || $sudo rm -f "$policy"' EXIT
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
