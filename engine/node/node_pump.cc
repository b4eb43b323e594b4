// Node's pump: the data and recovery it sends, paced, batched into one sendmmsg call per event,
// and small messages packed into one datagram (NodeConfig::datagram_bytes).
#include <algorithm>

#include "engine/core/check.h"
#include "engine/node/node.h"

namespace qsm {
namespace {

constexpr size_t kRecovery = 0, kData = 1;  // pump_posted_ and pump_alarm_ by I/O class

}  // namespace

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
  if (!blocked_ && !control_.Flush()) blocked_ = true;  // waiting control goes first (it asked for OnWritable)
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
    if (!region_.has_recovery() && !targets_.HasRetransmits()) return;
    if (!recovery_rate_.Take(now)) {
      ArmPumpAlarm(recovery_rate_.NextAvailable(now, kPumpBatch), IoClass::kOutboundRecovery);
      return;
    }
    switch (region_.SendNextRecovery(scratch_, config_.datagram_bytes)) {
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
      auto seq = t.sender.PopRetransmit(now);
      if (!seq) continue;
      if (Transmit(t, *seq, wire::PacketType::kRetransmit) == SendStatus::kWouldBlock)
        return t.sender.RequeueRetransmit(*seq);  // first again when the socket drains
      counters_.Add(Counter::kRecoveryRetransmit);
      break;
    }
  }
  PostPump(IoClass::kOutboundRecovery);
}

SendTarget* Node::NextToTransmit(TimePoint now, std::optional<TimePoint>& resume) {
  for (auto& [region, t] : targets_) {
    if (!t.sender.NextUntransmitted()) continue;
    if (t.suspended_until > now) {
      resume = resume ? std::min(*resume, t.suspended_until) : t.suspended_until;
      continue;
    }
    return &t;
  }
  return nullptr;
}

void Node::ArmFeedAlarm() {
  // A full window reopens with an ACK, a held message with a view: no alarm for those.
  if (feed_ == nullptr || feed_message_held_) return;
  if (auto at = feed_->NextReady(group_ready_)) ArmPumpAlarm(*at, IoClass::kOutboundData);
}

void Node::PumpData() {
  if (blocked_ || targets_.empty()) return;
  // Build up to a batch of data packets, one region after the other for each message, then hand
  // them to the transport in one call (sendmmsg).
  const TimePoint start = scheduler_.clock().Now();
  std::optional<TimePoint> resume;  // the earliest end of a suspension that held data back
  size_t count = 0;
  while (count < kPumpBatch) {
    SendTarget* next = NextToTransmit(start, resume);
    if (next == nullptr) {
      if (resume || !PullFromFeed()) {  // nothing to send, a window is full, or regions unknown
        if (!resume) ArmFeedAlarm();
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
    auto& buffer = batch_buffers_[count];
    const uint64_t last = EncodeFrom(*next, seq, buffer, now);  // marks seq..last transmitted,
    batch_[count] = OutgoingDatagram{next->multicast, buffer};  // provisionally: undone below for
    batch_seqs_[count] = {next, seq, last};                       // what the transport refuses
    ++count;
  }
  if (resume) ArmPumpAlarm(*resume, IoClass::kOutboundData);
  if (count == 0) return;
  const size_t sent = transport_.SendBatch(std::span(batch_).first(count));
  RecordOwnTransmitted(sent);
  if (sent < count) {
    // Each region's refused datagrams are consecutive and its first refused one is the lowest.
    for (size_t i = count; i-- > sent;) batch_seqs_[i].target->sender.UnmarkTransmitted(batch_seqs_[i].first);
    blocked_ = true;
    transport_.RequestWritable();
    return;
  }
  if (count == kPumpBatch) PostPump(IoClass::kOutboundData);
}

uint64_t Node::EncodeFrom(SendTarget& target, uint64_t seq, std::vector<std::byte>& buffer, TimePoint now) {
  const PendingMessage& first = *target.sender.Find(seq);
  target.sender.MarkTransmitted(seq, now);
  const size_t first_alone = wire::DataBatchWriter::SizeFor(1, first.payload.size());
  const PendingMessage* m = NextToPack(target, seq, config_.datagram_bytes - std::min(config_.datagram_bytes, first_alone), now);
  if (m == nullptr) {
    buffer.resize(wire::kHeaderSize + wire::kDataBodyFixed + first.payload.size());
    auto n = wire::EncodeData(wire::PacketType::kData, config_.id, PacketOf(target, seq, first), buffer);
    QSM_CHECK(n.has_value(), "a data packet does not encode");
    buffer.resize(*n);
    return seq;
  }
  buffer.resize(config_.datagram_bytes);
  wire::DataBatchWriter batch(buffer, config_.id, target.sender.rvid(), config_.id, seq);
  batch.Add(PacketOf(target, seq, first));
  uint64_t last = seq;
  for (; m != nullptr; m = NextToPack(target, last, config_.datagram_bytes - batch.size(), now)) {
    batch.Add(PacketOf(target, ++last, *m));
    target.sender.MarkTransmitted(last, now);
  }
  buffer.resize(batch.Finish());
  return last;
}

const PendingMessage* Node::NextToPack(SendTarget& target, uint64_t seq, size_t room, TimePoint now) {
  if (config_.datagram_bytes == 0 || room < wire::kDataBatchEntryFixed) return nullptr;
  auto next = target.sender.NextUntransmitted();
  // The feed may have more for it, unless another region waits for its turn (the message would
  // go to that region too, and this one would pack ahead of it for as long as the feed lasts).
  auto others_wait = [&] {
    return std::any_of(targets_.begin(), targets_.end(), [&](const auto& entry) {
      return &entry.second != &target && entry.second.sender.NextUntransmitted().has_value();
    });
  };
  if (!next && !others_wait() && PullFromFeed()) next = target.sender.NextUntransmitted();
  if (next != seq + 1) return nullptr;
  const PendingMessage* m = target.sender.Find(*next);
  if (wire::kDataBatchEntryFixed + m->payload.size() > room || !data_rate_.Take(now)) return nullptr;
  return m;
}

void Node::RecordOwnTransmitted(size_t sent) {
  const TimePoint now = scheduler_.clock().Now();
  const auto own = own_region();
  for (size_t i = 0; i < sent; ++i) {
    const auto& [target, first, last] = batch_seqs_[i];
    if (target->sender.rvid().region != own) continue;
    for (uint64_t seq = first; seq <= last; ++seq) {
      if (const PendingMessage* m = target->sender.Find(seq)) region_.OnOwnMessage(PacketOf(*target, seq, *m), now);
    }
  }
}

SendStatus Node::Transmit(SendTarget& target, uint64_t seq, wire::PacketType type) {
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
      scheduler_.alarms().Schedule(now + AckCheckInterval(), [this](TimePoint t) { OnAckTimer(t); });
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

}  // namespace qsm
