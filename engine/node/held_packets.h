// HeldPackets: region-scoped packets for a region view this node has not installed yet (the GMS's
// update to it is still on the way), kept as the datagrams they arrived in and handed back when
// the view arrives (PROTOCOL.md §4: "packets for an unknown region view are buffered for a while").
// Bounded in count, bytes and age; the oldest go first, each counted as kDroppedFutureView.
// Threading: core thread only.
#pragma once

#include <cstddef>
#include <deque>
#include <span>
#include <vector>

#include "engine/core/counters.h"
#include "engine/core/endpoint.h"
#include "engine/core/time.h"

namespace qsm {

struct HoldLimits {
  size_t max_packets = 30000;  // orig: 30,000 packets
  size_t max_bytes = 32 << 20;
  Duration hold_for = 3s;  // orig: 3 s
};

class HeldPackets {
 public:
  struct Held {
    TimePoint at;  // when it arrived
    Endpoint from;
    std::vector<std::byte> datagram;
  };

  // `counters` must outlive this.
  HeldPackets(HoldLimits limits, Counters& counters) : limits_(limits), counters_(counters) {}

  // Keeps a copy of `datagram` (counted as kHeldFutureView), dropping what has expired by `at`
  // and then the oldest while a bound would be exceeded.
  void Hold(std::span<const std::byte> datagram, const Endpoint& from, TimePoint at);
  // Everything held that has not expired by `now`, oldest first; nothing is held afterwards.
  std::deque<Held> TakeAll(TimePoint now);

  size_t size() const { return held_.size(); }
  size_t bytes() const { return bytes_; }

 private:
  void DropOldest();

  HoldLimits limits_;
  Counters& counters_;
  std::deque<Held> held_;
  size_t bytes_ = 0;  // Invariant: the sum of held_[i].datagram.size()
};

}  // namespace qsm
