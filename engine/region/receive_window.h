// Which region sequence numbers of one sender (in one region view) have arrived: the contiguous
// prefix (every seq <= contiguous() arrived), the highest seen, and a bitmap in between.
// Sequence numbers start at 1. The window spans at most kMaxSpan above the prefix; Insert()
// refuses anything beyond (the sender's pending window is far smaller, so only a broken or
// hostile packet gets there).
// Threading: one owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/core/ring_queue.h"
#include "engine/wire/packets.h"

namespace qsm {

class ReceiveWindow {
 public:
  static constexpr uint64_t kMaxSpan = uint64_t{1} << 20;

  enum class InsertResult { kNew, kDuplicate, kOutOfRange };
  InsertResult Insert(uint64_t seq);
  // Declares every seq <= `seq` arrived (what arrived above it is kept): for a window that need
  // not start at 1, or that must slide past its span. O(highest() - seq).
  void SkipTo(uint64_t seq);
  bool Contains(uint64_t seq) const;

  uint64_t contiguous() const { return contiguous_; }
  uint64_t highest() const { return highest_; }
  // Appends to `out` the missing ranges in (contiguous(), up_to], lowest first, at most `max_ranges`.
  void MissingRanges(uint64_t up_to, size_t max_ranges, std::vector<wire::SeqRange>& out) const;

 private:
  // Bit i of words_[w] stands for seq base_ + 64 * w + i.
  // Invariant: base_ <= contiguous_ + 1 < base_ + 64, and no bit below contiguous_ + 1 is read.
  uint64_t base_ = 1;
  RingQueue<uint64_t> words_{4};
  uint64_t contiguous_ = 0;
  uint64_t highest_ = 0;
};

}  // namespace qsm
