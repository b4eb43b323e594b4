// A deterministic cluster: N nodes in one process on a SimNetwork, in virtual time. Every node has
// its own Counters, Scheduler, SimTransport and Random, and runs the same core-thread code as a
// real node (Dispatcher, scheduler rounds); only the clock and the network are simulated. Time
// jumps to the next network event or alarm. A run is fully determined by its seed: trace_hash()
// fingerprints it, and a failing test prints the seed that replays it.
// Threading: one thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "engine/core/counters.h"
#include "engine/core/random.h"
#include "engine/core/scheduler.h"
#include "engine/runtime/dispatcher.h"
#include "engine/transport/auth/authenticated_transport.h"
#include "engine/transport/sim/sim_network.h"
#include "engine/transport/sim/sim_transport.h"

namespace qsm::sim {

// What a protocol instance gets from the cluster. All references live as long as the cluster.
struct NodeContext {
  size_t index;
  Endpoint endpoint;
  Scheduler& scheduler;
  Transport& transport;
  Random& random;
};

struct ClusterConfig {
  size_t nodes = 4;
  uint64_t seed = 1;
  LinkModel link;
  HostModel host;
  uint16_t port = 7000;  // every node's unicast port; node i has address 198.18.0.0 + i + 1
  // Set: every node seals and opens its datagrams with these keys (an AuthenticatedTransport over
  // its host; the host takes kAuthTrailerBytes more than host.max_datagram_bytes).
  std::shared_ptr<const ClusterKeys> keys;
};

class Cluster {
 public:
  using Factory = std::function<std::unique_ptr<PacketHandler>(NodeContext&)>;

  Cluster(const ClusterConfig& config, const Factory& factory);
  ~Cluster();

  // Runs every node and the network until virtual time `end` (or until nothing is scheduled).
  void RunUntil(TimePoint end);
  void RunFor(Duration d) { RunUntil(clock_.Now() + d); }

  // Fault: node `i`'s core thread stops until `until` (input piles up in its socket buffer).
  void Sleep(size_t i, TimePoint until);

  size_t size() const { return nodes_.size(); }
  TimePoint now() const { return clock_.Now(); }
  const Clock& clock() const { return clock_; }
  SimNetwork& network() { return network_; }
  Endpoint endpoint(size_t i) const;
  Counters& counters(size_t i);
  Scheduler& scheduler(size_t i);
  PacketHandler& protocol(size_t i);
  template <typename T>
  T& protocol_as(size_t i) {
    return static_cast<T&>(protocol(i));
  }
  // Fingerprint of everything that happened: the network trace and every node's counters.
  uint64_t trace_hash() const;
  uint64_t seed() const { return config_.seed; }

 private:
  struct Node;
  // Runs every awake node until it has nothing left to do at the current time.
  bool RunNodesNow();
  std::optional<TimePoint> NextEventTime();

  ClusterConfig config_;
  VirtualClock clock_;
  SimNetwork network_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

}  // namespace qsm::sim
