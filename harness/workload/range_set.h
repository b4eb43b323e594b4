// A set of uint64 values kept as disjoint, non-adjacent inclusive ranges: how a node records which
// group sequence numbers it delivered, compactly (in-order delivery is one range per sender and
// group). Threading: one owner.
#pragma once

#include <cstdint>
#include <iterator>
#include <map>
#include <utility>
#include <vector>

namespace qsm::harness {

class RangeSet {
 public:
  // Adds `v`; false if it was already present.
  bool Insert(uint64_t v) {
    auto next = ranges_.upper_bound(v);  // first range starting after v
    if (next != ranges_.begin()) {
      auto prev = std::prev(next);
      if (v <= prev->second) return false;
      if (v == prev->second + 1) {
        prev->second = v;
        if (next != ranges_.end() && next->first == v + 1) {
          prev->second = next->second;
          ranges_.erase(next);
        }
        ++count_;
        return true;
      }
    }
    if (next != ranges_.end() && next->first == v + 1) {
      const uint64_t hi = next->second;
      ranges_.erase(next);
      ranges_.emplace(v, hi);
    } else {
      ranges_.emplace(v, v);
    }
    ++count_;
    return true;
  }
  // Adds [lo, hi] (lo <= hi); false, and nothing added, if any of it was already present.
  bool InsertRange(uint64_t lo, uint64_t hi) {
    auto next = ranges_.upper_bound(hi);  // first range starting after hi
    if (next != ranges_.begin() && std::prev(next)->second >= lo) return false;
    uint64_t merged_hi = hi;
    if (next != ranges_.end() && next->first == hi + 1) {
      merged_hi = next->second;
      next = ranges_.erase(next);
    }
    if (next != ranges_.begin() && std::prev(next)->second + 1 == lo) {
      std::prev(next)->second = merged_hi;
    } else {
      ranges_.emplace(lo, merged_hi);
    }
    count_ += hi - lo + 1;
    return true;
  }
  bool Contains(uint64_t v) const {
    auto next = ranges_.upper_bound(v);
    return next != ranges_.begin() && v <= std::prev(next)->second;
  }
  uint64_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  uint64_t max() const { return ranges_.empty() ? 0 : ranges_.rbegin()->second; }
  std::vector<std::pair<uint64_t, uint64_t>> ranges() const { return {ranges_.begin(), ranges_.end()}; }

 private:
  std::map<uint64_t, uint64_t> ranges_;  // lo -> hi. Invariant: disjoint, non-adjacent.
  uint64_t count_ = 0;
};

}  // namespace qsm::harness
