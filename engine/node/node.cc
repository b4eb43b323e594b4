#include "engine/node/node.h"

#include <algorithm>

#include "engine/core/check.h"

namespace qsm {
namespace {

constexpr size_t kRecovery = 0, kData = 1;

uint64_t DeliveryKey(wire::NodeId sender, wire::GroupId group) { return (uint64_t{sender} << 32) | group; }

// The region view a region-scoped packet belongs to; nullopt for other packets.
std::optional<wire::RegionViewId> ScopeOf(const wire::Packet& packet) {
  switch (packet.type) {
    case wire::PacketType::kData:
    case wire::PacketType::kRetransmit:
    case wire::PacketType::kForward:
      return std::get<wire::DataPacket>(packet.body).rvid;
    case wire::PacketType::kPartitionToken:
    case wire::PacketType::kRegionToken:
      return std::get<wire::TokenPacket>(packet.body).rvid;
    case wire::PacketType::kTokenAck:
      return std::get<wire::TokenAckPacket>(packet.body).rvid;
    case wire::PacketType::kPullRequest:
      return std::get<wire::RecoveryRequest>(packet.body).rvid;
    default:
      return std::nullopt;
  }
}

std::vector<wire::NodeId> MemberIds(const wire::RegionView& view) {
  std::vector<wire::NodeId> ids;
  for (const auto& m : view.members) ids.push_back(m.node);
  return ids;
}

}  // namespace

Node::Node(NodeConfig config, Scheduler& scheduler, Transport& transport, Random& random)
    : config_(config),
      scheduler_(scheduler),
      transport_(transport),
      counters_(scheduler.counters()),
      region_({scheduler, transport, random, scheduler.counters()}, config.region, config.id, *this),
      data_rate_(config.send_rate, std::max(1.0, config.send_rate / 100)),
      recovery_rate_(config.recovery_rate, std::max(1.0, config.recovery_rate / 100)) {}

Node::~Node() {
  for (auto& alarm : pump_alarm_) scheduler_.alarms().Cancel(alarm);
  scheduler_.alarms().Cancel(ack_timer_);
}

// ---------------------------------------------------------------- views

std::optional<uint32_t> Node::own_region() const {
  if (!region_.has_view()) return std::nullopt;
  return region_.layout().view().id.region;
}

Node::Target* Node::TargetOf(uint32_t region) {
  auto it = targets_.find(region);
  return it == targets_.end() ? nullptr : &it->second;
}

const Node::Target* Node::TargetOf(uint32_t region) const {
  auto it = targets_.find(region);
  return it == targets_.end() ? nullptr : &it->second;
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
  if (new_address) {
    if (region_.has_view()) (void)transport_.LeaveGroup(region_.layout().view().multicast);
    if (auto joined = transport_.JoinGroup(view.multicast); !joined) return joined;
  }
  region_.InstallView(view);
  counters_.Add(Counter::kViewChanges);
  UpdateTarget(view, /*create=*/true);
  if (!scheduler_.alarms().IsPending(ack_timer_)) {
    ack_timer_ = scheduler_.alarms().Schedule(scheduler_.clock().Now() + config_.ack_timeout / 2,
                                              [this](TimePoint now) { OnAckTimer(now); });
  }
  ReplayHeld();
  PostPump(IoClass::kOutboundData);
  return {};
}

void Node::UpdateTarget(const wire::RegionView& view, bool create) {
  auto it = targets_.find(view.id.region);
  if (view.members.empty()) {
    // The region is gone: nobody is left to deliver its pending messages to.
    if (it != targets_.end()) targets_.erase(it);
    return;
  }
  const TimePoint now = scheduler_.clock().Now();
  if (it == targets_.end()) {
    if (!create) return;
    targets_.emplace(view.id.region, Target{.sender = RegionSender(view.id, config_.window),
                                            .multicast = view.multicast,
                                            .members = MemberIds(view),
                                            .suspended_until = {},
                                            .last_ack_progress = now});
    PostPump(IoClass::kOutboundData);
    return;
  }
  Target& t = it->second;
  if (t.sender.rvid().view >= view.id.view) return;  // not newer
  std::vector<PendingMessage> carried = t.sender.TakeUnacknowledged();
  t.sender = RegionSender(view.id, config_.window);
  for (auto& m : carried) t.sender.Add(std::move(m));  // fits: the old window held them
  std::vector<wire::NodeId> members = MemberIds(view);
  const bool added = std::any_of(members.begin(), members.end(), [&](wire::NodeId n) {
    return std::find(t.members.begin(), t.members.end(), n) == t.members.end();
  });
  if (added) {
    // New members: let the new view's rings form before new data arrives (PROTOCOL.md §3).
    t.suspended_until = now + config_.view_change_suspend;
    counters_.Add(Counter::kSendSuspended);
  }
  t.members = std::move(members);
  t.multicast = view.multicast;
  t.last_ack_progress = now;
  PostPump(IoClass::kOutboundData);
}

void Node::ForgetUnusedTargets() {
  const auto own = own_region();
  std::erase_if(targets_, [&](const auto& entry) {
    if (entry.first == own || entry.second.sender.pending_messages() > 0) return false;
    for (const auto& [group, regions] : group_regions_) {
      if (std::find(regions.begin(), regions.end(), entry.first) != regions.end()) return false;
    }
    return true;
  });
}

Status Node::StartMembership(membership::GmsClientConfig config) {
  if (config.node != config_.id) {
    return MakeError(ErrorCode::kInvalidArgument, "the GMS client's node id is not this node's");
  }
  if (gms_) return MakeError(ErrorCode::kInvalidArgument, "membership already started");
  gms_ = std::make_unique<membership::GmsClient>(config, scheduler_, transport_, *this);
  RegisterGroups();
  gms_->Start();
  return {};
}

void Node::LeaveCluster() {
  if (gms_) gms_->Deregister();
}

void Node::RegisterGroups() {
  if (!gms_) return;
  std::vector<wire::GroupId> groups;
  for (const auto& [g, unordered] : joined_) groups.push_back(g);
  gms_->SetGroups(std::move(groups));
}

void Node::OnRegionView(const wire::RegionView& view) {
  const bool member = std::any_of(view.members.begin(), view.members.end(),
                                  [&](const wire::Member& m) { return m.node == config_.id; });
  if (member) {
    (void)InstallView(view);  // refused only for a non-multicast address (a broken GMS)
    return;
  }
  if (own_region() == view.id.region) {
    // This node left the region (its groups changed) or the region is gone.
    (void)transport_.LeaveGroup(region_.layout().view().multicast);
    region_.InstallView(view);  // without this node: leaves
    counters_.Add(Counter::kViewChanges);
  }
  // A group view may have named this region before its view arrived: the target starts now.
  const bool named = std::any_of(group_regions_.begin(), group_regions_.end(), [&](const auto& entry) {
    return std::find(entry.second.begin(), entry.second.end(), view.id.region) != entry.second.end();
  });
  UpdateTarget(view, /*create=*/named);
  ForgetUnusedTargets();
  if (named) PostPump(IoClass::kOutboundData);  // a message held for this group can go now
}

void Node::OnGroupView(const wire::GroupView& view) {
  if (view.regions.empty()) {
    group_regions_.erase(view.group);
  } else {
    auto& regions = group_regions_[view.group];
    regions.clear();
    for (const auto& rvid : view.regions) {
      regions.push_back(rvid.region);
      if (TargetOf(rvid.region) != nullptr || !gms_) continue;
      auto known = gms_->regions().find(rvid.region);
      if (known != gms_->regions().end()) UpdateTarget(known->second, /*create=*/true);
    }
  }
  ForgetUnusedTargets();
  PostPump(IoClass::kOutboundData);
}

std::vector<uint32_t> Node::RegionsOf(wire::GroupId group) const {
  if (gms_) {
    auto it = group_regions_.find(group);
    return it == group_regions_.end() ? std::vector<uint32_t>{} : it->second;
  }
  if (auto own = own_region()) return {*own};
  return {};
}

// ---------------------------------------------------------------- held packets

bool Node::HoldIfFuture(const wire::Packet& packet, const wire::RegionViewId& rvid, const Endpoint& from,
                        TimePoint at) {
  const auto own = own_region();
  bool future;
  if (own == rvid.region) {
    future = rvid.view > region_.layout().view().id.view;
  } else if (gms_) {
    // Another region: for this node only if it is joining it, i.e. the GMS has not told it of
    // that region at this view.
    auto known = gms_->regions().find(rvid.region);
    future = known == gms_->regions().end() || known->second.id.view < rvid.view;
  } else {
    future = !own.has_value();  // static: a view is about to be installed
  }
  if (!future) return false;
  ExpireHeld(at);
  std::vector<std::byte> bytes(wire::EncodedSize(packet));
  auto n = wire::Encode(packet, bytes);
  if (!n) return false;
  while (!held_.empty() &&
         (held_.size() >= config_.max_held_packets || held_bytes_ + bytes.size() > config_.max_held_bytes)) {
    held_bytes_ -= held_.front().bytes.size();
    held_.pop_front();
    counters_.Add(Counter::kDroppedFutureView);
  }
  held_bytes_ += bytes.size();
  held_.push_back(Held{at, from, std::move(bytes)});
  counters_.Add(Counter::kHeldFutureView);
  return true;
}

void Node::ExpireHeld(TimePoint now) {
  while (!held_.empty() && now - held_.front().at > config_.hold_for) {
    held_bytes_ -= held_.front().bytes.size();
    held_.pop_front();
    counters_.Add(Counter::kDroppedFutureView);
  }
}

void Node::ReplayHeld() {
  if (held_.empty()) return;
  ExpireHeld(scheduler_.clock().Now());
  std::deque<Held> held;
  held.swap(held_);
  held_bytes_ = 0;
  for (Held& h : held) {
    auto packet = wire::Decode(h.bytes);
    QSM_CHECK(packet.has_value(), "a held packet no longer decodes");
    OnPacket(*packet, h.from, h.at);  // current: handled; still future: held again; stale: dropped
  }
}

// ---------------------------------------------------------------- groups and sending

Status Node::Join(wire::GroupId group, bool unordered) {
  joined_[group] = unordered;
  RegisterGroups();
  return {};
}

void Node::Leave(wire::GroupId group) {
  joined_.erase(group);
  // A later Join starts the group's streams afresh (as a joiner), so forget what was delivered.
  std::erase_if(delivered_,
                [&](const auto& entry) { return static_cast<wire::GroupId>(entry.first) == group; });
  RegisterGroups();
}

uint64_t Node::AcknowledgedThrough(wire::GroupId group) const {
  auto sent = group_seqs_.find(group);
  if (sent == group_seqs_.end()) return 0;
  uint64_t through = sent->second;
  for (const auto& [region, t] : targets_) {
    if (auto pending = t.sender.LowestPendingGroupSeq(group)) through = std::min(through, *pending - 1);
  }
  return through;
}

bool Node::DeliversOnArrival(wire::GroupId group) const {
  auto it = joined_.find(group);
  return it != joined_.end() && it->second;
}

void Node::SetFeed(MessageFeed* feed) {
  feed_ = feed;
  PostPump(IoClass::kOutboundData);
}

bool Node::CanSend(wire::GroupId group, size_t bytes, std::vector<Target*>& out) {
  out.clear();
  if (gms_) {
    auto it = group_regions_.find(group);
    if (it == group_regions_.end()) return false;
    for (uint32_t region : it->second) {
      Target* t = TargetOf(region);
      if (t == nullptr || !t->sender.HasRoom(bytes)) return false;
      out.push_back(t);
    }
  } else {
    Target* t = own_region() ? TargetOf(*own_region()) : nullptr;
    if (t == nullptr || !t->sender.HasRoom(bytes)) return false;
    out.push_back(t);
  }
  return !out.empty();
}

void Node::Assign(std::vector<Target*>& targets, PendingMessage m) {
  for (size_t i = 0; i + 1 < targets.size(); ++i) {
    PendingMessage copy{m.group, m.group_seq, m.send_time_ns, targets[i]->sender.TakeSpareBuffer()};
    copy.payload.assign(m.payload.begin(), m.payload.end());
    targets[i]->sender.Add(std::move(copy));
  }
  targets.back()->sender.Add(std::move(m));
  counters_.Add(Counter::kMessagesSent);
}

bool Node::Send(wire::GroupId group, std::span<const std::byte> payload) {
  if (payload.size() > config_.max_payload_bytes || !CanSend(group, payload.size(), send_targets_))
    return false;
  Assign(send_targets_, PendingMessage{group, ++group_seqs_[group], ToNanos(scheduler_.clock().Now()),
                                       std::vector<std::byte>(payload.begin(), payload.end())});
  PostPump(IoClass::kOutboundData);
  return true;
}

bool Node::WindowsHaveRoom() const {
  return std::all_of(targets_.begin(), targets_.end(),
                     [&](const auto& t) { return t.second.sender.HasRoom(config_.max_payload_bytes); });
}

bool Node::PullFromFeed() {
  if (feed_ == nullptr || targets_.empty()) return false;
  if (!feed_message_held_) {
    // Only ask the feed when the message it gives can be taken: every window has room for a
    // full one (which regions it goes to is known only once it is taken).
    if (!WindowsHaveRoom()) return false;
    if (feed_message_.payload.capacity() == 0)
      feed_message_.payload = targets_.begin()->second.sender.TakeSpareBuffer();
    feed_message_.payload.clear();
    feed_message_.intended = TimePoint{};
    if (!feed_->Next(feed_message_)) return false;
    if (feed_message_.payload.size() > config_.max_payload_bytes) {
      counters_.Add(Counter::kSendErrors);
      return true;  // refused; the pump goes on with the next
    }
    if (feed_message_.intended == TimePoint{}) feed_message_.intended = scheduler_.clock().Now();
  }
  if (!CanSend(feed_message_.group, feed_message_.payload.size(), send_targets_)) {
    feed_message_held_ = true;  // its group's regions are not known yet, or a window filled
    return false;
  }
  feed_message_held_ = false;
  Assign(send_targets_, PendingMessage{feed_message_.group, ++group_seqs_[feed_message_.group],
                                       ToNanos(feed_message_.intended), std::move(feed_message_.payload)});
  feed_message_.payload = {};
  return true;
}

// ---------------------------------------------------------------- the pump

void Node::PostPump(IoClass io_class) {
  const size_t i = io_class == IoClass::kOutboundRecovery ? kRecovery : kData;
  if (pump_posted_[i] || blocked_) return;
  pump_posted_[i] = true;
  scheduler_.PostIo(io_class, IoEvent{this, {}, {}, {}});
}

void Node::ArmPumpAlarm(TimePoint at, IoClass io_class) {
  const size_t i = io_class == IoClass::kOutboundRecovery ? kRecovery : kData;
  if (scheduler_.alarms().IsPending(pump_alarm_[i])) return;
  pump_alarm_[i] = scheduler_.alarms().Schedule(at, [this, io_class](TimePoint) { PostPump(io_class); });
}

void Node::OnWritable() {
  blocked_ = false;
  PostPump(IoClass::kOutboundRecovery);
  PostPump(IoClass::kOutboundData);
}

void Node::HandleIo(IoClass io_class, IoEvent&) {
  if (io_class == IoClass::kOutboundRecovery) {
    pump_posted_[kRecovery] = false;
    PumpRecovery();
  } else {
    pump_posted_[kData] = false;
    PumpData();
  }
}

void Node::PumpRecovery() {
  for (size_t i = 0; i < kPumpBatch; ++i) {
    if (blocked_) return;
    const TimePoint now = scheduler_.clock().Now();
    const bool retransmits = std::any_of(targets_.begin(), targets_.end(),
                                         [](const auto& t) { return t.second.sender.has_retransmits(); });
    if (!region_.has_recovery() && !retransmits) return;
    if (!recovery_rate_.Take(now)) {
      ArmPumpAlarm(recovery_rate_.NextAvailable(now, kPumpBatch), IoClass::kOutboundRecovery);
      return;
    }
    switch (region_.SendNextRecovery(scratch_)) {
      case RegionMember::RecoveryResult::kSent:
        continue;
      case RegionMember::RecoveryResult::kWouldBlock:
        blocked_ = true;
        transport_.RequestWritable();
        return;
      case RegionMember::RecoveryResult::kNothingQueued:
        break;
    }
    for (auto& [region, t] : targets_) {
      auto seq = t.sender.PopRetransmit();
      if (!seq) continue;
      if (Transmit(t, *seq, wire::PacketType::kRetransmit) == SendStatus::kWouldBlock) return;
      counters_.Add(Counter::kRecoveryRetransmit);
      break;
    }
  }
  PostPump(IoClass::kOutboundRecovery);
}

void Node::PumpData() {
  if (blocked_ || targets_.empty()) return;
  // Build up to a batch of data packets, one region after the other for each message, then hand
  // them to the transport in one call (sendmmsg).
  const TimePoint start = scheduler_.clock().Now();
  std::optional<TimePoint> resume;  // the earliest end of a suspension that held data back
  size_t count = 0;
  while (count < kPumpBatch) {
    Target* next = nullptr;
    for (auto& [region, t] : targets_) {
      if (!t.sender.NextUntransmitted()) continue;
      if (t.suspended_until > start) {
        resume = resume ? std::min(*resume, t.suspended_until) : t.suspended_until;
        continue;
      }
      next = &t;
      break;
    }
    if (next == nullptr) {
      if (resume || !PullFromFeed()) {  // nothing to send, a window is full, or regions unknown
        // A full window reopens with an ACK, a held message with a view: no alarm for those.
        if (!resume && feed_ != nullptr && !feed_message_held_ && WindowsHaveRoom()) {
          if (auto at = feed_->NextReady()) ArmPumpAlarm(*at, IoClass::kOutboundData);
        }
        break;
      }
      continue;
    }
    const TimePoint now = scheduler_.clock().Now();
    if (!data_rate_.Take(now)) {
      ArmPumpAlarm(data_rate_.NextAvailable(now, kPumpBatch), IoClass::kOutboundData);
      break;
    }
    const uint64_t seq = *next->sender.NextUntransmitted();
    const PendingMessage* m = next->sender.Find(seq);
    const wire::DataPacket data = PacketOf(*next, seq, *m);
    auto& buffer = batch_buffers_[count];
    buffer.resize(wire::kHeaderSize + wire::kDataBodyFixed + m->payload.size());
    auto n = wire::EncodeData(wire::PacketType::kData, config_.id, data, buffer);
    QSM_CHECK(n.has_value(), "a data packet does not encode");
    batch_[count] = OutgoingDatagram{next->multicast, std::span(buffer).first(*n)};
    batch_seqs_[count] = {next, seq};
    next->sender.MarkTransmitted(seq);  // provisional: undone below for what the transport refuses
    ++count;
  }
  if (resume) ArmPumpAlarm(*resume, IoClass::kOutboundData);
  if (count == 0) return;
  const size_t sent = transport_.SendBatch(std::span(batch_).first(count));
  const TimePoint now = scheduler_.clock().Now();
  const auto own = own_region();
  for (size_t i = 0; i < sent; ++i) {
    // The sender has its own messages, in its own region, from the first transmission on.
    auto [target, seq] = batch_seqs_[i];
    if (target->sender.rvid().region != own) continue;
    const PendingMessage* m = target->sender.Find(seq);
    if (m == nullptr) continue;
    region_.OnOwnMessage(PacketOf(*target, seq, *m), now);
  }
  if (sent < count) {
    // Each region's refused datagrams are consecutive and its first refused one is the lowest.
    for (size_t i = count; i-- > sent;) batch_seqs_[i].first->sender.UnmarkTransmitted(batch_seqs_[i].second);
    blocked_ = true;
    transport_.RequestWritable();
    return;
  }
  if (count == kPumpBatch) PostPump(IoClass::kOutboundData);
}

SendStatus Node::Transmit(Target& target, uint64_t seq, wire::PacketType type) {
  const PendingMessage* m = target.sender.Find(seq);
  if (m == nullptr) return SendStatus::kSent;  // acknowledged meanwhile: nothing to do
  const wire::DataPacket data = PacketOf(target, seq, *m);
  scratch_.resize(wire::kHeaderSize + wire::kDataBodyFixed + m->payload.size());
  auto n = wire::EncodeData(type, config_.id, data, scratch_);
  QSM_CHECK(n.has_value(), "a data packet does not encode");
  const SendStatus status = transport_.Send(target.multicast, std::span(scratch_).first(*n));
  if (status == SendStatus::kWouldBlock) {
    blocked_ = true;
    transport_.RequestWritable();
  }
  return status;
}

void Node::OnAckTimer(TimePoint now) {
  ack_timer_ =
      scheduler_.alarms().Schedule(now + config_.ack_timeout / 2, [this](TimePoint t) { OnAckTimer(t); });
  for (auto& [region, t] : targets_) {
    if (t.sender.pending_messages() == 0 || t.sender.highest_transmitted() <= t.sender.stable()) {
      t.last_ack_progress = now;
      continue;
    }
    if (now - t.last_ack_progress < config_.ack_timeout) continue;
    // Nothing acknowledged for a while: the region may not know of the last messages (tail
    // loss), or its token went quiet. Re-multicast the highest one; receivers learn what they miss.
    t.last_ack_progress = now;
    counters_.Add(Counter::kTailProbes);
    Transmit(t, t.sender.highest_transmitted(), wire::PacketType::kRetransmit);
  }
}

// ---------------------------------------------------------------- inbound

void Node::OnPacket(const wire::Packet& packet, const Endpoint& from, TimePoint at) {
  switch (packet.type) {
    case wire::PacketType::kViewUpdate:
      if (gms_) gms_->OnViewUpdate(std::get<wire::ViewUpdatePacket>(packet.body), from);
      return;
    case wire::PacketType::kAck:
      OnAckReceived(std::get<wire::AckPacket>(packet.body));
      return;
    case wire::PacketType::kNak:
      OnNakReceived(std::get<wire::RecoveryRequest>(packet.body));
      return;
    case wire::PacketType::kRegister:
    case wire::PacketType::kHeartbeat:
    case wire::PacketType::kDeregister:
      counters_.Add(Counter::kWrongView);  // for the GMS, not for nodes
      return;
    default:
      break;
  }
  const auto rvid = ScopeOf(packet);
  QSM_CHECK(rvid.has_value(), "every other packet type is region-scoped");
  if (!region_.has_view() || region_.layout().view().id != *rvid) {
    if (HoldIfFuture(packet, *rvid, from, at)) return;
    if (!region_.has_view()) {
      counters_.Add(Counter::kWrongView);
      return;
    }
  }
  switch (packet.type) {
    case wire::PacketType::kData:
    case wire::PacketType::kRetransmit:
    case wire::PacketType::kForward:
      region_.OnData(packet, from, at);
      break;
    case wire::PacketType::kPartitionToken:
    case wire::PacketType::kRegionToken:
      region_.OnToken(packet, from, at);
      break;
    case wire::PacketType::kTokenAck:
      region_.OnTokenAck(std::get<wire::TokenAckPacket>(packet.body));
      break;
    case wire::PacketType::kPullRequest:
      region_.OnPullRequest(std::get<wire::RecoveryRequest>(packet.body), from);
      PostPump(IoClass::kOutboundRecovery);
      break;
    default:
      break;
  }
  if (region_.has_recovery()) PostPump(IoClass::kOutboundRecovery);
}

void Node::OnAckReceived(const wire::AckPacket& ack) {
  Target* t = TargetOf(ack.rvid.region);
  if (ack.sender != config_.id || t == nullptr || t->sender.rvid() != ack.rvid) {
    counters_.Add(Counter::kWrongView);
    return;
  }
  if (t->sender.OnAck(ack.stable) > 0) {
    t->last_ack_progress = scheduler_.clock().Now();
    PostPump(IoClass::kOutboundData);
  }
  if (config_.adaptive_rate && ack.rate_min > 0) {
    data_rate_.set_rate(std::max(100.0, ack.rate_min * (1 + config_.rate_growth)));
  }
}

void Node::OnNakReceived(const wire::RecoveryRequest& nak) {
  Target* t = TargetOf(nak.rvid.region);
  if (nak.sender != config_.id || t == nullptr || t->sender.rvid() != nak.rvid) {
    counters_.Add(Counter::kWrongView);
    return;
  }
  t->sender.OnNak(nak.ranges);
  PostPump(IoClass::kOutboundRecovery);
}

uint64_t Node::FirstOwnHeld() const {
  const Target* t = own_region() ? TargetOf(*own_region()) : nullptr;
  return t ? t->sender.stable() + 1 : UINT64_MAX;
}

bool Node::OwnMessage(uint64_t seq, wire::DataPacket& out) const {
  const Target* t = own_region() ? TargetOf(*own_region()) : nullptr;
  const PendingMessage* m = t ? t->sender.Find(seq) : nullptr;
  if (m == nullptr || seq > t->sender.highest_transmitted()) return false;
  out = PacketOf(*t, seq, *m);
  return true;
}

wire::DataPacket Node::PacketOf(const Target& target, uint64_t seq, const PendingMessage& m) const {
  return wire::DataPacket{.rvid = target.sender.rvid(),
                          .sender = config_.id,
                          .group = m.group,
                          .region_seq = seq,
                          .group_seq = m.group_seq,
                          .send_time_ns = m.send_time_ns,
                          .payload = m.payload};
}

void Node::OnRegionMessage(wire::NodeId sender, const wire::DataPacket& m, TimePoint at) {
  auto joined = joined_.find(m.group);
  if (joined == joined_.end()) return;  // received and repaired for the region, not delivered here
  // Per (sender, joined group) state only: what arrives for other groups creates nothing.
  GroupDelivery& d = delivered_[DeliveryKey(sender, m.group)];
  const bool unordered = joined->second;
  if (unordered) {
    if (!d.seen) d.seen = std::make_unique<ReceiveWindow>();
    if (d.seen->Insert(m.group_seq) != ReceiveWindow::InsertResult::kNew) {
      counters_.Add(Counter::kDuplicatesDropped);
      return;
    }
  } else {
    if (m.group_seq <= d.last) {
      counters_.Add(Counter::kDuplicatesDropped);  // delivered already, in an earlier view
      return;
    }
    // A stream's first delivery may start past 1: a joiner gets the stream from its first view on.
    if (d.last > 0 && m.group_seq != d.last + 1) counters_.Add(Counter::kDeliveryGaps);
    d.last = m.group_seq;
  }
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
  s.groups_joined = joined_.size();
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
  Memory m;
  for (const auto& [region, t] : targets_) {
    m.pending_messages += t.sender.pending_messages();
    m.pending_bytes += t.sender.pending_bytes();
  }
  m.cache_bytes = region_.stats().cache_bytes;
  m.cached_messages = region_.stats().cached_messages;
  return m;
}

bool Node::idle() const {
  const bool pending = std::any_of(targets_.begin(), targets_.end(),
                                   [](const auto& t) { return t.second.sender.pending_messages() > 0; });
  return !pending && !region_.has_recovery() && region_.stats().cached_messages == 0;
}

}  // namespace qsm
