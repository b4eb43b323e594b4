// The plan one node runs: written by qsm-harness (one JSON file per node), read by `qsm-node run
// --plan FILE` and by the simulation launcher. It is the scenario resolved for one node: its view,
// the groups it joins, the load it sends, and its in-process fault windows, already expanded from
// their seeded schedules so that the node and the harness agree on every window.
// The file format is documented in harness/RESULTS.md ("Node plan").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/core/endpoint.h"
#include "engine/core/status.h"
#include "engine/core/time.h"
#include "faults/schedule.h"

namespace qsm::harness {

struct PlanMember {
  uint32_t id = 0;
  Endpoint endpoint;
};

struct NodePlan {
  std::string engine = "qsm";  // the engine under test: qsm, udp or norm (workload/engine_driver.h)
  uint32_t node_id = 0;
  std::vector<PlanMember> members;  // the region view, in view order; includes this node
  Endpoint region_multicast;        // the region's multicast address:port (static views only)
  // With a GMS: views come from it (members then only gives this node's endpoint), the node
  // registers its groups there and heartbeats every `heartbeat`.
  std::optional<Endpoint> gms;
  Duration heartbeat = 1s;
  // With a GMS: each send group's members at the start (group -> node ids). The load starts when
  // this node's views of its send groups include them all, or `await_members_for` after the start,
  // whichever comes first: a message belongs to the members of the view it is sent in, so a node
  // that registers late (launched late, or slow to get its view) would miss the first messages.
  std::map<uint32_t, std::vector<uint32_t>> group_members;
  Duration await_members_for = 10s;
  uint32_t interface_address = 0;  // IPv4 of the multicast interface, host order
  std::vector<uint32_t> joined;    // groups this node delivers
  // Load: this node sends iff send_groups is non-empty, round robin over send_groups.
  std::vector<uint32_t> send_groups;
  double rate = 0;  // messages/s; 0: as fast as the window and the socket allow
  size_t message_size = 1000;
  Duration send_for{};      // sending stops this long after the start...
  uint64_t send_count = 0;  // ...or after this many messages (0: no limit)
  // Engine parameters.
  double token_rate = 5;
  bool adaptive_rounds = true;  // RegionConfig::adaptive_rounds
  size_t replication = 5;
  bool adaptive_window = false;     // SenderWindow::adaptive
  size_t window_bytes = 20 << 20;   // SenderWindow::max_bytes
  size_t window_messages = 0;       // SenderWindow::max_messages
  size_t datagram_bytes = 8972;     // NodeConfig::datagram_bytes
  // In-process faults, as offsets from the start.
  std::vector<faults::Window> sleeps;       // the core thread stops
  std::vector<faults::Window> loss_bursts;  // every incoming datagram dropped
  double loss_rate = 0;                     // each incoming datagram dropped with this probability
  uint64_t seed = 1;
  Duration tick = 1s;     // a progress record every tick
  Duration max_run = 1h;  // the node stops by itself after this long (a harness that died)
};

std::string PlanToJson(const NodePlan& plan);
// Errors name the offending key.
Result<NodePlan> PlanFromJson(const std::string& text);

}  // namespace qsm::harness
