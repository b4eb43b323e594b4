#include "engine/core/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace qsm {

size_t Histogram::BucketOf(uint64_t value) {
  if (value < kSub) return value;
  const int msb = 63 - std::countl_zero(value);  // >= kSubBits
  const int shift = msb - kSubBits;
  const size_t offset = (value >> shift) - kSub;  // in [0, kSub)
  return kSub + static_cast<size_t>(shift) * kSub + offset;
}

uint64_t Histogram::BucketLow(size_t bucket) {
  if (bucket < kSub) return bucket;
  const size_t shift = (bucket - kSub) / kSub;
  const uint64_t offset = (bucket - kSub) % kSub;
  return (kSub + offset) << shift;
}

uint64_t Histogram::BucketHigh(size_t bucket) {
  if (bucket < kSub) return bucket;
  const size_t shift = (bucket - kSub) / kSub;
  return BucketLow(bucket) + ((uint64_t{1} << shift) - 1);
}

void Histogram::Record(uint64_t value, uint64_t count) {
  if (count == 0) return;
  buckets_[BucketOf(value)] += count;
  count_ += count;
  sum_ += value * count;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void Histogram::Merge(const Histogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

Histogram Histogram::Since(const Histogram& earlier) const {
  Histogram delta;
  for (size_t i = 0; i < kBuckets; ++i) {
    const uint64_t n = buckets_[i] >= earlier.buckets_[i] ? buckets_[i] - earlier.buckets_[i] : 0;
    if (n == 0) continue;
    delta.buckets_[i] = n;
    delta.count_ += n;
    delta.min_ = std::min(delta.min_, std::max(BucketLow(i), min()));
    delta.max_ = std::max(delta.max_, std::min(BucketHigh(i), max_));
  }
  delta.sum_ = sum_ >= earlier.sum_ ? sum_ - earlier.sum_ : 0;
  return delta;
}

bool Histogram::Restore(const std::vector<std::pair<size_t, uint64_t>>& buckets, uint64_t sum, uint64_t min,
                        uint64_t max) {
  Histogram h;
  for (const auto& [bucket, n] : buckets) {
    if (bucket >= kBuckets) return false;
    h.buckets_[bucket] += n;
    h.count_ += n;
  }
  if (h.count_ > 0 && min > max) return false;
  h.sum_ = sum;
  if (h.count_ > 0) {
    h.min_ = min;
    h.max_ = max;
  }
  *this = h;
  return true;
}

uint64_t Histogram::Quantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  if (q >= 1.0) return max_;
  const auto rank = static_cast<uint64_t>(std::floor(q * static_cast<double>(count_)));  // 0-based
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen > rank) {
      const uint64_t low = BucketLow(i), high = BucketHigh(i);
      return std::clamp(low + (high - low) / 2, min(), max_);
    }
  }
  return max_;
}

}  // namespace qsm
