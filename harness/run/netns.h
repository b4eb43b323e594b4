// Test hosts as network namespaces: one namespace per node, each with a veth whose other end is
// on a bridge in a hub namespace, node i at 198.18.1.i (DESIGN: network safety - 198.18.0.0/15,
// namespaces this process created). Network faults are nftables rules inside a node's namespace.
// Everything is removed by the destructor; what a harness killed outright left behind is removed
// by the next netns run (RemoveOrphans).
// Needs root. Threading: one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/endpoint.h"
#include "engine/core/status.h"

namespace qsm::harness {

// Runs argv (no shell), waits; stdin_text is written to its stdin. Errors carry its output.
Status RunCommand(const std::vector<std::string>& argv, const std::string& stdin_text = "");

class NetnsCluster {
 public:
  // Creates the hub, the bridge and `nodes` hosts. `tag` makes the names unique ("qsm<tag>-N").
  static Result<std::unique_ptr<NetnsCluster>> Create(uint32_t nodes, const std::string& tag);
  ~NetnsCluster();

  static uint32_t Address(uint32_t id) {
    return Endpoint::FromOctets(198, 18, 1, static_cast<uint8_t>(id), 0).address;
  }
  // The command prefix that runs a program on host `id`.
  std::vector<std::string> ExecPrefix(uint32_t id) const;
  // Connects this (the root) namespace to the bridge at 198.18.0.254, so that a Prometheus here
  // can scrape the hosts. Removed with the hub.
  Status AddUplink();
  // Replaces host `id`'s fault rules (an nftables ruleset body for the input chain; "" = none).
  Status SetInputRules(uint32_t id, const std::string& rules);
  // Removes every namespace whose name starts with "qsm<tag>-".
  static void Cleanup(const std::string& tag);
  // Removes the namespaces of harness processes that no longer exist (killed with SIGKILL, say):
  // names "qsm<pid>-..." whose pid is gone.
  static void RemoveOrphans();

 private:
  NetnsCluster(uint32_t nodes, std::string tag) : nodes_(nodes), tag_(std::move(tag)) {}
  std::string Name(uint32_t id) const { return "qsm" + tag_ + "-" + std::to_string(id); }
  std::string Hub() const { return "qsm" + tag_ + "-hub"; }

  uint32_t nodes_;
  std::string tag_;
};

}  // namespace qsm::harness
