#include "harness/drivers/udp_driver.h"

#include <algorithm>

#include "engine/wire/packets.h"

namespace qsm::harness {

namespace {
constexpr size_t kMaxPerPump = 256;  // messages sent per pump before input gets a turn
}  // namespace

UdpDriver::UdpDriver(wire::NodeId id, Scheduler& scheduler, Transport& transport)
    : StaticViewDriver(scheduler), id_(id), transport_(transport) {}

Status UdpDriver::InstallView(const wire::RegionView& view) {
  if (!view.multicast.is_multicast()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the udp engine needs the region's multicast address, not " + view.multicast.ToString());
  }
  if (!view_ || view_->multicast != view.multicast) {
    if (view_) (void)transport_.LeaveGroup(view_->multicast);
    if (auto s = transport_.JoinGroup(view.multicast); !s) return s;
  }
  view_ = view;
  Wake();
  return {};
}

void UdpDriver::OnWritable() {
  waiting_writable_ = false;
  Pump();
}

bool UdpDriver::Flush() {
  while (!outbox_.empty()) {
    batch_.clear();
    for (size_t i = 0; i < outbox_.size() && batch_.size() < kBatch; ++i) {
      batch_.push_back({.to = view_->multicast, .bytes = outbox_[i]});
    }
    const size_t sent = transport_.SendBatch(batch_);
    for (size_t i = 0; i < sent; ++i) {
      spare_.push_back(std::move(outbox_.front()));
      outbox_.pop_front();
    }
    if (sent < batch_.size()) {
      if (!waiting_writable_) {
        waiting_writable_ = true;
        transport_.RequestWritable();
      }
      return false;
    }
  }
  return true;
}

void UdpDriver::Pump() {
  if (waiting_writable_ || !view_ || !Flush()) return;
  OutgoingMessage m;
  size_t pulled = 0;
  while (feed_ != nullptr && pulled < kMaxPerPump && feed_->Next(m, ready_)) {
    ++pulled;
    const TimePoint intended = m.intended == TimePoint{} ? scheduler_.clock().Now() : m.intended;
    const wire::DataPacket data{.rvid = view_->id,
                                .sender = id_,
                                .group = m.group,
                                .region_seq = ++region_seq_,
                                .group_seq = ++group_seqs_[m.group],
                                .send_time_ns = ToNanos(intended),
                                .payload = m.payload};
    std::vector<std::byte> datagram;
    if (!spare_.empty()) {
      datagram = std::move(spare_.back());
      spare_.pop_back();
    }
    datagram.resize(wire::kHeaderSize + wire::kDataBodyFixed + m.payload.size());
    auto n = wire::EncodeData(wire::PacketType::kData, id_, data, datagram);
    if (!n) continue;  // a payload too large for a datagram: the message is lost, as UDP loses it
    datagram.resize(*n);
    scheduler_.counters().Add(Counter::kMessagesSent);
    // A member gets its own messages, as from QSM.
    Deliver(Delivery{m.group, id_, data.group_seq, m.payload, data.send_time_ns, scheduler_.clock().Now()});
    outbox_.push_back(std::move(datagram));
    if (outbox_.size() >= kBatch && !Flush()) return;
  }
  if (!Flush()) return;
  if (feed_ == nullptr) return;
  if (pulled == kMaxPerPump) {
    ArmPumpAlarm(scheduler_.clock().Now());
  } else if (auto next = feed_->NextReady(ready_)) {
    ArmPumpAlarm(*next);
  }
}

void UdpDriver::OnPacket(const wire::Packet& packet, std::span<const std::byte> /*datagram*/,
                         const Endpoint& /*from*/, TimePoint at) {
  if (packet.type != wire::PacketType::kData) return;
  const auto& m = std::get<wire::DataPacket>(packet.body);
  if (m.sender != id_) Deliver(Delivery{m.group, m.sender, m.group_seq, m.payload, m.send_time_ns, at});
}

}  // namespace qsm::harness
