#include "engine/core/histogram.h"

#include <gtest/gtest.h>

#include "engine/core/random.h"

namespace qsm {
namespace {

TEST(HistogramTest, BucketsTileTheRangeWithoutGapsOrOverlap) {
  for (size_t b = 0; b + 1 < Histogram::kBuckets; ++b) {
    ASSERT_EQ(Histogram::BucketHigh(b) + 1, Histogram::BucketLow(b + 1)) << b;
    ASSERT_EQ(Histogram::BucketOf(Histogram::BucketLow(b)), b);
    ASSERT_EQ(Histogram::BucketOf(Histogram::BucketHigh(b)), b);
  }
  EXPECT_EQ(Histogram::BucketOf(UINT64_MAX), Histogram::kBuckets - 1);
}

TEST(HistogramTest, QuantilesAreWithinTheRelativeErrorBound) {
  Histogram h;
  for (uint64_t v = 1; v <= 100000; ++v) h.Record(v * 1000);
  EXPECT_EQ(h.count(), 100000u);
  EXPECT_EQ(h.min(), 1000u);
  EXPECT_EQ(h.max(), 100'000'000u);
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const double exact = q * 100'000'000;
    EXPECT_NEAR(static_cast<double>(h.Quantile(q)), exact, exact / 32) << q;
  }
  EXPECT_EQ(h.Quantile(1.0), h.max());
  EXPECT_NEAR(h.mean(), 50'000'500, 1);
}

TEST(HistogramTest, SmallValuesAreExact) {
  Histogram h;
  for (uint64_t v : {0, 3, 3, 31}) h.Record(v);
  EXPECT_EQ(h.Quantile(0), 0u);
  EXPECT_EQ(h.Quantile(0.5), 3u);
  EXPECT_EQ(h.Quantile(0.99), 31u);
}

TEST(HistogramTest, MergeEqualsRecordingEverythingInOne) {
  Histogram a, b, all;
  Random r(3);
  for (int i = 0; i < 10000; ++i) {
    uint64_t v = r.Uniform(1'000'000'000);
    (i % 2 ? a : b).Record(v);
    all.Record(v);
  }
  a.Merge(b);
  for (double q : {0.0, 0.5, 0.99, 1.0}) EXPECT_EQ(a.Quantile(q), all.Quantile(q));
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min(), all.min());
}

TEST(HistogramTest, EmptyHistogramReportsZeros) {
  Histogram h;
  EXPECT_EQ(h.Quantile(0.5), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
}

TEST(HistogramTest, SinceHoldsOnlyWhatWasRecordedAfterTheCopy) {
  Histogram h;
  for (uint64_t v = 1; v <= 1000; ++v) h.Record(v * 1000);
  const Histogram before = h;
  for (int i = 0; i < 100; ++i) h.Record(5'000'000);
  const Histogram delta = h.Since(before);
  EXPECT_EQ(delta.count(), 100u);
  EXPECT_NEAR(static_cast<double>(delta.Quantile(0.5)), 5e6, 5e6 / 32);
  EXPECT_EQ(delta.sum(), 100u * 5'000'000);
  EXPECT_EQ(h.Since(h).count(), 0u);
}

TEST(HistogramTest, RestoreRebuildsAnEqualHistogramAndRejectsBadBuckets) {
  Histogram h;
  for (uint64_t v = 0; v < 5000; v += 7) h.Record(v * v);
  std::vector<std::pair<size_t, uint64_t>> parts;
  for (size_t i = 0; i < Histogram::kBuckets; ++i) {
    if (h.bucket_count(i) > 0) parts.emplace_back(i, h.bucket_count(i));
  }
  Histogram copy;
  ASSERT_TRUE(copy.Restore(parts, h.sum(), h.min(), h.max()));
  for (double q : {0.0, 0.5, 0.9, 0.99, 1.0}) EXPECT_EQ(copy.Quantile(q), h.Quantile(q));
  EXPECT_EQ(copy.count(), h.count());
  EXPECT_FALSE(copy.Restore({{Histogram::kBuckets, 1}}, 0, 0, 0));
  EXPECT_FALSE(copy.Restore({{3, 1}}, 3, 9, 2));
  EXPECT_EQ(copy.count(), h.count());  // unchanged after a refused restore
}

}  // namespace
}  // namespace qsm
