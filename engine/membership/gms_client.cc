#include "engine/membership/gms_client.h"

#include <algorithm>

#include "engine/core/check.h"

namespace qsm::membership {

GmsClient::GmsClient(GmsClientConfig config, Scheduler& scheduler, Transport& transport,
                     ViewListener& listener)
    : config_(config), scheduler_(scheduler), transport_(transport), listener_(listener) {
  QSM_CHECK(config_.node != 0, "a GMS client needs a node id");
}

GmsClient::~GmsClient() { scheduler_.alarms().Cancel(heartbeat_alarm_); }

void GmsClient::Start() {
  stopped_ = false;
  if (groups_version_ == 0) groups_version_ = 1;
  SendRegister();
  scheduler_.alarms().Cancel(heartbeat_alarm_);
  heartbeat_alarm_ = scheduler_.alarms().Schedule(scheduler_.clock().Now() + config_.heartbeat_interval,
                                                  [this](TimePoint now) { OnHeartbeatTimer(now); });
}

void GmsClient::SetGroups(std::vector<wire::GroupId> groups) {
  std::sort(groups.begin(), groups.end());
  groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
  if (groups == groups_wanted_ && groups_version_ > 0) return;
  groups_wanted_ = std::move(groups);
  ++groups_version_;
  if (!stopped_ && scheduler_.alarms().IsPending(heartbeat_alarm_)) SendRegister();
}

void GmsClient::Deregister() {
  stopped_ = true;
  scheduler_.alarms().Cancel(heartbeat_alarm_);
  Send({wire::PacketType::kDeregister, config_.node,
        wire::DeregisterPacket{config_.node, config_.incarnation}});
}

void GmsClient::SendRegister() {
  ++stats_.registers_sent;
  unacked_heartbeats_ = 0;
  Send({wire::PacketType::kRegister, config_.node,
        wire::RegisterPacket{.node = config_.node,
                             .incarnation = config_.incarnation,
                             .unicast = transport_.local_endpoint(),
                             .groups_version = groups_version_,
                             .groups = groups_wanted_}});
}

void GmsClient::OnHeartbeatTimer(TimePoint now) {
  heartbeat_alarm_ = scheduler_.alarms().Schedule(now + config_.heartbeat_interval,
                                                  [this](TimePoint t) { OnHeartbeatTimer(t); });
  Send({wire::PacketType::kHeartbeat, config_.node,
        wire::HeartbeatPacket{config_.node, config_.incarnation, ++heartbeat_seq_, applied_epoch_}});
  // Unacknowledged for two heartbeats (the GMS batches before it answers): send it again.
  if (acked_version_ != groups_version_ && ++unacked_heartbeats_ >= 2) SendRegister();
}

void GmsClient::OnViewUpdate(const wire::ViewUpdatePacket& u, const Endpoint& from) {
  if (stopped_ || from != config_.gms || u.node != config_.node || u.incarnation != config_.incarnation)
    return;
  if (u.groups_version < groups_version_) {
    // The GMS has not applied our current groups (or does not know us): register again.
    acked_version_ = u.groups_version;
    if (u.epoch == 0) {
      SendRegister();
      return;
    }
  } else {
    acked_version_ = groups_version_;
  }
  if (u.epoch == 0) return;
  // A new update: a later epoch, or a snapshot repairing the epoch being received (it may share
  // that epoch: the GMS answers a heartbeat with the state of its last commit).
  const bool fresh =
      u.epoch > incoming_.epoch || (u.epoch == incoming_.epoch && u.snapshot && !incoming_.snapshot);
  if (!fresh && (u.epoch < incoming_.epoch || u.snapshot != incoming_.snapshot ||
                 !incoming_.missing.contains(u.part))) {
    return;  // an older update, or a part already applied
  }
  if (fresh) {
    incoming_ = Incoming{.epoch = u.epoch,
                         .intact = u.snapshot || u.prev_epoch == applied_epoch_,
                         .snapshot = u.snapshot,
                         .missing = {},
                         .listed_regions = {},
                         .listed_groups = {}};
    for (uint16_t p = 0; p < u.parts; ++p) incoming_.missing.insert(p);
    if (!incoming_.intact) ++stats_.gaps;
  }
  incoming_.missing.erase(u.part);
  ++stats_.updates_applied;

  for (const wire::RegionView& view : u.regions) {
    incoming_.listed_regions.insert(view.id.region);
    auto it = regions_.find(view.id.region);
    if (it != regions_.end() && it->second.id.view >= view.id.view) {
      ++stats_.stale_views;
      continue;
    }
    if (view.members.empty()) {
      regions_.erase(view.id.region);
    } else {
      regions_[view.id.region] = view;
    }
    listener_.OnRegionView(view);
  }
  for (const wire::GroupView& view : u.groups) {
    incoming_.listed_groups.insert(view.group);
    auto it = groups_.find(view.group);
    if (it != groups_.end() && it->second.view >= view.view) {
      ++stats_.stale_views;
      continue;
    }
    groups_[view.group] = view;
    listener_.OnGroupView(view);
  }
  if (!incoming_.missing.empty()) return;
  if (incoming_.snapshot) {
    // Whatever a complete snapshot did not list is gone for this node.
    for (auto it = regions_.begin(); it != regions_.end();) {
      if (incoming_.listed_regions.contains(it->first)) {
        ++it;
        continue;
      }
      wire::RegionView gone{.id = it->second.id, .multicast = it->second.multicast, .members = {}};
      it = regions_.erase(it);
      listener_.OnRegionView(gone);
    }
    for (auto it = groups_.begin(); it != groups_.end();) {
      if (incoming_.listed_groups.contains(it->first)) {
        ++it;
        continue;
      }
      wire::GroupView gone{.group = it->first, .view = it->second.view, .regions = {}};
      it = groups_.erase(it);
      listener_.OnGroupView(gone);
    }
  }
  if (!incoming_.intact) return;  // an update before it is missing: a snapshot will repair both
  applied_epoch_ = incoming_.epoch;
  listener_.OnUpdateComplete();
}

void GmsClient::Send(const wire::Packet& packet) {
  scratch_.resize(wire::EncodedSize(packet));
  auto n = wire::Encode(packet, scratch_);
  QSM_CHECK(n.has_value(), "a membership packet does not encode");
  // A lost or refused send is repaired by the next heartbeat.
  transport_.Send(config_.gms, std::span(scratch_).first(*n));
}

}  // namespace qsm::membership
