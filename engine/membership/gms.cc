#include "engine/membership/gms.h"

#include <algorithm>
#include <sstream>

#include "engine/core/check.h"

namespace qsm::membership {
namespace {

constexpr size_t kUpdateFixed = wire::kHeaderSize + 45;
size_t EncodedSize(const wire::RegionView& v) { return 16 + 10 * v.members.size(); }
size_t EncodedSize(const wire::GroupView& v) { return 10 + 8 * v.regions.size(); }

}  // namespace

std::string DescribeCommit(const Membership& m, uint64_t epoch, const Membership::Changes& changes) {
  std::ostringstream out;
  out << "epoch " << epoch << ": " << m.nodes().size() << " nodes, " << changes.regions.size()
      << " region views changed, " << changes.groups.size() << " group views changed\n";
  for (NodeId id : changes.removed) out << "  node " << id << " removed\n";
  for (RegionId id : changes.regions) {
    const Region& r = *m.region(id);
    out << "  region " << r.id << " view " << r.view << " at " << r.multicast.ToString() << ": members [";
    for (size_t i = 0; i < r.members.size(); ++i) out << (i > 0 ? " " : "") << r.members[i];
    out << "]\n";
  }
  return out.str();
}

Gms::Gms(GmsConfig config, Scheduler& scheduler, Transport& transport, GmsStore& store)
    : config_(config),
      scheduler_(scheduler),
      transport_(transport),
      store_(store),
      membership_(AddressPool(config.multicast_first, config.multicast_count)) {
  QSM_CHECK(config_.max_update_bytes >= 1024 && config_.max_update_bytes <= wire::kMaxPacketSize,
            "max_update_bytes out of range");
}

Gms::~Gms() {
  scheduler_.alarms().Cancel(commit_alarm_);
  scheduler_.alarms().Cancel(sweep_alarm_);
}

Status Gms::Start() {
  auto saved = store_.Load();
  if (!saved) return std::unexpected(saved.error());
  const TimePoint now = scheduler_.clock().Now();
  if (*saved) {
    // The first line after the membership's own records: "epoch E".
    const std::string& text = **saved;
    const size_t at = text.rfind("\nepoch ");
    if (at == std::string::npos) return MakeError(ErrorCode::kMalformed, "GMS state: no epoch record");
    if (auto s = membership_.Restore(text.substr(0, at + 1)); !s) {
      return MakeError(ErrorCode::kMalformed, "GMS state: " + s.error().message);
    }
    std::istringstream tail(text.substr(at + 7));
    if (!(tail >> epoch_)) return MakeError(ErrorCode::kMalformed, "GMS state: bad epoch record");
    for (const auto& [id, n] : membership_.nodes()) {
      Peer& p = peers_[id];
      p.incarnation = n.incarnation;
      p.endpoint = n.endpoint;
      p.last_heard = now;  // a fresh failure timeout: the GMS was away, not the node
      p.needs_snapshot = true;
      p.last_sent_epoch = epoch_;
      p.groups_version = n.groups_version;
    }
  }
  const Duration every = std::max<Duration>(config_.failure_timeout / 10, 10ms);
  sweep_alarm_ = scheduler_.alarms().Schedule(now + every, [this](TimePoint t) { OnSweep(t); });
  return {};
}

void Gms::OnPacket(const wire::Packet& packet, std::span<const std::byte>, const Endpoint& from, TimePoint at) {
  switch (packet.type) {
    case wire::PacketType::kRegister:
      OnRegister(std::get<wire::RegisterPacket>(packet.body), at);
      return;
    case wire::PacketType::kHeartbeat:
      OnHeartbeat(std::get<wire::HeartbeatPacket>(packet.body), from, at);
      return;
    case wire::PacketType::kDeregister:
      OnDeregister(std::get<wire::DeregisterPacket>(packet.body));
      return;
    default:
      ++stats_.ignored;  // region traffic is not the GMS's business
  }
}

void Gms::OnRegister(const wire::RegisterPacket& p, TimePoint now) {
  if (p.node == 0) {
    ++stats_.ignored;
    return;
  }
  auto it = peers_.find(p.node);
  const bool known = it != peers_.end();
  if (known && p.incarnation < it->second.incarnation) {
    ++stats_.ignored;  // a message from a previous life of the node
    return;
  }
  const bool restarted = known && p.incarnation > it->second.incarnation;
  Peer& peer = peers_[p.node];
  peer.last_heard = now;
  if (known && !restarted) {
    if (p.groups_version < peer.groups_version) return;  // an old, reordered Register
    if (p.groups_version == peer.groups_version) {
      // A repeat: the node has not seen our acknowledgement. Once committed, acknowledge again
      // (before that, the commit will).
      if (CommittedVersion(p.node, peer) == p.groups_version)
        SendUpdate(p.node, peer, /*snapshot=*/true, now);
      return;
    }
    ++stats_.group_changes;
  } else {
    ++stats_.registrations;
    peer = Peer{};  // a new node or a new life: it knows nothing yet
    peer.last_heard = now;
  }
  peer.incarnation = p.incarnation;
  peer.endpoint = p.unicast;
  peer.groups_version = p.groups_version;
  membership_.Upsert(NodeInfo{p.node, p.incarnation, p.unicast, p.groups, p.groups_version});
  ScheduleCommit();
}

void Gms::OnHeartbeat(const wire::HeartbeatPacket& p, const Endpoint& from, TimePoint now) {
  auto it = peers_.find(p.node);
  if (it == peers_.end()) {
    // Unknown here (a GMS that lost its state, or a node removed as failed that is still
    // running): an update acknowledging no group set tells it to register again.
    ++stats_.ignored;
    Send(from, {wire::PacketType::kViewUpdate, 0,
                wire::ViewUpdatePacket{.node = p.node, .incarnation = p.incarnation}});
    return;
  }
  Peer& peer = it->second;
  if (p.incarnation != peer.incarnation) {
    ++stats_.ignored;
    return;
  }
  peer.last_heard = now;
  const bool behind =
      p.applied_epoch < peer.last_sent_epoch && now - peer.last_sent_at >= config_.resend_after;
  if (peer.needs_snapshot || behind) SendUpdate(p.node, peer, /*snapshot=*/true, now);
}

void Gms::OnDeregister(const wire::DeregisterPacket& p) {
  auto it = peers_.find(p.node);
  if (it == peers_.end() || p.incarnation != it->second.incarnation) {
    ++stats_.ignored;
    return;
  }
  ++stats_.departures;
  RemovePeer(p.node);
}

void Gms::OnSweep(TimePoint now) {
  const Duration every = std::max<Duration>(config_.failure_timeout / 10, 10ms);
  sweep_alarm_ = scheduler_.alarms().Schedule(now + every, [this](TimePoint t) { OnSweep(t); });
  std::vector<NodeId> failed;
  for (const auto& [id, peer] : peers_) {
    if (now - peer.last_heard > config_.failure_timeout) failed.push_back(id);
  }
  for (NodeId id : failed) {
    ++stats_.failures;
    RemovePeer(id);
  }
}

void Gms::RemovePeer(NodeId node) {
  peers_.erase(node);
  membership_.Remove(node);
  ScheduleCommit();
}

void Gms::ScheduleCommit() {
  if (scheduler_.alarms().IsPending(commit_alarm_)) return;
  commit_alarm_ = scheduler_.alarms().Schedule(scheduler_.clock().Now() + config_.batch_delay,
                                               [this](TimePoint now) { Commit(now); });
}

void Gms::Commit(TimePoint now) {
  const Membership::Changes changes = membership_.Commit();
  ++epoch_;
  ++stats_.commits;
  // Persist before anyone hears of the new views: a restarted GMS never numbers a view twice.
  if (auto saved = store_.Save(membership_.Serialize() + "epoch " + std::to_string(epoch_) + "\n"); !saved) {
    ++stats_.save_errors;
  }
  for (NodeId id : changes.nodes) {
    auto it = peers_.find(id);
    if (it != peers_.end()) SendUpdate(id, it->second, it->second.needs_snapshot, now);
  }
  if (observer_) observer_(epoch_, changes);
}

uint64_t Gms::CommittedVersion(NodeId node, const Peer& peer) const {
  const NodeInfo* info = membership_.node(node);
  return info == nullptr || info->incarnation != peer.incarnation ? 0 : info->groups_version;
}

void Gms::SendUpdate(NodeId node, Peer& peer, bool snapshot, TimePoint now) {
  std::vector<wire::RegionView> regions;
  std::vector<wire::GroupView> groups;
  // Regions: every needed view the node does not have, and the new view of every region it
  // knows that changed (so a member that left learns it, and a gone region is announced).
  const std::set<RegionId> needed = membership_.RegionsNeededBy(node);
  if (snapshot) {
    peer.known_regions.clear();
    peer.known_groups.clear();
  }
  for (auto it = peer.known_regions.begin(); it != peer.known_regions.end();) {
    const Region* r = membership_.region(it->first);
    if (needed.contains(it->first)) {
      ++it;
      continue;
    }
    if (r != nullptr && r->view != it->second) regions.push_back(membership_.ViewOf(*r));
    it = peer.known_regions.erase(it);
  }
  for (RegionId id : needed) {
    const Region& r = *membership_.region(id);
    auto known = peer.known_regions.find(id);
    if (known != peer.known_regions.end() && known->second == r.view) continue;
    regions.push_back(membership_.ViewOf(r));
    peer.known_regions[id] = r.view;
  }
  const NodeInfo* info = membership_.node(node);
  std::erase_if(peer.known_groups, [&](const auto& entry) {
    return info == nullptr || !std::binary_search(info->groups.begin(), info->groups.end(), entry.first);
  });
  if (info != nullptr) {
    for (GroupId g : info->groups) {
      const wire::GroupView view = membership_.ViewOf(g);
      auto known = peer.known_groups.find(g);
      if (known != peer.known_groups.end() && known->second == view.view) continue;
      groups.push_back(view);
      peer.known_groups[g] = view.view;
    }
  }
  // Split into parts that fit: region views first, so a group's regions arrive no later.
  std::vector<wire::ViewUpdatePacket> parts(1);
  size_t size = kUpdateFixed;
  auto room = [&](size_t bytes) {
    if (size + bytes > config_.max_update_bytes &&
        !(parts.back().regions.empty() && parts.back().groups.empty())) {
      parts.emplace_back();
      size = kUpdateFixed;
    }
    size += bytes;
  };
  for (auto& v : regions) {
    room(EncodedSize(v));
    parts.back().regions.push_back(std::move(v));
  }
  for (auto& v : groups) {
    room(EncodedSize(v));
    parts.back().groups.push_back(std::move(v));
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    wire::ViewUpdatePacket& u = parts[i];
    u.epoch = epoch_;
    u.prev_epoch = peer.last_sent_epoch;
    u.node = node;
    u.incarnation = peer.incarnation;
    u.groups_version = CommittedVersion(node, peer);
    u.snapshot = snapshot;
    u.part = static_cast<uint16_t>(i);
    u.parts = static_cast<uint16_t>(parts.size());
    Send(peer.endpoint, {wire::PacketType::kViewUpdate, 0, std::move(u)});
  }
  if (snapshot) ++stats_.snapshots_sent;
  peer.needs_snapshot = false;
  peer.last_sent_epoch = epoch_;
  peer.last_sent_at = now;
}

void Gms::Send(const Endpoint& to, const wire::Packet& packet) {
  scratch_.resize(wire::EncodedSize(packet));
  auto n = wire::Encode(packet, scratch_);
  QSM_CHECK(n.has_value(), "a GMS packet does not encode");
  // A refused send is repaired like a lost datagram: the node's heartbeat shows it is behind.
  transport_.Send(to, std::span(scratch_).first(*n));
  ++stats_.updates_sent;
}

}  // namespace qsm::membership
