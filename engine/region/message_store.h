// The messages one member holds for one sender: waiting for delivery (arrived out of order) or
// cached for its partition until the cleanup point. Sequence numbers are dense, so the store is a
// deque of slots indexed by seq - base rather than a tree: O(1) find, put and erase at the ends,
// and payload buffers are recycled, so in steady state storing a message allocates nothing.
// Its span (lowest to highest stored seq) is bounded by the receive window.
// Threading: one owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <vector>

#include "engine/wire/packets.h"

namespace qsm {

struct StoredMessage {
  wire::GroupId group = 0;
  uint64_t group_seq = 0;
  int64_t send_time_ns = 0;
  bool catch_up = false;         // wire::DataPacket::catch_up
  bool delivered_early = false;  // went up on arrival (unordered group)
  bool present = false;
  std::vector<std::byte> payload;
};

class MessageStore {
 public:
  StoredMessage* Find(uint64_t seq);
  // Stores a copy of `m` under m.region_seq (replacing nothing: requires it is not stored).
  // Returns the payload bytes added.
  size_t Put(const wire::DataPacket& m);
  // Returns the payload bytes freed (0 if `seq` was not stored).
  size_t Erase(uint64_t seq);
  // Erases every stored seq <= `seq`; returns the payload bytes freed.
  size_t EraseThrough(uint64_t seq);
  // Calls f(seq, message) for stored seqs in [first, last], ascending, while f returns true.
  template <typename F>
  void ForEach(uint64_t first, uint64_t last, F&& f) {
    if (slots_.empty()) return;
    const uint64_t end = base_ + slots_.size() - 1;
    for (uint64_t seq = std::max(first, base_); seq <= std::min(last, end); ++seq) {
      StoredMessage& m = slots_[static_cast<size_t>(seq - base_)];
      if (m.present && !f(seq, m)) return;
    }
  }
  size_t count() const { return count_; }
  bool empty() const { return count_ == 0; }

 private:
  void Trim();

  static constexpr size_t kMaxSpare = 1024;
  std::deque<StoredMessage> slots_;  // Invariant: slots_[i] is seq base_ + i; both ends present
  uint64_t base_ = 0;
  size_t count_ = 0;
  std::vector<std::vector<std::byte>> spare_;
};

}  // namespace qsm
