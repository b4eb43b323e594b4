#include "engine/node/node.h"

#include <algorithm>

#include "engine/core/check.h"

namespace qsm {
namespace {

// Packets sent per pump event; inbound I/O is handled between two events.

constexpr size_t kRecovery = 0, kData = 1;

uint64_t DeliveryKey(wire::NodeId sender, wire::GroupId group) { return (uint64_t{sender} << 32) | group; }

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
  const bool new_address = !region_.has_view() || region_.layout().view().multicast != view.multicast;
  if (new_address) {
    if (region_.has_view()) (void)transport_.LeaveGroup(region_.layout().view().multicast);
    if (auto joined = transport_.JoinGroup(view.multicast); !joined) return joined;
  }
  region_.InstallView(view);
  counters_.Add(Counter::kViewChanges);
  std::vector<PendingMessage> carried;
  if (sender_) carried = sender_->TakeUnacknowledged();
  sender_.emplace(view.id, config_.window);
  for (auto& m : carried) sender_->Add(std::move(m));  // fits: the old window held them
  if (!scheduler_.alarms().IsPending(ack_timer_)) {
    ack_timer_ = scheduler_.alarms().Schedule(scheduler_.clock().Now() + config_.ack_timeout / 2,
                                              [this](TimePoint now) { OnAckTimer(now); });
  }
  last_ack_progress_ = scheduler_.clock().Now();
  PostPump(IoClass::kOutboundData);
  return {};
}

Status Node::Join(wire::GroupId group, bool unordered) {
  joined_[group] = unordered;
  return {};
}

void Node::Leave(wire::GroupId group) { joined_.erase(group); }

bool Node::DeliversOnArrival(wire::GroupId group) const {
  auto it = joined_.find(group);
  return it != joined_.end() && it->second;
}

void Node::SetFeed(MessageFeed* feed) {
  feed_ = feed;
  PostPump(IoClass::kOutboundData);
}

bool Node::Send(wire::GroupId group, std::span<const std::byte> payload) {
  if (!sender_ || payload.size() > config_.max_payload_bytes || !sender_->HasRoom(payload.size()))
    return false;
  sender_->Add(PendingMessage{group, ++group_seqs_[group], ToNanos(scheduler_.clock().Now()),
                              std::vector<std::byte>(payload.begin(), payload.end())});
  counters_.Add(Counter::kMessagesSent);
  PostPump(IoClass::kOutboundData);
  return true;
}

bool Node::PullFromFeed() {
  if (feed_ == nullptr || !sender_) return false;
  // Only ask the feed when the message it gives can be taken (window with room for a full one).
  if (!sender_->HasRoom(config_.max_payload_bytes)) return false;
  if (feed_message_.payload.capacity() == 0) feed_message_.payload = sender_->TakeSpareBuffer();
  feed_message_.payload.clear();
  feed_message_.intended = TimePoint{};
  if (!feed_->Next(feed_message_)) return false;
  if (feed_message_.payload.size() > config_.max_payload_bytes) {
    counters_.Add(Counter::kSendErrors);
    return true;  // refused; the pump goes on with the next
  }
  const TimePoint intended =
      feed_message_.intended == TimePoint{} ? scheduler_.clock().Now() : feed_message_.intended;
  sender_->Add(PendingMessage{feed_message_.group, ++group_seqs_[feed_message_.group], ToNanos(intended),
                              std::move(feed_message_.payload)});
  counters_.Add(Counter::kMessagesSent);
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
    if (!region_.has_recovery() && !(sender_ && sender_->has_retransmits())) return;
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
    auto seq = sender_ ? sender_->PopRetransmit() : std::nullopt;
    if (!seq) continue;
    if (Transmit(*seq, wire::PacketType::kRetransmit) == SendStatus::kWouldBlock) return;
    counters_.Add(Counter::kRecoveryRetransmit);
  }
  PostPump(IoClass::kOutboundRecovery);
}

void Node::PumpData() {
  if (!sender_ || blocked_) return;
  // Build up to a batch of data packets, then hand them to the transport in one call (sendmmsg).
  size_t count = 0;
  uint64_t first_seq = 0;
  for (; count < kPumpBatch; ++count) {
    auto seq = sender_->NextUntransmitted();
    if (seq && *seq != first_seq + count && count > 0) break;  // Invariant: a batch is consecutive
    if (!seq) {
      if (!PullFromFeed()) {  // nothing to send, or the window is full (an ACK reopens it)
        if (feed_ != nullptr && sender_->HasRoom(config_.max_payload_bytes)) {
          if (auto at = feed_->NextReady()) ArmPumpAlarm(*at, IoClass::kOutboundData);
        }
        break;
      }
      seq = sender_->NextUntransmitted();
      if (!seq) break;
    }
    const TimePoint now = scheduler_.clock().Now();
    if (!data_rate_.Take(now)) {
      ArmPumpAlarm(data_rate_.NextAvailable(now, kPumpBatch), IoClass::kOutboundData);
      break;
    }
    if (count == 0) first_seq = *seq;
    const PendingMessage* m = sender_->Find(*seq);
    const wire::DataPacket data = PacketOf(*seq, *m);
    auto& buffer = batch_buffers_[count];
    buffer.resize(wire::kHeaderSize + wire::kDataBodyFixed + m->payload.size());
    auto n = wire::EncodeData(wire::PacketType::kData, config_.id, data, buffer);
    QSM_CHECK(n.has_value(), "a data packet does not encode");
    batch_[count] = OutgoingDatagram{region_.layout().view().multicast, std::span(buffer).first(*n)};
    sender_->MarkTransmitted(*seq);  // provisional: undone below for what the transport refuses
  }
  if (count == 0) return;
  const size_t sent = transport_.SendBatch(std::span(batch_).first(count));
  const TimePoint now = scheduler_.clock().Now();
  for (size_t i = 0; i < sent; ++i) {
    // The sender has its own message from the first transmission on.
    const PendingMessage* m = sender_->Find(first_seq + i);
    if (m == nullptr) continue;
    region_.OnOwnMessage(PacketOf(first_seq + i, *m), now);
  }
  if (sent < count) {
    sender_->UnmarkTransmitted(first_seq + sent);
    blocked_ = true;
    transport_.RequestWritable();
    return;
  }
  if (count == kPumpBatch) PostPump(IoClass::kOutboundData);
}

SendStatus Node::Transmit(uint64_t seq, wire::PacketType type) {
  const PendingMessage* m = sender_->Find(seq);
  if (m == nullptr) return SendStatus::kSent;  // acknowledged meanwhile: nothing to do
  const wire::DataPacket data = PacketOf(seq, *m);
  scratch_.resize(wire::kHeaderSize + wire::kDataBodyFixed + m->payload.size());
  auto n = wire::EncodeData(type, config_.id, data, scratch_);
  QSM_CHECK(n.has_value(), "a data packet does not encode");
  const SendStatus status = transport_.Send(region_.layout().view().multicast, std::span(scratch_).first(*n));
  if (status == SendStatus::kWouldBlock) {
    blocked_ = true;
    transport_.RequestWritable();
    return status;
  }
  return status;
}

void Node::OnAckTimer(TimePoint now) {
  ack_timer_ =
      scheduler_.alarms().Schedule(now + config_.ack_timeout / 2, [this](TimePoint t) { OnAckTimer(t); });
  if (!sender_ || sender_->pending_messages() == 0 || sender_->highest_transmitted() <= sender_->stable()) {
    last_ack_progress_ = now;
    return;
  }
  if (now - last_ack_progress_ < config_.ack_timeout) return;
  // Nothing acknowledged for a while: the region may not know of the last messages (tail loss),
  // or the token went quiet. Re-multicast the highest one; receivers learn what they miss.
  last_ack_progress_ = now;
  counters_.Add(Counter::kTailProbes);
  Transmit(sender_->highest_transmitted(), wire::PacketType::kRetransmit);
}

// ---------------------------------------------------------------- inbound

void Node::OnPacket(const wire::Packet& packet, const Endpoint& from, TimePoint at) {
  if (!region_.has_view()) return;
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
    case wire::PacketType::kAck:
      region_.OnAckPacket(std::get<wire::AckPacket>(packet.body));
      break;
    case wire::PacketType::kNak:
      region_.OnNakPacket(std::get<wire::RecoveryRequest>(packet.body));
      break;
    case wire::PacketType::kPullRequest:
      region_.OnPullRequest(std::get<wire::RecoveryRequest>(packet.body), from);
      PostPump(IoClass::kOutboundRecovery);
      break;
    default:
      break;  // membership traffic is the GMS client's
  }
  if (region_.has_recovery()) PostPump(IoClass::kOutboundRecovery);
}

void Node::OnAck(const wire::AckPacket& ack) {
  if (ack.sender != config_.id || !sender_) return;
  if (sender_->OnAck(ack.stable) > 0) {
    last_ack_progress_ = scheduler_.clock().Now();
    PostPump(IoClass::kOutboundData);
  }
  if (config_.adaptive_rate && ack.rate_min > 0) {
    data_rate_.set_rate(std::max(100.0, ack.rate_min * (1 + config_.rate_growth)));
  }
}

void Node::OnNak(const wire::RecoveryRequest& nak) {
  if (nak.sender != config_.id || !sender_) return;
  sender_->OnNak(nak.ranges);
  PostPump(IoClass::kOutboundRecovery);
}

uint64_t Node::FirstOwnHeld() const { return sender_ ? sender_->stable() + 1 : UINT64_MAX; }

bool Node::OwnMessage(uint64_t seq, wire::DataPacket& out) const {
  const PendingMessage* m = sender_ ? sender_->Find(seq) : nullptr;
  if (m == nullptr || seq > sender_->highest_transmitted()) return false;
  out = PacketOf(seq, *m);
  return true;
}

wire::DataPacket Node::PacketOf(uint64_t seq, const PendingMessage& m) const {
  return wire::DataPacket{.rvid = sender_->rvid(),
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
    if (m.group_seq != d.last + 1) counters_.Add(Counter::kDeliveryGaps);
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
  const Memory m = MemoryUse();
  s.pending_messages = m.pending_messages;
  s.pending_bytes = m.pending_bytes;
  s.cache_bytes = m.cache_bytes;
  s.cached_messages = m.cached_messages;
  return s;
}

Node::Memory Node::MemoryUse() const {
  Memory m;
  if (sender_) {
    m.pending_messages = sender_->pending_messages();
    m.pending_bytes = sender_->pending_bytes();
  }
  m.cache_bytes = region_.stats().cache_bytes;
  m.cached_messages = region_.stats().cached_messages;
  return m;
}

bool Node::idle() const {
  return (!sender_ || sender_->pending_messages() == 0) && !region_.has_recovery() &&
         region_.stats().cached_messages == 0;
}

}  // namespace qsm
