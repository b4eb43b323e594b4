#include "engine/region/token_hops.h"

#include "engine/core/check.h"

namespace qsm {

TokenHops::TokenHops(Config config, AlarmQueue& alarms, const Clock& clock, Transport& transport,
                     Counters& counters, Wanted wanted)
    : config_(config),
      alarms_(alarms),
      clock_(clock),
      transport_(transport),
      counters_(counters),
      wanted_(std::move(wanted)) {}

TokenHops::~TokenHops() { Clear(); }

wire::TokenAckPacket TokenHops::AckOf(const wire::Packet& token) {
  const auto& body = std::get<wire::TokenPacket>(token.body);
  return wire::TokenAckPacket{body.rvid, body.round, body.partition, body.members_visited,
                              static_cast<uint8_t>(token.type == wire::PacketType::kRegionToken ? 1 : 0)};
}

void TokenHops::Send(const Endpoint& to, const wire::Packet& token) {
  size_t slot = 0;
  while (slot < hops_.size() && hops_[slot].used) ++slot;
  if (slot == hops_.size()) hops_.emplace_back();
  Hop& hop = hops_[slot];
  hop.used = true;
  hop.key = AckOf(token);
  hop.to = to;
  hop.bytes.resize(wire::EncodedSize(token));
  auto n = wire::Encode(token, hop.bytes);
  QSM_CHECK(n.has_value(), "a token does not encode");
  transport_.Send(to, hop.bytes);
  const TimePoint now = clock_.Now();
  hop.backoff = config_.first_timeout;
  hop.give_up = now + config_.give_up;
  hop.alarm = alarms_.Schedule(now + hop.backoff, [this, slot](TimePoint t) { OnTimeout(slot, t); });
}

void TokenHops::OnTimeout(size_t slot, TimePoint now) {
  Hop& hop = hops_[slot];
  if (!hop.used) return;
  if (now >= hop.give_up || !wanted_(hop.key)) {
    hop.used = false;  // the round has moved on, or the leader will regenerate it
    return;
  }
  counters_.Add(Counter::kTokenHopsResent);
  transport_.Send(hop.to, hop.bytes);
  hop.backoff *= 2;
  hop.alarm = alarms_.Schedule(now + hop.backoff, [this, slot](TimePoint t) { OnTimeout(slot, t); });
}

void TokenHops::OnAck(const wire::TokenAckPacket& ack) {
  for (auto& hop : hops_) {
    if (hop.used && hop.key == ack) {
      alarms_.Cancel(hop.alarm);
      hop.used = false;
    }
  }
}

void TokenHops::Clear() {
  for (auto& hop : hops_) alarms_.Cancel(hop.alarm);
  hops_.clear();
}

size_t TokenHops::outstanding() const {
  size_t n = 0;
  for (const auto& hop : hops_) n += hop.used ? 1 : 0;
  return n;
}

}  // namespace qsm
