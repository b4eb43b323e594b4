#include "engine/node/node.h"

#include <algorithm>

#include "engine/core/check.h"

namespace qsm {

Node::Node(NodeConfig config, Scheduler& scheduler, Transport& transport, Random& random)
    : config_(config),
      scheduler_(scheduler),
      transport_(transport),
      counters_(scheduler.counters()),
      random_(random),
      region_({scheduler, transport, random, scheduler.counters(), &control_}, config.region, config.id, *this),
      targets_(config.window, config.view_change_suspend, scheduler.counters()),
      router_([this](uint32_t region) -> std::optional<uint32_t> {
        if (!gms_) return std::nullopt;
        auto known = gms_->regions().find(region);
        if (known == gms_->regions().end()) return std::nullopt;
        return known->second.id.view;
      }),
      held_(config.hold, scheduler.counters()),
      delivery_(scheduler.counters()),
      data_rate_(config.send_rate, std::max(1.0, config.send_rate / 100)),
      recovery_rate_(config.recovery_rate, std::max(1.0, config.recovery_rate / 100)) {}

Node::~Node() {
  for (auto& alarm : pump_alarm_) scheduler_.alarms().Cancel(alarm);
  scheduler_.alarms().Cancel(ack_timer_);
}

// ---------------------------------------------------------------- views

std::optional<wire::RegionViewId> Node::own_view() const {
  if (!region_.has_view()) return std::nullopt;
  return region_.layout().view().id;
}

Status Node::InstallView(const wire::RegionView& view) {
  bool member = false;
  for (const auto& m : view.members) member |= m.node == config_.id;
  if (!member) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "node " + std::to_string(config_.id) + " is not a member of region view " +
                         std::to_string(view.id.region) + "." + std::to_string(view.id.view));
  }
  if (!view.multicast.is_multicast()) {
    return MakeError(ErrorCode::kInvalidArgument, view.multicast.ToString() + " is not a multicast address");
  }
  if (region_.has_view() && region_.layout().view().id == view.id) return {};
  if (region_.has_view() && region_.layout().view().id.region == view.id.region &&
      region_.layout().view().id.view > view.id.view) {
    return {};  // older than the view installed: views are applied in order
  }
  const bool new_address = !region_.has_view() || region_.layout().view().multicast != view.multicast;
  Status joined;
  if (new_address) {
    if (region_.has_view()) (void)transport_.LeaveGroup(region_.layout().view().multicast);
    if (joined = transport_.JoinGroup(view.multicast); !joined) counters_.Add(Counter::kMulticastJoinFailures);
  }
  region_.InstallView(view);
  counters_.Add(Counter::kViewChanges);
  if (!gms_) targets_.SendEveryGroupTo(view.id.region);
  for (wire::GroupId g : delivery_.groups()) {
    if (targets_.Spans(g, view.id.region)) delivery_.EnteredRegion(g, view.id);
  }
  FollowTarget(view, /*create=*/true);
  if (!scheduler_.alarms().IsPending(ack_timer_)) {
    ack_timer_ = scheduler_.alarms().Schedule(scheduler_.clock().Now() + AckCheckInterval(),
                                              [this](TimePoint now) { OnAckTimer(now); });
  }
  ReplayHeld();
  PostPump(IoClass::kOutboundData);
  return joined;
}

void Node::FollowTarget(const wire::RegionView& view, bool create) {
  if (targets_.Follow(view, create, scheduler_.clock().Now())) PostPump(IoClass::kOutboundData);
}

Status Node::StartMembership(membership::GmsClientConfig config) {
  if (config.node != config_.id) {
    return MakeError(ErrorCode::kInvalidArgument, "the GMS client's node id is not this node's");
  }
  if (gms_) return MakeError(ErrorCode::kInvalidArgument, "membership already started");
  gms_ = std::make_unique<membership::GmsClient>(config, scheduler_, control_, *this);
  targets_.SendEveryGroupTo(std::nullopt);
  RegisterGroups();
  gms_->Start();
  return {};
}

void Node::LeaveCluster() {
  if (gms_) gms_->Deregister();
}

void Node::RegisterGroups() {
  if (!gms_) return;
  gms_->SetGroups(delivery_.groups());
}

void Node::OnRegionView(const wire::RegionView& view) {
  const bool member = std::any_of(view.members.begin(), view.members.end(),
                                  [&](const wire::Member& m) { return m.node == config_.id; });
  if (member) {
    // A failed multicast join is counted; a non-multicast address (a broken GMS) installs nothing.
    (void)InstallView(view);
    return;
  }
  if (own_region() == view.id.region) {
    // This node left the region (its groups changed) or the region is gone.
    (void)transport_.LeaveGroup(region_.layout().view().multicast);
    region_.InstallView(view);  // without this node: leaves
    counters_.Add(Counter::kViewChanges);
  }
  // A group view may have named this region before its view arrived: the target starts now.
  const bool named = targets_.Named(view.id.region);
  FollowTarget(view, /*create=*/named);
  targets_.ForgetUnused(own_region());
  if (named) PostPump(IoClass::kOutboundData);  // a message held for this group can go now
}

void Node::OnGroupView(const wire::GroupView& view) {
  std::vector<uint32_t> regions;
  for (const auto& rvid : view.regions) {
    regions.push_back(rvid.region);
    if (targets_.Find(rvid.region) != nullptr || !gms_) continue;
    auto known = gms_->regions().find(rvid.region);
    if (known != gms_->regions().end()) FollowTarget(known->second, /*create=*/true);
  }
  if (own_view() && std::ranges::find(regions, own_view()->region) != regions.end()) delivery_.EnteredRegion(view.group, *own_view());
  targets_.SetGroupRegions(view.group, std::move(regions));
  targets_.ForgetUnused(own_region());
  PostPump(IoClass::kOutboundData);
}

void Node::ReplayHeld() {
  if (held_.size() == 0) return;
  for (const HeldPackets::Held& h : held_.TakeAll(scheduler_.clock().Now())) {
    auto packet = wire::Decode(h.datagram);
    QSM_CHECK(packet.has_value(), "a held datagram no longer decodes");
    OnPacket(*packet, h.datagram, h.from, h.at);  // current: handled; still future: held again; stale: dropped
  }
}

// ---------------------------------------------------------------- groups and sending

Status Node::Join(wire::GroupId group, bool unordered) {
  delivery_.Join(group, unordered);
  RegisterGroups();
  return {};
}

void Node::Leave(wire::GroupId group) {
  delivery_.Leave(group);
  RegisterGroups();
}

uint64_t Node::AcknowledgedThrough(wire::GroupId group) const { return targets_.AcknowledgedThrough(group); }

bool Node::DeliversOnArrival(wire::GroupId group) const { return delivery_.unordered(group); }

void Node::SetFeed(MessageFeed* feed) {
  feed_ = feed;
  PostPump(IoClass::kOutboundData);
}

bool Node::Send(wire::GroupId group, std::span<const std::byte> payload) {
  if (payload.size() > config_.max_payload_bytes || !targets_.Reserve(group, payload.size(), reserved_))
    return false;
  std::vector<std::byte> held = targets_.TakeSpareBuffer();
  held.assign(payload.begin(), payload.end());
  targets_.Assign(reserved_, PendingMessage{group, 0, ToNanos(scheduler_.clock().Now()), std::move(held)});
  PostPump(IoClass::kOutboundData);
  return true;
}

bool Node::PullFromFeed() {
  if (feed_ == nullptr || targets_.empty()) return false;
  if (!feed_message_held_) {
    if (feed_message_.payload.capacity() == 0) feed_message_.payload = targets_.TakeSpareBuffer();
    feed_message_.payload.clear();
    feed_message_.intended = TimePoint{};
    if (!feed_->Next(feed_message_, group_ready_)) return false;
    if (feed_message_.payload.size() > config_.max_payload_bytes) {
      counters_.Add(Counter::kSendErrors);
      return true;  // refused; the pump goes on with the next
    }
    if (feed_message_.intended == TimePoint{}) feed_message_.intended = scheduler_.clock().Now();
  }
  if (!targets_.Reserve(feed_message_.group, feed_message_.payload.size(), reserved_)) {
    feed_message_held_ = true;  // the feed gave a message to a group that was not ready
    return false;
  }
  feed_message_held_ = false;
  targets_.Assign(reserved_, PendingMessage{feed_message_.group, 0, ToNanos(feed_message_.intended),
                                            std::move(feed_message_.payload)});
  feed_message_.payload = {};
  return true;
}

// ---------------------------------------------------------------- inbound

void Node::OnPacket(const wire::Packet& packet, std::span<const std::byte> datagram, const Endpoint& from,
                    TimePoint at) {
  switch (router_.RouteOf(packet, own_view())) {
    case Route::kGmsClient:
      if (gms_) gms_->OnViewUpdate(std::get<wire::ViewUpdatePacket>(packet.body), from);
      return;
    case Route::kSender:
      if (packet.type == wire::PacketType::kAck) {
        OnAckReceived(std::get<wire::AckPacket>(packet.body), from);
      } else {
        OnNakReceived(std::get<wire::RecoveryRequest>(packet.body), from);
      }
      return;
    case Route::kHold:
      held_.Hold(datagram, from, at);
      return;
    case Route::kNoRegion:
    case Route::kNotForNodes:
      counters_.Add(Counter::kWrongView);
      return;
    case Route::kRegion:
      break;
  }
  region_.OnPacket(packet, from, at);
  if (region_.has_recovery()) PostPump(IoClass::kOutboundRecovery);
}

SendTarget* Node::TargetAddressed(wire::NodeId sender, const wire::RegionViewId& rvid) {
  SendTarget* t = sender == config_.id ? targets_.FindView(rvid) : nullptr;
  if (t == nullptr) counters_.Add(Counter::kWrongView);
  return t;
}

void Node::OnAckReceived(const wire::AckPacket& ack, const Endpoint& from) {
  SendTarget* t = TargetAddressed(ack.sender, ack.rvid);
  if (t == nullptr) return;
  if (t->members.empty() || from != t->members.front().endpoint) {
    counters_.Add(Counter::kDroppedSource);
    return;
  }
  ApplyAck(*t, ack);
}

void Node::OnOwnAck(const wire::AckPacket& ack) {
  if (SendTarget* t = TargetAddressed(ack.sender, ack.rvid)) ApplyAck(*t, ack);
}

void Node::ApplyAck(SendTarget& t, const wire::AckPacket& ack) {
  if (t.sender.OnAck(ack.stable, scheduler_.clock().Now()) > 0) {
    t.last_ack_progress = scheduler_.clock().Now();
    PostPump(IoClass::kOutboundData);
  }
  if (config_.adaptive_rate && ack.rate_min > 0) {
    data_rate_.set_rate(std::max(100.0, ack.rate_min * (1 + config_.rate_growth)));
  }
}

void Node::OnNakReceived(const wire::RecoveryRequest& nak, const Endpoint& from) {
  SendTarget* t = TargetAddressed(nak.sender, nak.rvid);
  if (t == nullptr) return;
  if (std::none_of(t->members.begin(), t->members.end(), [&](const wire::Member& m) { return m.endpoint == from; })) {
    counters_.Add(Counter::kDroppedSource);
    return;
  }
  t->sender.OnNak(nak.ranges, scheduler_.clock().Now());
  PostPump(IoClass::kOutboundRecovery);
}

uint64_t Node::FirstOwnHeld() const {
  const SendTarget* t = own_region() ? targets_.Find(*own_region()) : nullptr;
  return t ? t->sender.stable() + 1 : UINT64_MAX;
}

bool Node::OwnMessage(uint64_t seq, wire::DataPacket& out) const {
  const SendTarget* t = own_region() ? targets_.Find(*own_region()) : nullptr;
  const PendingMessage* m = t ? t->sender.Find(seq) : nullptr;
  if (m == nullptr || seq > t->sender.highest_transmitted()) return false;
  out = PacketOf(*t, seq, *m);
  return true;
}

wire::DataPacket Node::PacketOf(const SendTarget& target, uint64_t seq, const PendingMessage& m) const {
  return wire::DataPacket{.rvid = target.sender.rvid(),
                          .sender = config_.id,
                          .group = m.group,
                          .region_seq = seq,
                          .group_seq = m.group_seq,
                          .send_time_ns = m.send_time_ns,
                          .catch_up = m.catch_up,
                          .payload = m.payload};
}

void Node::OnRegionMessage(wire::NodeId sender, const wire::DataPacket& m, TimePoint at) {
  if (!delivery_.Admit(sender, m)) return;
  counters_.Add(Counter::kMessagesDelivered);
  counters_.Add(Counter::kBytesDelivered, m.payload.size());
  const int64_t latency = ToNanos(at) - m.send_time_ns;
  delivery_latency_ns_.Record(latency > 0 ? static_cast<uint64_t>(latency) : 0);
  if (on_deliver_) on_deliver_(Delivery{m.group, sender, m.group_seq, m.payload, m.send_time_ns, at});
}

// ---------------------------------------------------------------- stats

NodeStats Node::Snapshot() const {
  NodeStats s;
  s.counters = counters_.Snapshot();
  s.partition_rtt_ns = region_.stats().partition_rtt_ns;
  s.region_rtt_ns = region_.stats().region_rtt_ns;
  s.delivery_latency_ns = delivery_latency_ns_;
  s.timer_lateness_ns = scheduler_.alarms().lateness_ns();
  for (size_t c = 0; c < kIoClassCount; ++c)
    s.io_queue_depths[c] = scheduler_.io_queue_depth(static_cast<IoClass>(c));
  s.alarms_pending = scheduler_.alarms().size();
  s.groups_joined = delivery_.group_count();
  s.regions = region_.has_view() ? 1 : 0;
  s.target_regions = targets_.size();
  const Memory m = MemoryUse();
  s.pending_messages = m.pending_messages;
  s.pending_bytes = m.pending_bytes;
  s.cache_bytes = m.cache_bytes;
  s.cached_messages = m.cached_messages;
  return s;
}

Node::Memory Node::MemoryUse() const {
  return Memory{.pending_messages = targets_.pending_messages(),
                .pending_bytes = targets_.pending_bytes(),
                .cache_bytes = region_.stats().cache_bytes,
                .cached_messages = region_.stats().cached_messages};
}

bool Node::idle() const {
  return targets_.pending_messages() == 0 && !region_.has_recovery() && region_.stats().cached_messages == 0;
}

}  // namespace qsm
