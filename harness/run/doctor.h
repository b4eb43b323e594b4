// `qsm-harness doctor`: what this machine (and, with an inventory, its hosts) lacks for the
// harness, each with what to do about it: socket buffer limits, root and `ip netns` for the netns
// launcher, nftables for network faults, gnuplot for the figures, Prometheus and promtool, Chromium
// for the report's browser test, Ansible for the inventory launcher, the node binaries, and the
// hosts' clocks (an inventory run starts every node at one wall-clock time).
// Threading: none; runs a few programs as child processes.
#pragma once

#include <string>
#include <vector>

namespace qsm::harness {

struct Finding {
  enum class Level { kOk, kWarn, kFix };  // fine; works, but worse; does not work until fixed
  Level level = Level::kOk;
  std::string check;   // what was looked at ("gnuplot")
  std::string detail;  // what was found
  std::string fix;     // what to do (kWarn, kFix)
};

struct DoctorOptions {
  std::string path;         // where to look for programs (PATH's format)
  std::string node_binary;  // the qsm-node the harness would run
  std::string inventory;    // with one: the hosts' clocks, through Ansible
  std::string proc = "/proc";  // where the kernel's settings are read
};

std::vector<Finding> Doctor(const DoctorOptions& options);

// The findings as the terminal shows them, one per line ("ok", "warn" or "FIX", the check, the
// detail, and on the next line the fix).
std::string FormatFindings(const std::vector<Finding>& findings);

}  // namespace qsm::harness
