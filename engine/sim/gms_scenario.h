// A cluster with its GMS in deterministic simulation: host 0 runs the GMS (qsm-gms's state
// machine, restartable, with its state in memory), hosts 1..N run qsm::Node with membership from
// the GMS. Nodes join groups, send paced loads, and go through timed events: joining and leaving
// groups, crashing, the GMS restarting, loss windows over a whole region. Every run checks the
// delivery guarantees across view changes (DeliveryRules below) and, at the end, that the GMS and
// every live node agree on the views and that every live sender's pending window is empty.
//
// DeliveryRules, per receiver r, sender s and group g, over r's deliveries of s's messages to g:
//  1. Exactly once and in order within each stretch of r's membership of g: the group seqs r
//     delivers during one stretch are consecutive.
//  2. A stayer (in g from its first view on, alive at the end) starts at 1; one in g at the end
//     ends at s's last message, if s is alive at the end.
//  3. A joiner's stretch starts wherever s was when r's first view came (what s had not yet had
//     acknowledged is re-sent in that view, so a joiner may also get some earlier messages).
//  4. A crashed sender's messages: every stayer delivers at least those s had had acknowledged by
//     every region it sent them to (Node::AcknowledgedThrough at the crash). Beyond that, survivors
//     may differ in how far they got (see engine/README.md, "Guarantees across view changes").
//  5. Crashed and departed members are excluded: the final views hold exactly the live members.
// Threading: one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/membership/gms.h"
#include "engine/node/node.h"
#include "engine/sim/sim_cluster.h"

namespace qsm::sim {

struct GmsLoad {
  wire::NodeId node = 1;
  wire::GroupId group = 1;
  uint64_t messages = 1000;
  double rate = 1000;   // messages/s
  Duration start = 1s;  // after the cluster formed
};

struct GmsEvent {
  enum class Kind {
    kJoin,        // `node` joins `group`
    kLeave,       // `node` leaves `group`
    kCrash,       // `node` stops and goes silent
    kRestartGms,  // the GMS process stops for `duration`, then starts from its saved state
    kRegionLoss,  // every node in `nodes` drops all input for `duration`
  };
  Kind kind = Kind::kJoin;
  Duration at{};
  wire::NodeId node = 0;
  wire::GroupId group = 0;
  Duration duration{};
  std::vector<wire::NodeId> nodes;
};

struct GmsScenario {
  size_t nodes = 6;                                // node ids 1..nodes
  std::vector<std::vector<wire::GroupId>> groups;  // initial groups of node i+1 (default: all in group 1)
  std::vector<GmsLoad> loads;
  std::vector<GmsEvent> events;
  uint64_t seed = 1;
  LinkModel link;
  HostModel host;
  std::shared_ptr<const ClusterKeys> keys;  // set: every datagram sealed with them, the GMS's too
  NodeConfig node;  // template; id is set per node
  membership::GmsConfig gms{.failure_timeout = 600ms, .batch_delay = 100ms, .resend_after = 300ms};
  Duration heartbeat_interval = 100ms;
  Duration max_time = 60s;  // give up (and fail) after this much virtual time
  Duration settle = 2s;     // after the last load and event, before the final checks
};

struct GmsResult {
  bool ok = false;
  std::vector<std::string> violations;  // the first few
  uint64_t delivered = 0;
  uint64_t view_changes = 0;  // region views installed, over nodes
  membership::GmsStats gms;   // of the last GMS incarnation
  uint64_t gms_restarts = 0;
  uint64_t retransmits = 0;  // retransmissions sent by senders
  uint64_t suspensions = 0;
  uint64_t held_packets = 0;
  uint64_t catch_up_skipped = 0;  // catch-up copies a joiner did not deliver (wire::DataPacket)
  // Final region of each live node (id -> region id, 0: none), and the regions of each group.
  std::map<wire::NodeId, uint32_t> region_of;
  std::map<wire::GroupId, std::vector<uint32_t>> regions_of_group;
  uint64_t trace_hash = 0;
  std::string Summary() const;
};

GmsResult RunGmsScenario(const GmsScenario& scenario);

}  // namespace qsm::sim
