#include "engine/region/layout.h"

#include <gtest/gtest.h>

namespace qsm {
namespace {

wire::RegionView View(size_t n) {
  wire::RegionView v{.id = {1, 1}, .multicast = Endpoint::FromOctets(239, 1, 1, 1, 1)};
  for (size_t i = 0; i < n; ++i) {
    v.members.push_back(
        {static_cast<wire::NodeId>(i + 1), Endpoint::FromOctets(198, 18, 0, 1, static_cast<uint16_t>(i))});
  }
  return v;
}

TEST(RegionLayoutTest, PartitionsHoldBetweenRAnd2RMinus1Members) {
  for (size_t n : {1, 2, 5, 6, 9, 10, 11, 50, 199, 200}) {
    RegionLayout l(View(n), 5, 1);
    EXPECT_EQ(l.partitions(), std::max<size_t>(1, n / 5)) << n;
    size_t total = 0;
    for (size_t p = 0; p < l.partitions(); ++p) {
      total += l.partition_size(p);
      if (n >= 5) {
        EXPECT_GE(l.partition_size(p), 5u) << n;
        EXPECT_LE(l.partition_size(p), 9u) << n;
      }
    }
    EXPECT_EQ(total, n);
  }
}

TEST(RegionLayoutTest, MembersAreAssignedRoundRobinAndRingsWrap) {
  RegionLayout l(View(11), 5, 4);  // P = 2
  EXPECT_EQ(l.self_index(), 3u);
  EXPECT_EQ(l.my_partition(), 1u);
  EXPECT_EQ(l.position_of(3), 1u);
  EXPECT_EQ(l.partition_size(0), 6u);  // members 0 2 4 6 8 10
  EXPECT_EQ(l.partition_size(1), 5u);  // members 1 3 5 7 9
  EXPECT_EQ(l.successor_in_partition(8), 10u);
  EXPECT_EQ(l.successor_in_partition(10), 0u);
  EXPECT_EQ(l.successor_in_partition(9), 1u);
  EXPECT_EQ(l.next_partition_leader(0), 1u);
  EXPECT_EQ(l.next_partition_leader(1), 0u);
  EXPECT_TRUE(l.i_cache(2));  // (2 - 1) mod 2 = 1
  EXPECT_FALSE(l.i_cache(3));
}

TEST(RegionLayoutTest, ForReturnsNothingForANonMember) {
  EXPECT_FALSE(RegionLayout::For(View(3), 5, 99).has_value());
  EXPECT_TRUE(RegionLayout::For(View(3), 5, 2).has_value());
}

}  // namespace
}  // namespace qsm
