// Group sets: the greedy partitioning, the Zipf workload, and the Fig 5-6 statistics.
#include "engine/membership/group_sets.h"

#include <gtest/gtest.h>

#include <numeric>

namespace qsm::membership {
namespace {

std::vector<NodeId> Range(NodeId first, NodeId last) {
  std::vector<NodeId> out(last - first + 1);
  std::iota(out.begin(), out.end(), first);
  return out;
}

TEST(GroupSetsTest, GroupsThatLeaveNoSmallRegionShareASet) {
  std::map<GroupId, std::vector<NodeId>> groups{
      {1, Range(1, 20)},   // largest: starts set 0
      {2, Range(1, 10)},   // splits it 10 / 10
      {3, Range(11, 20)},  // exactly the other half: no new region
      {4, Range(1, 3)},    // would leave a 3-node region: a new set
      {5, Range(21, 26)},  // 6 nodes outside: a region of its own in set 0
  };
  auto sets = PartitionGroupSets(groups, {.min_region_size = 5});
  EXPECT_EQ(sets.at(1), 0u);
  EXPECT_EQ(sets.at(2), 0u);
  EXPECT_EQ(sets.at(3), 0u);
  EXPECT_EQ(sets.at(5), 0u);
  EXPECT_EQ(sets.at(4), 1u);
}

TEST(GroupSetsTest, EveryGroupGetsASetAndSetsFollowSize) {
  auto groups = MakeZipfMembership({.nodes = 200, .groups = 300, .alpha = 1.5, .fraction = 0.1, .seed = 3});
  auto sets = PartitionGroupSets(groups);
  EXPECT_EQ(sets.size(), groups.size());
  // Set 0 was started by the largest group.
  size_t largest = 0;
  GroupId biggest = 0;
  for (const auto& [g, members] : groups) {
    if (members.size() > largest) largest = members.size(), biggest = g;
  }
  EXPECT_EQ(sets.at(biggest), 0u);
}

TEST(GroupSetsTest, ZipfWorkloadHasTheAskedFractionAndIsReproducible) {
  ZipfWorkload w{.nodes = 500, .groups = 1000, .alpha = 1.5, .fraction = 0.1, .seed = 7};
  auto a = MakeZipfMembership(w);
  size_t memberships = 0;
  for (const auto& [g, members] : a) memberships += members.size();
  const double fraction = static_cast<double>(memberships) / (500.0 * 1000.0);
  EXPECT_NEAR(fraction, 0.1, 0.01);
  EXPECT_EQ(a.at(1).size(), 500u);  // the most popular group has everyone
  EXPECT_LT(a.rbegin()->second.size(), 100u);
  EXPECT_EQ(a, MakeZipfMembership(w));
  w.seed = 8;
  EXPECT_NE(a, MakeZipfMembership(w));
}

TEST(GroupSetsTest, StatisticsOfAKnownLayout) {
  Membership m{AddressPool(Endpoint::FromOctets(239, 255, 1, 1, 7400), 64)};
  // Set 0: groups 1, 2; set 1: group 3. Nodes 1-4 in {1,2}, nodes 5-6 in {1}, nodes 1-2 in {3}.
  ASSERT_TRUE(m.SetGroupSets({{1, 0}, {2, 0}, {3, 1}}).has_value());
  for (NodeId n = 1; n <= 6; ++n) {
    std::vector<GroupId> g = n <= 4 ? std::vector<GroupId>{1, 2} : std::vector<GroupId>{1};
    if (n <= 2) g.push_back(3);
    m.Upsert(NodeInfo{n, 1, Endpoint::FromOctets(127, 0, 0, 1, static_cast<uint16_t>(7000 + n)), g, 1});
  }
  m.Commit();
  RegionStatistics s = ComputeRegionStatistics(m);
  EXPECT_EQ(s.nodes, 6u);
  EXPECT_EQ(s.groups, 3u);
  EXPECT_EQ(s.sets, 2u);
  EXPECT_EQ(s.regions, 3u);  // {1,2} x 4 nodes, {1} x 2, {3} x 2
  EXPECT_EQ(s.regions_per_node_max, 2u);
  EXPECT_DOUBLE_EQ(s.regions_per_node_mean, 8.0 / 6.0);
  EXPECT_EQ(s.regions_per_group_max, 2u);  // group 1 spans two regions
  EXPECT_DOUBLE_EQ(s.top2_traffic_share_mean, 1.0);
  EXPECT_EQ(s.region_size_median, 2u);
}

}  // namespace
}  // namespace qsm::membership
