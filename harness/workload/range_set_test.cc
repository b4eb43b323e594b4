#include "harness/workload/range_set.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <set>

namespace qsm::harness {
namespace {

using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;

TEST(RangeSetTest, InOrderInsertsStayOneRange) {
  RangeSet s;
  for (uint64_t v = 1; v <= 1000; ++v) EXPECT_TRUE(s.Insert(v));
  EXPECT_EQ(s.ranges(), (Ranges{{1, 1000}}));
  EXPECT_EQ(s.count(), 1000u);
  EXPECT_FALSE(s.Insert(500));
  EXPECT_EQ(s.count(), 1000u);
}

TEST(RangeSetTest, GapsAreKeptAndFillingThemMerges) {
  RangeSet s;
  for (uint64_t v : {1, 2, 3, 7, 8, 5}) s.Insert(v);
  EXPECT_EQ(s.ranges(), (Ranges{{1, 3}, {5, 5}, {7, 8}}));
  s.Insert(4);
  s.Insert(6);
  EXPECT_EQ(s.ranges(), (Ranges{{1, 8}}));
  EXPECT_TRUE(s.Contains(6));
  EXPECT_FALSE(s.Contains(9));
}

TEST(RangeSetTest, RandomOrderMatchesAStdSet) {
  std::vector<uint64_t> values(5000);
  std::iota(values.begin(), values.end(), 1);
  std::mt19937_64 rng(3);
  std::shuffle(values.begin(), values.end(), rng);
  values.resize(3000);
  RangeSet s;
  std::set<uint64_t> reference;
  for (uint64_t v : values) EXPECT_EQ(s.Insert(v), reference.insert(v).second);
  EXPECT_EQ(s.count(), reference.size());
  uint64_t in_ranges = 0;
  for (const auto& [lo, hi] : s.ranges()) {
    in_ranges += hi - lo + 1;
    for (uint64_t v = lo; v <= hi; ++v) ASSERT_TRUE(reference.count(v));
  }
  EXPECT_EQ(in_ranges, reference.size());
}

TEST(RangeSetTest, InsertRangeMergesNeighboursAndRefusesOverlap) {
  RangeSet s;
  EXPECT_TRUE(s.InsertRange(10, 20));
  EXPECT_TRUE(s.InsertRange(1, 9));
  EXPECT_TRUE(s.InsertRange(21, 30));
  EXPECT_EQ(s.ranges(), (Ranges{{1, 30}}));
  EXPECT_FALSE(s.InsertRange(30, 40));
  EXPECT_FALSE(s.InsertRange(0, 1));
  EXPECT_TRUE(s.InsertRange(40, 50));
  EXPECT_EQ(s.count(), 41u);
}

}  // namespace
}  // namespace qsm::harness
