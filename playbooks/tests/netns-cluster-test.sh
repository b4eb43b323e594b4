#!/usr/bin/env bash
# The playbooks, for real: three hosts as network namespaces on a bridge (198.19.2.1-3, in the
# benchmarking range 198.18.0.0/15), each with its own sshd; Ansible on this (the controller's)
# namespace reaches them over SSH through an uplink (198.19.0.254).
#   1. site.yml provisions them: packages, limits, qsm-gms on host 1, a long-running qsm-node on
#      every host, Prometheus on host 3 (scraping the nodes and the GMS), Grafana provisioning.
#   2. The GMS sees the three nodes; Prometheus scrapes every target; the cluster key was made,
#      installed 0600 and is in use (an unsealed datagram is an auth drop at the GMS).
#   3. suite.yml runs a suite (sleep and loss-burst perturbations, views from the GMS) across the
#      hosts through qsm-harness's inventory launcher; the results come back and pass the check.
#   4. site.yml again: nothing changes.
#   5. Everything is torn down, also on failure: SSH control connections, every process in the
#      namespaces, the namespaces, the uplink, the temporary folder.
# Usage: netns-cluster-test.sh BUILD_DIR (with qsm-node, qsm-gms, qsm-harness). Needs root,
# ip, sshd and ansible-playbook; exits 77 (skipped) without them. QSM_TEST_KEEP=1 keeps the
# temporary folder (inventory, logs, results) for a look afterwards.
set -euo pipefail

build=$(cd "${1:?usage: netns-cluster-test.sh BUILD_DIR}" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
for tool in ip ansible-playbook ansible-inventory /usr/sbin/sshd ssh-keygen start-stop-daemon; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is missing (scripts/setup.sh installs it)"; exit 77; }
done
[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root (network namespaces, sshd)"; exit 77; }

tag="qsmans$$"
tmp=$(mktemp -d "/tmp/$tag.XXXX")
hosts=(1 2 3)
address() { echo "198.19.2.$1"; }

cleanup() {
  local status=$?
  set +e
  # SSH control masters first (Ansible keeps them 60 s otherwise), then everything in the hosts.
  for socket in "$tmp"/cp/*; do [[ -S $socket ]] && ssh -o ControlPath="$socket" -O exit dummy 2>/dev/null; done
  for h in "${hosts[@]}" hub; do
    ip netns pids "$tag-$h" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$tag-$h" 2>/dev/null
  done
  ip link del "$tag-up" 2>/dev/null
  if ((status != 0)) && [[ -d $tmp ]]; then
    echo "--- failed; the last lines of what ran:"
    tail -n 40 "$tmp"/*.log 2>/dev/null
    for f in "$tmp"/hosts/*/opt/run/*.log; do [[ -f $f ]] && { echo "--- $f"; tail -n 10 "$f"; }; done
  fi
  if [[ -n ${QSM_TEST_KEEP:-} ]]; then echo "kept: $tmp"; else rm -rf "$tmp"; fi
  exit "$status"
}
trap cleanup EXIT INT TERM

step() { echo "== $*"; }

step "hosts: network namespaces on a bridge, each with its own sshd"
ip netns add "$tag-hub"
ip -n "$tag-hub" link set lo up
ip -n "$tag-hub" link add br0 type bridge mcast_snooping 0
ip -n "$tag-hub" link set br0 up
ip link add "$tag-up" type veth peer name uplink netns "$tag-hub"
ip -n "$tag-hub" link set uplink master br0 up
ip addr add 198.19.0.254/16 dev "$tag-up"
ip link set "$tag-up" up
mkdir -p "$tmp/cp" /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$tmp/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/id"
cp "$tmp/id.pub" "$tmp/authorized_keys"
cat > "$tmp/sshd_config" <<EOF
HostKey $tmp/host_key
AuthorizedKeysFile $tmp/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
EOF
for h in "${hosts[@]}"; do
  ns="$tag-$h"
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip -n "$tag-hub" link add "p$h" type veth peer name eth0 netns "$ns"
  ip -n "$tag-hub" link set "p$h" master br0 up
  ip -n "$ns" addr add "$(address "$h")/16" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route add 224.0.0.0/4 dev eth0
  ip netns exec "$ns" /usr/sbin/sshd -f "$tmp/sshd_config" -o "ListenAddress=$(address "$h")" \
    -o "PidFile=$tmp/sshd-$h.pid" -E "$tmp/sshd-$h.log"
done

cat > "$tmp/inventory.ini" <<EOF
[qsm_nodes]
# Node ids from the inventory: h1 and h2 swap theirs (h2 runs node 1, the senders' node).
h1 ansible_host=$(address 1) qsm_node_id=2
h2 ansible_host=$(address 2) qsm_node_id=1
h3 ansible_host=$(address 3)

[qsm_gms]
h1

[prometheus]
h3

[grafana]
h3

[all:vars]
ansible_user=root
# The plays become root (become: true); here by su, as these hosts have no sudo (a real cluster
# logs in as a user with sudo, the default).
ansible_become_method=su
ansible_ssh_private_key_file=$tmp/id
ansible_python_interpreter=/usr/bin/python3
# These hosts share one machine's file system: each keeps its files in its own folder, and
# nothing is written to the real /etc (system-wide limits stay as they are).
qsm_service_manager=supervised
qsm_prefix=$tmp/hosts/{{ inventory_hostname }}/opt
qsm_state_dir=$tmp/hosts/{{ inventory_hostname }}/var
qsm_binaries_dir=$build/daemons
qsm_cluster_key_source=$tmp/cluster.key
qsm_node_service=true
qsm_gms_failure_timeout=2
qsm_node_heartbeat=0.2
common_sysctl_file=$tmp/hosts/{{ inventory_hostname }}/etc/sysctl.d/60-qsm.conf
common_sysctl_apply=false
prometheus_install_package=false
node_exporter_install_package=false
prometheus_config_dir=$tmp/hosts/{{ inventory_hostname }}/etc/prometheus
prometheus_data_dir=$tmp/hosts/{{ inventory_hostname }}/var/prometheus
grafana_provisioning_dir=$tmp/hosts/{{ inventory_hostname }}/etc/grafana/provisioning
grafana_dashboards_dir=$tmp/hosts/{{ inventory_hostname }}/var/grafana/dashboards
grafana_restart=false
suite_harness=$build/harness/qsm-harness
suite_start_delay_ms=4000
EOF

export ANSIBLE_HOST_KEY_CHECKING=False
export ANSIBLE_SSH_CONTROL_PATH_DIR="$tmp/cp"
export ANSIBLE_SSH_ARGS="-o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=/dev/null"
export ANSIBLE_LOCAL_TEMP="$tmp/ansible-local" ANSIBLE_REMOTE_TEMP="$tmp/ansible-remote"
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
playbook() { ansible-playbook -i "$tmp/inventory.ini" "$@"; }

# HTTP GET from this namespace (bash's /dev/tcp): prints the body.
http_get() {
  local host=$1 port=$2 path=$3
  exec 3<>"/dev/tcp/$host/$port" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$host" >&3
  sed '1,/^\r$/d' <&3
  exec 3<&-
}
# Retries `cmd` once a second until it succeeds or `seconds` pass.
eventually() {
  local seconds=$1; shift
  for ((i = 0; i < seconds; ++i)); do "$@" && return 0; sleep 1; done
  "$@"
}

step "1. site.yml: provision, deploy, start the GMS, the nodes, Prometheus"
playbook "$root/playbooks/site.yml" > "$tmp/site-1.log" 2>&1 || { cat "$tmp/site-1.log"; exit 1; }
grep -A5 "PLAY RECAP" "$tmp/site-1.log"

step "2. the GMS sees the three nodes, Prometheus scrapes every target"
gms_has_three() { http_get "$(address 1)" 7390 /metrics | grep -q '^qsm_gms_nodes 3$'; }
eventually 20 gms_has_three || { echo "qsm-gms does not have 3 nodes:"; http_get "$(address 1)" 7390 /metrics | grep qsm_gms; exit 1; }
all_up() {
  local body
  body=$(http_get "$(address 3)" 9090 '/api/v1/query?query=sum(up)') || return 1
  [[ $body == *'"value":['*',"7"]'* ]]
}
node_build() { http_get "$(address 2)" 7090 /metrics | grep -q '^qsm_build_info{.*program="qsm-node"'; }
eventually 10 node_build || { echo "qsm-node on host 2 serves no qsm_build_info on port 7090"; exit 1; }
# node_exporter on 9100 beside each node: the host's UDP buffer errors, not QSM's series.
udp_errors() { http_get "$(address 2)" 9100 /metrics | grep -q '^node_netstat_Udp_RcvbufErrors '; }
eventually 10 udp_errors || { echo "no node_exporter with node_netstat_Udp_RcvbufErrors on host 2's port 9100"; exit 1; }
if http_get "$(address 2)" 9100 /metrics | grep -q '^qsm_'; then echo "QSM series on 9100 (node_exporter's port)"; exit 1; fi
eventually 30 all_up || { echo "Prometheus does not scrape all 7 targets (3 nodes, the GMS, 3 node_exporters):"; http_get "$(address 3)" 9090 /api/v1/targets; exit 1; }
# The node label is a target label from the inventory's ids; the nodes bake none of their own.
node_label() {
  local body
  body=$(http_get "$(address 3)" 9090 '/api/v1/query?query=qsm_build_info%7Bnode%3D%221%22%2Chost%3D%22h2%22%7D') || return 1
  [[ $body == *'"program":"qsm-node"'* && $body != *exported_node* ]]
}
eventually 10 node_label || { echo "Prometheus has no qsm_build_info{node=\"1\", host=\"h2\"}:"; http_get "$(address 3)" 9090 '/api/v1/query?query=qsm_build_info'; exit 1; }
# The config and rules were installed through promtool (validate:): both are valid.
promtool check config "$tmp/hosts/h3/etc/prometheus/prometheus.yml" > /dev/null
# qsm-harness doctor reaches every host of the inventory and compares its clock with this one.
"$build/harness/qsm-harness" doctor --inventory "$tmp/inventory.ini" > "$tmp/doctor.log" 2>&1 || true
for h in h1 h2 h3; do
  grep -q "^ok    clock $h " "$tmp/doctor.log" || { echo "doctor did not check host $h's clock:"; cat "$tmp/doctor.log"; exit 1; }
done
test -s "$tmp/hosts/h3/etc/grafana/provisioning/datasources/qsm.yml"
grep -q "url: http://$(address 3):9090" "$tmp/hosts/h3/etc/grafana/provisioning/datasources/qsm.yml"
test -s "$tmp/hosts/h3/var/grafana/dashboards/qsm-overview.json"
# The cluster key: made once on the controller, installed private on every host, and in use: the
# nodes registered with it (above), and a datagram without it reaches the GMS as an auth drop.
[[ $(stat -c %a "$tmp/cluster.key") == 600 ]]
for h in h1 h2 h3; do
  [[ $(stat -c %a "$tmp/hosts/$h/opt/etc/cluster.key") == 600 ]]
  cmp -s "$tmp/cluster.key" "$tmp/hosts/$h/opt/etc/cluster.key"
done
echo "not sealed" > "/dev/udp/$(address 1)/7300"
auth_drop() { http_get "$(address 1)" 7390 /metrics | grep -q '^qsm_gms_packets_dropped_total{reason="auth"} [1-9]'; }
eventually 5 auth_drop || { echo "qsm-gms did not count an unsealed datagram as an auth drop:"; http_get "$(address 1)" 7390 /metrics | grep dropped; exit 1; }
echo "ok: 3 nodes registered, 7 targets up (node ids from the inventory), node_exporter beside them, Grafana provisioned, the cluster key in use"

step "3. suite.yml: sleep and loss-burst perturbations across the hosts"
cat > "$tmp/sleep.yaml" <<EOF
name: ansible-sleep
description: node 3 sleeps 300 ms every 2 s; views from the playbooks' qsm-gms
nodes: 3
senders: 1
rate: 2000
duration: 4s
warmup: 1s
drain: 3s
gms: true
faults:
  - {type: sleep, nodes: [3], every: 2s, for: 300ms}
EOF
cat > "$tmp/loss-burst.yaml" <<EOF
name: ansible-loss-burst
description: node 2 drops all input 10 ms every 1 s; static views
nodes: 3
senders: 1
rate: 2000
duration: 4s
warmup: 1s
drain: 3s
faults:
  - {type: loss-burst, nodes: [2], every: 1s, for: 10ms}
EOF
cat > "$tmp/suite.yaml" <<EOF
suite: ansible-test
description: a short suite on the playbooks' cluster
runs: [sleep.yaml, loss-burst.yaml]
EOF
playbook "$root/playbooks/suite.yml" -e "suite_scenario=$tmp/suite.yaml" -e "suite_out=$tmp/results" \
  > "$tmp/suite.log" 2>&1 || { cat "$tmp/suite.log"; exit 1; }
runs=("$tmp"/results/*/summary.json)
((${#runs[@]} == 2)) || { echo "expected 2 runs, found: ${runs[*]}"; exit 1; }
for s in "${runs[@]}"; do
  grep -q '"ok": true' "$s" || { echo "check failed: $s"; cat "$s"; exit 1; }
  for id in 1 2 3; do test -s "$(dirname "$s")/nodes/node-$id.json"; done
done
# The harness ran run.yml with the playbooks' ansible.cfg (the log starts with what it changes).
for log in "$tmp"/results/*/ansible.log; do
  grep -q "^DEFAULT_FORKS($root/playbooks/ansible.cfg) = 50" "$log" || { echo "$log: not run with playbooks/ansible.cfg"; head -5 "$log"; exit 1; }
done
# The nodes' own fault metrics reached the cluster's Prometheus, which scrapes no harness: the
# dashboard's fault annotation has its data on an Ansible cluster too.
node_faults() {
  local body
  body=$(http_get "$(address 3)" 9090 '/api/v1/query?query=max%20by%20(type)%20(max_over_time(qsm_fault_windows_total%5B10m%5D))%20%3E%200') || return 1
  [[ $body == *'"type":"sleep"'* && $body == *'"type":"loss-burst"'* ]]
}
eventually 10 node_faults || { echo "the cluster's Prometheus has no qsm_fault_windows_total for sleep and loss-burst"; exit 1; }
"$build/harness/qsm-harness" check "$tmp/results" | tee "$tmp/check.log"
! grep -q FAILED "$tmp/check.log"
echo "ok: both runs passed the delivery check on the controller"

step "4. site.yml again: nothing changes"
playbook "$root/playbooks/site.yml" > "$tmp/site-2.log" 2>&1 || { cat "$tmp/site-2.log"; exit 1; }
grep -A5 "PLAY RECAP" "$tmp/site-2.log"
if grep -E "changed=[1-9]" "$tmp/site-2.log"; then
  grep -B2 -E "^changed:" "$tmp/site-2.log" | head -40
  echo "the second run changed something"
  exit 1
fi
echo "ok: idempotent"
echo "1 passed, 0 failed"
