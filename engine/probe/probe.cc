#include "engine/probe/probe.h"

#include <cmath>

namespace qsm {
namespace {

// At most this many packets are sent from one alarm when the timer fired late.
constexpr uint64_t kMaxBurst = 64;
// Receivers track sequence numbers up to this (a bitmap of at most 8 MiB per sender).
constexpr uint64_t kMaxSequence = uint64_t{1} << 26;

}  // namespace

MulticastProbe::MulticastProbe(ProbeConfig config, Scheduler& scheduler, Transport& transport)
    : config_(config),
      scheduler_(scheduler),
      transport_(transport),
      payload_(config.payload_bytes, std::byte{0x51}),
      datagram_(wire::kHeaderSize + wire::kDataBodyFixed + config.payload_bytes) {}

Status MulticastProbe::Start() {
  if (auto joined = transport_.JoinGroup(config_.group); !joined) return joined;
  start_ = scheduler_.clock().Now();
  if (config_.rate > 0) {
    alarm_ = scheduler_.alarms().Schedule(start_, [this](TimePoint now) { OnSendAlarm(now); });
  }
  return {};
}

void MulticastProbe::Stop() {
  stopped_ = true;
  scheduler_.alarms().Cancel(alarm_);
}

TimePoint MulticastProbe::IntendedTime(uint64_t seq) const {
  return start_ +
         Duration(static_cast<int64_t>(std::llround(static_cast<double>(seq - 1) * 1e9 / config_.rate)));
}

void MulticastProbe::OnSendAlarm(TimePoint now) {
  uint64_t burst = 0;
  while (!done_sending() && burst < kMaxBurst) {
    const uint64_t seq = sent_ + 1;
    const TimePoint intended = IntendedTime(seq);
    if (intended > now) break;
    wire::DataPacket data{.sender = config_.node,
                          .region_seq = seq,
                          .group_seq = seq,
                          .send_time_ns = ToNanos(intended),
                          .payload = payload_};
    auto n = wire::EncodeData(wire::PacketType::kData, config_.node, data, datagram_);
    if (!n || transport_.Send(config_.group, std::span(datagram_).first(*n)) != SendStatus::kSent) {
      ++send_failures_;  // unreliable by design: the slot is skipped, receivers count it lost
    }
    sent_ = seq;
    ++burst;
  }
  if (done_sending()) return;
  const TimePoint next = burst == kMaxBurst ? now : IntendedTime(sent_ + 1);
  alarm_ = scheduler_.alarms().Schedule(next, [this](TimePoint t) { OnSendAlarm(t); });
}

void MulticastProbe::OnPacket(const wire::Packet& packet, std::span<const std::byte>, const Endpoint&, TimePoint at) {
  if (packet.type != wire::PacketType::kData) return;
  const auto& data = std::get<wire::DataPacket>(packet.body);
  if (data.sender == config_.node || data.region_seq == 0) return;  // our own multicast, looped back
  ProbePeerStats& peer = peers_[data.sender];
  const uint64_t seq = data.region_seq;
  if (seq >= peer.seen.size()) {
    if (seq > kMaxSequence) return;  // beyond what a probe sends: not ours, ignore
    peer.seen.resize(std::max<size_t>(seq + 1, peer.seen.size() * 2));
  }
  if (peer.seen[seq]) {
    ++peer.duplicates;
    return;
  }
  peer.seen[seq] = true;
  ++peer.distinct;
  if (seq < peer.highest) ++peer.reordered;
  peer.highest = std::max(peer.highest, seq);
  const int64_t latency = ToNanos(at) - data.send_time_ns;
  peer.latency_ns.Record(latency > 0 ? static_cast<uint64_t>(latency) : 0);
}

}  // namespace qsm
