// The global membership service (PROTOCOL.md §2): registrations, group membership, failure
// detection, and the region and group views it derives (membership.h), sent to each node as
// incremental, batched view updates.
//
// Transport: GMS traffic is UDP unicast through the engine's own Transport, in the engine's wire
// format (kRegister, kHeartbeat, kDeregister, kViewUpdate). Why not TCP: the GMS must run in the
// deterministic simulator beside thousands of nodes, and a node's heartbeat already gives a
// periodic channel to repair anything lost; one mechanism instead of two. Reliability is
// declarative rather than per message:
//   - a node's Register carries its whole group set and a version; the node repeats it with
//     every heartbeat until a view update acknowledges that version (a lost or reordered Register
//     cannot leave the GMS with a wrong group set);
//   - every view update names the epoch of the previous one sent to that node; a node that
//     misses one keeps reporting its last complete epoch in heartbeats, and the GMS answers with
//     a snapshot of everything the node needs (views are monotonic, so applying a newer view
//     over a missed one is always safe, and the snapshot also says what is gone).
//
// Batching: changes (registrations, group changes, failures, departures) are staged and
// committed together `batch_delay` after the first one (orig: 0.1 s). A commit gives changed
// regions and groups new view numbers and sends each affected node one update holding exactly
// the views that changed for it, split into parts that fit a datagram.
//
// Failure detection: a node not heard from for `failure_timeout` (orig: 10 missed 1 s heartbeats)
// is removed; so is a node that deregisters, or whose newer incarnation registers.
//
// Restart: the GMS persists its membership (nodes, groups, regions with view numbers and
// addresses, the epoch) through GmsStore after every commit and before sending its updates, so a
// node never sees a view the GMS could forget. A restarted GMS reloads it, gives every node a fresh
// failure timeout, and answers each node's next heartbeat with a snapshot (it does not persist
// what each node was told). Nothing is rebuilt from re-registration except for nodes the GMS
// does not know (a lost state file): those are told so, and register again.
// Threading: core thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "engine/core/scheduler.h"
#include "engine/membership/membership.h"
#include "engine/transport/transport.h"
#include "engine/wire/packet_handler.h"

namespace qsm::membership {

// Where the GMS keeps its state across restarts (a file in the daemon, memory in tests).
class GmsStore {
 public:
  virtual ~GmsStore() = default;
  // The last saved state, or nullopt if there is none.
  virtual Result<std::optional<std::string>> Load() = 0;
  // Replaces the saved state, atomically.
  virtual Status Save(const std::string& state) = 0;
};

class MemoryStore final : public GmsStore {
 public:
  Result<std::optional<std::string>> Load() override { return state_; }
  Status Save(const std::string& state) override {
    state_ = state;
    ++saves_;
    return {};
  }
  size_t saves() const { return saves_; }

 private:
  std::optional<std::string> state_;
  size_t saves_ = 0;
};

struct GmsConfig {
  Duration failure_timeout = 10s;  // no heartbeat for this long: the node has failed
  Duration batch_delay = 100ms;    // changes are committed together this long after the first
  Duration resend_after = 1s;      // a node still behind this long after an update gets a snapshot
  Endpoint multicast_first = Endpoint::FromOctets(239, 255, 1, 1, 7400);  // the address pool
  uint32_t multicast_count = 1024;
  size_t max_update_bytes = 8192;  // view updates are split into datagrams of at most this size (nodes
                                   // take at most 9216 bytes: transport max_datagram_bytes)
};

struct GmsStats {
  uint64_t commits = 0;
  uint64_t registrations = 0;  // new nodes and new incarnations
  uint64_t group_changes = 0;
  uint64_t failures = 0;      // nodes removed by the failure detector
  uint64_t departures = 0;    // nodes that deregistered
  uint64_t updates_sent = 0;  // view update datagrams
  uint64_t snapshots_sent = 0;
  uint64_t save_errors = 0;
  uint64_t ignored = 0;  // packets from unknown or stale incarnations, or of the wrong type
};

// The log lines of one commit, as qsm-gms prints them: a summary, each removed node, each changed
// region view ("  region 3 view 4 at 239.255.1.3:7400: members [1 2 5]").
std::string DescribeCommit(const Membership& membership, uint64_t epoch, const Membership::Changes& changes);

class Gms final : public PacketHandler {
 public:
  // All references must outlive the GMS.
  Gms(GmsConfig config, Scheduler& scheduler, Transport& transport, GmsStore& store);
  ~Gms() override;

  // Loads the saved state (if any) and starts the failure detector.
  Status Start();

  void OnPacket(const wire::Packet& packet, std::span<const std::byte> datagram, const Endpoint& from,
                TimePoint at) override;

  // Called after every commit, once its updates are sent (the daemon logs them).
  using CommitObserver = std::function<void(uint64_t epoch, const Membership::Changes& changes)>;
  void SetCommitObserver(CommitObserver observer) { observer_ = std::move(observer); }

  const Membership& membership() const { return membership_; }
  uint64_t epoch() const { return epoch_; }
  const GmsStats& stats() const { return stats_; }

 private:
  // What the GMS knows about one registered node beyond the membership model.
  struct Peer {
    uint64_t incarnation = 0;
    Endpoint endpoint;
    TimePoint last_heard{};
    uint64_t groups_version = 0;   // the latest version received, staged or committed (the
                                   // committed one is the membership's NodeInfo::groups_version)
    uint64_t last_sent_epoch = 0;  // epoch of the last update sent to it
    TimePoint last_sent_at{};
    bool needs_snapshot = false;
    std::map<RegionId, uint32_t> known_regions;  // region views it was sent
    std::map<GroupId, uint32_t> known_groups;    // group views it was sent
  };

  // A node registers or changes its groups.
  void OnRegister(const wire::RegisterPacket& p, TimePoint now);
  // A node is alive; repairs what it missed.
  void OnHeartbeat(const wire::HeartbeatPacket& p, const Endpoint& from, TimePoint now);
  void OnDeregister(const wire::DeregisterPacket& p);
  // Failure detector, every failure_timeout / 10.
  void OnSweep(TimePoint now);
  // Stages `node`'s removal.
  void RemovePeer(NodeId node);
  void ScheduleCommit();
  // Applies the staged changes, persists them, and sends each affected node its update.
  void Commit(TimePoint now);
  // The version of `peer`'s group set in the committed membership (0: none committed for this
  // incarnation yet; a restarted node's previous life does not count).
  uint64_t CommittedVersion(NodeId node, const Peer& peer) const;
  // Sends `node` the views that changed for it (all of them, if `snapshot`).
  void SendUpdate(NodeId node, Peer& peer, bool snapshot, TimePoint now);
  void Send(const Endpoint& to, const wire::Packet& packet);

  GmsConfig config_;
  Scheduler& scheduler_;
  Transport& transport_;
  GmsStore& store_;
  Membership membership_;
  std::map<NodeId, Peer> peers_;
  uint64_t epoch_ = 0;
  GmsStats stats_;
  CommitObserver observer_;
  AlarmId commit_alarm_;
  AlarmId sweep_alarm_;
  std::vector<std::byte> scratch_;
};

}  // namespace qsm::membership
