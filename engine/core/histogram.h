// A log-linear histogram of non-negative integers (latencies in nanoseconds, sizes in bytes):
// exact below 32, then 32 linear buckets per power of two, so any recorded value is reported with
// a relative error under 1/32 (about 3%). Fixed size (about 16 KiB), no allocation on Record(),
// mergeable by adding bucket counts. Threading: one owner.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace qsm {

class Histogram {
 public:
  static constexpr int kSubBits = 5;
  static constexpr size_t kSub = size_t{1} << kSubBits;
  static constexpr size_t kBuckets = kSub + (64 - kSubBits) * kSub;

  void Record(uint64_t value, uint64_t count = 1);
  void Merge(const Histogram& other);
  // What was recorded after `earlier`, a copy of this histogram taken before. min and max are the
  // bounds of the lowest and highest non-empty buckets (the exact values are not kept).
  Histogram Since(const Histogram& earlier) const;
  // Restores a histogram from its parts (as a result file stores them). False, and *this
  // unchanged, if a bucket index is out of range or min > max.
  bool Restore(const std::vector<std::pair<size_t, uint64_t>>& buckets, uint64_t sum, uint64_t min,
               uint64_t max);
  uint64_t sum() const { return sum_; }
  void Clear() { *this = Histogram(); }

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(count_); }
  // The value at quantile q in [0, 1] (the midpoint of its bucket, clamped to [min, max]); 0 if
  // empty. Quantile(1) == max().
  uint64_t Quantile(double q) const;

  // Bucket access, for exporters: the bucket holding `value`, and a bucket's value range.
  static size_t BucketOf(uint64_t value);
  static uint64_t BucketLow(size_t bucket);
  static uint64_t BucketHigh(size_t bucket);  // inclusive
  uint64_t bucket_count(size_t bucket) const { return buckets_[bucket]; }

 private:
  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;  // wraps after 2^64 ns (584 years) of total latency; mean() is then wrong
  uint64_t min_ = std::numeric_limits<uint64_t>::max();
  uint64_t max_ = 0;
};

}  // namespace qsm
