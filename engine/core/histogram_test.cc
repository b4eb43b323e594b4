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

}  // namespace
}  // namespace qsm
