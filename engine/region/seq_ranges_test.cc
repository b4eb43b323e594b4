#include "engine/region/seq_ranges.h"

#include <gtest/gtest.h>

namespace qsm {
namespace {

using Ranges = std::vector<wire::SeqRange>;

TEST(IntersectTest, keepsOnlyWhatBothListsCover) {
  EXPECT_EQ(Intersect({{1, 10}}, {{3, 4}, {8, 12}}), (Ranges{{3, 4}, {8, 10}}));
  EXPECT_EQ(Intersect({{1, 2}, {5, 6}}, {{3, 4}}), Ranges{});
  EXPECT_EQ(Intersect({}, {{1, 1}}), Ranges{});
  EXPECT_EQ(Intersect({{1, 5}, {7, 9}}, {{5, 7}}), (Ranges{{5, 5}, {7, 7}}));
}

TEST(IntersectTest, ofManyShortGapsCanBeAsLongAsEitherList) {
  Ranges a, b;
  for (uint64_t s = 1; s <= 40; s += 2) a.push_back({s, s});
  b.push_back({1, 100});
  EXPECT_EQ(Intersect(a, b), a);
}

TEST(CachedByTest, withOnePartitionKeepsTheRanges) {
  EXPECT_EQ(CachedBy({{3, 9}, {20, 20}}, 0, 1), (Ranges{{3, 9}, {20, 20}}));
}

TEST(CachedByTest, givesTheExactSeqsOfAShortRangeThatThePartitionCaches) {
  // P = 3: partition 0 caches 1, 4, 7, ...; partition 2 caches 3, 6, 9, ...
  EXPECT_EQ(CachedBy({{2, 8}}, 0, 3), (Ranges{{4, 4}, {7, 7}}));
  EXPECT_EQ(CachedBy({{2, 8}}, 2, 3), (Ranges{{3, 3}, {6, 6}}));
  EXPECT_EQ(CachedBy({{5, 5}}, 0, 3), Ranges{});
}

TEST(CachedByTest, givesTheCoveringRangeOfALongRangeFromTheFirstSeqThePartitionCaches) {
  // Longer than 4 x P = 8: one range from the first seq partition 1 caches (2, 5, 8, ...).
  EXPECT_EQ(CachedBy({{3, 30}}, 1, 2), (Ranges{{4, 30}}));
  EXPECT_EQ(CachedBy({{3, 11}}, 1, 2), (Ranges{{4, 11}}));
  EXPECT_EQ(CachedBy({{3, 10}}, 1, 2), (Ranges{{4, 4}, {6, 6}, {8, 8}, {10, 10}}));
}

TEST(CachedByTest, neverGivesMoreThanANakCarries) {
  EXPECT_EQ(CachedBy({{1, 4 * 3}}, 0, 3).size(), 4u);
  Ranges many;
  for (uint64_t s = 1; s <= 200; s += 10) many.push_back({s, s + 5});
  EXPECT_LE(CachedBy(many, 0, 2).size(), wire::kMaxNakRanges);
  EXPECT_EQ(CachedBy(many, 0, 2).size(), wire::kMaxNakRanges);
}

}  // namespace
}  // namespace qsm
