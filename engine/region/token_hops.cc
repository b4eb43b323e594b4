#include "engine/region/token_hops.h"

#include "engine/core/check.h"

namespace qsm {

TokenHops::TokenHops(Config config, AlarmQueue& alarms, const Clock& clock, Transport& transport,
                     Counters& counters, Wanted wanted, Unanswered unanswered)
    : config_(config),
      alarms_(alarms),
      clock_(clock),
      transport_(transport),
      counters_(counters),
      wanted_(std::move(wanted)),
      unanswered_(std::move(unanswered)) {}

TokenHops::~TokenHops() { Clear(); }

wire::TokenAckPacket TokenHops::AckOf(const wire::Packet& token) {
  const auto& body = std::get<wire::TokenPacket>(token.body);
  return wire::TokenAckPacket{body.rvid, body.round, body.partition, body.members_visited,
                              static_cast<uint8_t>(token.type == wire::PacketType::kRegionToken ? 1 : 0)};
}

void TokenHops::Send(const Endpoint& to, const wire::Packet& token, std::optional<Duration> skip_after) {
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
  hop.resend_at = now + hop.backoff;
  hop.give_up = now + config_.give_up;
  const Duration skip = skip_after.value_or(config_.skip_after);
  hop.skip_at = unanswered_ && skip > Duration::zero() ? now + skip : TimePoint::max();
  Arm(slot);
}

void TokenHops::Arm(size_t slot) {
  Hop& hop = hops_[slot];
  hop.alarm = alarms_.Schedule(std::min(hop.resend_at, hop.skip_at), [this, slot](TimePoint t) { OnTimeout(slot, t); });
}

void TokenHops::OnTimeout(size_t slot, TimePoint now) {
  if (!hops_[slot].used) return;
  if (now >= hops_[slot].give_up || !wanted_(hops_[slot].key)) {
    hops_[slot].used = false;  // the round has moved on, or the leader will regenerate it
    return;
  }
  if (now >= hops_[slot].skip_at) {
    const wire::TokenAckPacket key = hops_[slot].key;
    const Endpoint to = hops_[slot].to;
    hops_[slot].used = false;  // free before the call: it may Send, reusing the slot or growing hops_
    if (unanswered_(key, to)) return;
    hops_[slot].used = true;  // not passed on (no Send happened): keep re-sending, not offered again
    hops_[slot].skip_at = TimePoint::max();
  }
  Hop& hop = hops_[slot];
  if (now >= hop.resend_at) {
    counters_.Add(Counter::kTokenHopsResent);
    transport_.Send(hop.to, hop.bytes);
    hop.backoff *= 2;
    hop.resend_at = now + hop.backoff;
  }
  Arm(slot);
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
