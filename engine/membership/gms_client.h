// GmsClient: a node's side of the membership protocol (gms.h). It registers the node and its
// groups, sends heartbeats, and applies the GMS's view updates in order, telling its listener
// about every region view and group view that changed for this node.
//
// Order: views are applied in view-number order per region and per group; an older or repeated
// view is ignored, so a reordered or duplicated update can never roll a view back. Within an
// update, region views go to the listener before group views, so when a group view arrives the
// regions it names are known (a group view naming a region the node has not seen yet is passed
// on too; the listener treats such a group as not ready).
//
// Repair: the client reports in every heartbeat the last epoch it applied with nothing missing
// before it (an update's prev_epoch must equal it, and every part must arrive). Until the GMS
// acknowledges the node's current group set, the Register is sent again every second heartbeat.
// A snapshot lists everything the node needs: what it does not list is reported gone.
// Threading: core thread only.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "engine/core/scheduler.h"
#include "engine/transport/transport.h"
#include "engine/wire/packets.h"

namespace qsm::membership {

class ViewListener {
 public:
  virtual ~ViewListener() = default;
  // A newer view of a region this node is in or sends to. No members: the region is gone (or
  // this node no longer needs it).
  virtual void OnRegionView(const wire::RegionView& view) = 0;
  // A newer view of one of this node's groups. No regions: nobody is in it (or the node left it).
  virtual void OnGroupView(const wire::GroupView& view) = 0;
  // Every part of an update (one GMS commit, or a snapshot) has been applied, and no earlier
  // update is missing: every view the GMS had committed for this node by then is known now.
  virtual void OnUpdateComplete() {}
};

struct GmsClientConfig {
  wire::NodeId node = 0;
  uint64_t incarnation = 1;  // must grow with every restart of the node (e.g. start time)
  Endpoint gms;
  Duration heartbeat_interval = 1s;
};

struct GmsClientStats {
  uint64_t updates_applied = 0;  // view update parts
  uint64_t gaps = 0;             // updates whose prev_epoch showed a missed one
  uint64_t stale_views = 0;      // views no newer than the one held
  uint64_t registers_sent = 0;
};

class GmsClient {
 public:
  // All references must outlive the client.
  GmsClient(GmsClientConfig config, Scheduler& scheduler, Transport& transport, ViewListener& listener);
  ~GmsClient();

  // Registers with the current groups and starts heartbeats.
  void Start();
  // The node's whole group set from now on; registered at once.
  void SetGroups(std::vector<wire::GroupId> groups);
  // Leaves the cluster (the GMS removes the node without waiting for the failure timeout) and
  // stops heartbeats.
  void Deregister();

  // A kViewUpdate from the GMS (others are ignored).
  void OnViewUpdate(const wire::ViewUpdatePacket& update, const Endpoint& from);

  bool registered() const { return acked_version_ == groups_version_ && groups_version_ > 0; }
  uint64_t applied_epoch() const { return applied_epoch_; }
  const std::map<uint32_t, wire::RegionView>& regions() const { return regions_; }
  const std::map<wire::GroupId, wire::GroupView>& groups() const { return groups_; }
  const GmsClientStats& stats() const { return stats_; }

 private:
  void SendRegister();
  void OnHeartbeatTimer(TimePoint now);
  void Send(const wire::Packet& packet);

  GmsClientConfig config_;
  Scheduler& scheduler_;
  Transport& transport_;
  ViewListener& listener_;
  std::vector<wire::GroupId> groups_wanted_;
  uint64_t groups_version_ = 0;
  uint64_t acked_version_ = 0;
  uint64_t heartbeat_seq_ = 0;
  int unacked_heartbeats_ = 0;  // heartbeats since the last Register
  uint64_t applied_epoch_ = 0;
  // The update being received: its epoch, whether its chain is intact, parts still missing, and
  // for a snapshot, the regions and groups it listed.
  struct Incoming {
    uint64_t epoch = 0;
    bool intact = false;
    bool snapshot = false;
    std::set<uint16_t> missing;
    std::set<uint32_t> listed_regions;
    std::set<wire::GroupId> listed_groups;
  };
  Incoming incoming_;
  std::map<uint32_t, wire::RegionView> regions_;
  std::map<wire::GroupId, wire::GroupView> groups_;
  GmsClientStats stats_;
  bool stopped_ = false;
  AlarmId heartbeat_alarm_;
  std::vector<std::byte> scratch_;
};

}  // namespace qsm::membership
