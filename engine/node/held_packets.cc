#include "engine/node/held_packets.h"

namespace qsm {

void HeldPackets::DropOldest() {
  bytes_ -= held_.front().datagram.size();
  held_.pop_front();
  counters_.Add(Counter::kDroppedFutureView);
}

void HeldPackets::Hold(std::span<const std::byte> datagram, const Endpoint& from, TimePoint at) {
  while (!held_.empty() && at - held_.front().at > limits_.hold_for) DropOldest();
  while (!held_.empty() &&
         (held_.size() >= limits_.max_packets || bytes_ + datagram.size() > limits_.max_bytes)) {
    DropOldest();
  }
  if (limits_.max_packets == 0 || datagram.size() > limits_.max_bytes) {
    counters_.Add(Counter::kDroppedFutureView);
    return;
  }
  bytes_ += datagram.size();
  held_.push_back(Held{at, from, std::vector<std::byte>(datagram.begin(), datagram.end())});
  counters_.Add(Counter::kHeldFutureView);
}

std::deque<HeldPackets::Held> HeldPackets::TakeAll(TimePoint now) {
  while (!held_.empty() && now - held_.front().at > limits_.hold_for) DropOldest();
  std::deque<Held> out;
  out.swap(held_);
  bytes_ = 0;
  return out;
}

}  // namespace qsm
