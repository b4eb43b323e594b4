// Launchers: run one resolved scenario and return what it produced (RunRecord).
//   local  qsm-node processes on 127.0.0.1; no root needed.
//   netns  qsm-node processes, each on its own host (network namespace) on a bridge; root.
//   sim    the engine in this process, in virtual time (engine/sim), for hundreds of nodes.
//   inventory  one node per host of an Ansible inventory, run by the playbooks (inventory_launcher.cc).
// Process launchers apply process faults (pause: SIGSTOP/SIGCONT; crash: SIGKILL, then the
// survivors are told to install a view without the node, or with gms, qsm-gms finds out itself)
// and, in netns, network faults with nftables; in-process faults are in each node's plan. A
// scenario with gms runs qsm-gms for the run (log and state in the run folder; local: on
// 127.0.0.1, netns: in this namespace on the bridge, 198.18.0.254). A node that exits on its own is reported
// and ends the run; Ctrl-C (the `interrupted` flag) stops every node cleanly so that they still
// write their results.
#pragma once

#include <atomic>
#include <string>

#include "harness/run/summary.h"

namespace qsm::harness {

struct LaunchOptions {
  std::string node_binary;  // qsm-node
  std::string gms_binary;   // qsm-gms, for scenarios with gms ("": the one beside node_binary)
  std::string run_dir;      // the run's results folder (created by the caller)
  bool progress = true;     // a progress line on stderr
  const std::atomic<bool>* interrupted = nullptr;
  // Process launchers: every node serves /metrics, the harness serves its own, and a Prometheus
  // server scrapes them every second for the run (data in RUN/prometheus/, see prometheus.h).
  bool prometheus = false;
  std::string rules_file;  // Prometheus rules to load (exporters/prometheus/rules.yml)
  // The inventory launcher: the Ansible inventory, and the folder of the playbooks (run.yml).
  std::string inventory;
  std::string playbooks_dir;
};

Result<RunRecord> RunProcesses(const Scenario& scenario, const LaunchOptions& options);  // local, netns
Result<RunRecord> RunSimulation(const Scenario& scenario, const LaunchOptions& options);
Result<RunRecord> RunInventory(const Scenario& scenario, const LaunchOptions& options);

// Prints "[name] phase elapsed/total, left, msgs/s" on stderr: in place on a terminal, else
// every 5 s.
class ProgressLine {
 public:
  ProgressLine(std::string name, bool enabled);
  ~ProgressLine();
  void Update(const std::string& phase, double elapsed_s, double total_s, double msgs_per_s);

 private:
  std::string name_;
  bool enabled_;
  bool tty_;
  double last_print_s_ = -1e9;
  bool printed_ = false;
};

std::string UtcNow();

}  // namespace qsm::harness
