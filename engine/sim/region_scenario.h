// A QSM region in the deterministic simulator, with a load and faults, and a delivery check: the
// building block of the simulation tests and of `qsm-harness sim`. Every node is a qsm::Node in one
// region view; `senders` nodes send `messages` each, round robin over `groups` groups,
// through a feed (the pull stack); every member joins every group. The check: every surviving
// member delivers every message exactly once and in order per sender and group; at the end every
// sender's pending-ACK window and every cache is empty.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/node/node.h"
#include "engine/sim/sim_cluster.h"

namespace qsm::sim {

struct SleepFault {
  size_t node;
  Duration every;
  Duration duration;
};
struct LossBurstFault {
  size_t node;
  Duration every;
  Duration duration;
};
// `node` drops this fraction of what arrives, at random, for the whole run.
struct InboundLossFault {
  size_t node;
  double rate;
};
// At `at`, every other member installs a view without `node`, and `node` goes silent.
struct DropMemberFault {
  size_t node;
  Duration at;
};

struct RegionScenario {
  size_t nodes = 5;
  size_t senders = 1;
  size_t first_sender = 0;  // senders are nodes first_sender .. first_sender + senders - 1
  size_t groups = 1;
  uint64_t messages = 1000;  // per sender
  size_t payload_bytes = 100;
  bool unordered = false;  // every member joins the groups as unordered (deliver on arrival)
  // Senders stop after `pause_after` messages (0: never) and go on again at `resume_at`.
  uint64_t pause_after = 0;
  Duration resume_at{};
  uint64_t seed = 1;
  LinkModel link;
  HostModel host;
  std::shared_ptr<const ClusterKeys> keys;  // set: every datagram sealed with them (ClusterConfig::keys)
  NodeConfig node;  // template; id is set per node
  std::vector<SleepFault> sleeps;
  std::vector<LossBurstFault> loss_bursts;
  std::vector<InboundLossFault> inbound_loss;
  std::optional<DropMemberFault> drop;
  Duration max_time = 60s;          // give up (and fail) after this much virtual time
  std::function<void()> on_finish;  // called at the end, while the cluster still exists
};

struct RegionResult {
  bool ok = false;
  std::vector<std::string> violations;  // the first few, human-readable
  uint64_t expected = 0;                // deliveries expected over all surviving members
  uint64_t delivered = 0;
  Duration completion_time{};         // virtual time until everything was delivered
  uint64_t token_rounds = 0;          // rounds completed by the region leader
  uint64_t rounds_at_completion = 0;  // rounds the region leader completed until then
  uint64_t rounds_during_pause = 0;   // rounds completed in the last second before resume_at
  uint64_t rounds_after_idle = 0;     // rounds completed in the 3 s after everything settled
  Histogram region_rtt_ns;            // merged over nodes (only the leader records)
  std::vector<Histogram> delivery_latency_ns;  // by node
  size_t pending_messages_at_end = 0;
  size_t cached_messages_at_end = 0;
  uint64_t trace_hash = 0;
  NodeStats totals;  // counters summed over nodes
  std::string Summary() const;
};

// Runs the scenario. Deterministic: same scenario, same result (and trace_hash).
RegionResult RunRegionScenario(const RegionScenario& scenario);

}  // namespace qsm::sim
