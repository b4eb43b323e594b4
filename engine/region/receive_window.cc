#include "engine/region/receive_window.h"

#include <algorithm>

namespace qsm {

bool ReceiveWindow::Contains(uint64_t seq) const {
  if (seq == 0) return false;
  if (seq <= contiguous_) return true;
  if (seq > highest_) return false;
  const uint64_t offset = seq - base_;
  const auto word = static_cast<size_t>(offset / 64);
  return word < words_.size() && ((words_[word] >> (offset % 64)) & 1);
}

ReceiveWindow::InsertResult ReceiveWindow::Insert(uint64_t seq) {
  if (seq == 0 || seq > contiguous_ + kMaxSpan) return InsertResult::kOutOfRange;
  if (Contains(seq)) return InsertResult::kDuplicate;
  const uint64_t offset = seq - base_;
  const auto word = static_cast<size_t>(offset / 64);
  if (word >= words_.size()) words_.Resize(word + 1);
  words_[word] |= uint64_t{1} << (offset % 64);
  highest_ = std::max(highest_, seq);
  // Advance the prefix over every set bit, dropping words it has passed entirely.
  while (!words_.empty()) {
    const uint64_t next = contiguous_ + 1;
    const uint64_t bit = (next - base_) % 64;
    const uint64_t w = words_.Front();
    if (((w >> bit) & 1) == 0) break;
    // Count the run of ones starting at `bit`.
    const uint64_t shifted = ~(w >> bit);
    const uint64_t run = shifted == 0 ? 64 - bit : static_cast<uint64_t>(__builtin_ctzll(shifted));
    contiguous_ += std::min(run, 64 - bit);
    if (bit + run >= 64) {
      words_.Pop();
      base_ += 64;
    }
  }
  if (words_.empty()) words_.Compact();  // the bitmap of a burst of loss, once repaired
  return InsertResult::kNew;
}

void ReceiveWindow::SkipTo(uint64_t seq) {
  if (seq <= contiguous_) return;
  std::vector<uint64_t> above;
  for (uint64_t s = seq + 1; s <= highest_; ++s) {
    if (Contains(s)) above.push_back(s);
  }
  words_.Clear();
  base_ = seq + 1;
  contiguous_ = seq;
  highest_ = std::max(highest_, seq);
  for (uint64_t s : above) Insert(s);
}

void ReceiveWindow::MissingRanges(uint64_t up_to, size_t max_ranges, std::vector<wire::SeqRange>& out) const {
  uint64_t seq = contiguous_ + 1;
  size_t found = 0;
  while (seq <= up_to && found < max_ranges) {
    while (seq <= up_to && Contains(seq)) ++seq;
    if (seq > up_to) break;
    const uint64_t first = seq;
    // Beyond the highest seen nothing is set: the rest of the range is one gap.
    if (seq > highest_) {
      out.push_back({first, up_to});
      return;
    }
    while (seq <= up_to && !Contains(seq)) ++seq;
    out.push_back({first, seq - 1});
    ++found;
  }
}

}  // namespace qsm
