// Resolving a scenario into what each node runs: one NodePlan per node (its view, groups, load and
// in-process fault windows) and the list of every fault window of the run (for the process and
// network injectors, the time series and the summary). Deterministic: the same scenario gives the
// same plans and windows; each fault's random schedule has its own seed, derived from the
// scenario's seed and the fault's position.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "harness/scenario/scenario.h"
#include "harness/workload/node_plan.h"

namespace qsm::harness {

// One fault window: `type` active on `nodes` during [start, end) after the start of the run.
struct FaultWindow {
  FaultType type;
  std::vector<uint32_t> nodes;
  Duration start{};
  Duration end{};
  double rate = 0;           // loss
  bool via_network = false;  // applied with nftables
};

// Where the launcher puts the nodes.
struct Addressing {
  std::function<Endpoint(uint32_t id)> endpoint;   // a node's unicast address:port
  std::function<uint32_t(uint32_t id)> interface;  // a node's multicast interface address
  Endpoint region_multicast;                       // static views
  Endpoint gms;                                    // where qsm-gms listens (scenarios with gms)
};

struct ResolvedRun {
  Scenario scenario;
  std::vector<NodePlan> plans;       // plans[id - 1]
  std::vector<FaultWindow> windows;  // every fault window, by start
  uint32_t senders() const { return scenario.senders; }
  bool is_sender(uint32_t id) const { return id >= 1 && id <= scenario.senders; }
};

// The groups each node joins (index id - 1): all of 1..groups, or with membership: zipf, the
// paper's Zipf workload (engine/membership/group_sets.h) drawn from the scenario's seed.
std::vector<std::vector<uint32_t>> GroupsOfNodes(const Scenario& scenario);

// Errors name the scenario key that cannot be honoured.
Result<ResolvedRun> Resolve(const Scenario& scenario, const Addressing& addressing);

// Drops the windows that start after `ended` (the run ended first) and cuts the others there.
void TrimWindows(std::vector<FaultWindow>& windows, Duration ended);

// How a window is applied: "network" (nftables, or the simulator's network), "signal" (pause,
// crash) or "process" (inside the node).
const char* ViaOf(const FaultWindow& window);

// Fault types active on `node` at some time in [from, to), separated by ";" ("" if none). A
// crash stays active.
std::string ActiveFaults(const std::vector<FaultWindow>& windows, uint32_t node, Duration from, Duration to);

}  // namespace qsm::harness
