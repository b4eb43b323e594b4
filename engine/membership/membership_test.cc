// Membership: regions from signatures, view numbering, leaders, group views, the address pool,
// restarts of nodes, and the state file.
#include "engine/membership/membership.h"

#include <gtest/gtest.h>

namespace qsm::membership {
namespace {

const Endpoint kPool = Endpoint::FromOctets(239, 255, 1, 1, 7400);

class MembershipTest : public ::testing::Test {
 protected:
  Membership m_{AddressPool(kPool, 4)};

  void Join(NodeId id, std::vector<GroupId> groups, uint64_t incarnation = 1) {
    m_.Upsert(NodeInfo{id, incarnation, Endpoint::FromOctets(127, 0, 0, 1, static_cast<uint16_t>(7000 + id)),
                       std::move(groups), 1});
  }
  // The only region of node `id`.
  const Region& RegionOfNode(NodeId id) {
    auto regions = m_.RegionsOf(id);
    EXPECT_EQ(regions.size(), 1u) << "node " << id;
    return *m_.region(regions.at(0));
  }
};

TEST_F(MembershipTest, NodesWithTheSameGroupsShareOneRegionInJoinOrder) {
  Join(3, {1, 2});
  Join(1, {2, 1});
  Join(2, {1, 2});
  auto changes = m_.Commit();
  ASSERT_EQ(m_.regions().size(), 1u);
  const Region& r = RegionOfNode(1);
  EXPECT_EQ(r.view, 1u);
  EXPECT_EQ(r.signature, (std::vector<GroupId>{1, 2}));
  // One commit: members in the order the commit took them (by id), the leader is member 0.
  EXPECT_EQ(r.members, (std::vector<NodeId>{1, 2, 3}));
  EXPECT_TRUE(r.multicast.is_multicast());
  EXPECT_EQ(changes.nodes, (std::set<NodeId>{1, 2, 3}));
  EXPECT_EQ(m_.ViewOf(1).regions, (std::vector<wire::RegionViewId>{{r.id, 1}}));
}

TEST_F(MembershipTest, ALeaderThatLeavesIsReplacedByTheOldestMember) {
  Join(1, {1});
  m_.Commit();
  Join(2, {1});
  m_.Commit();
  Join(3, {1});
  m_.Commit();
  EXPECT_EQ(RegionOfNode(3).members, (std::vector<NodeId>{1, 2, 3}));
  EXPECT_EQ(RegionOfNode(3).view, 3u);
  m_.Remove(1);
  auto changes = m_.Commit();
  EXPECT_EQ(RegionOfNode(3).members, (std::vector<NodeId>{2, 3}));
  EXPECT_EQ(RegionOfNode(3).view, 4u);
  EXPECT_EQ(changes.nodes, (std::set<NodeId>{2, 3}));
  EXPECT_EQ(m_.node(1), nullptr);
}

TEST_F(MembershipTest, ChangingGroupsMovesANodeAndRenumbersBothRegionsAndTheirGroups) {
  Join(1, {1, 2});
  Join(2, {1, 2});
  Join(3, {1});
  m_.Commit();
  const RegionId both = RegionOfNode(1).id, one = RegionOfNode(3).id;
  EXPECT_NE(both, one);
  EXPECT_EQ(m_.group(1)->regions.size(), 2u);  // group 1 spans both regions
  EXPECT_EQ(m_.group(2)->regions.size(), 1u);
  const uint32_t group2_view = m_.group(2)->view;

  Join(2, {1});  // node 2 leaves group 2
  auto changes = m_.Commit();
  EXPECT_EQ(m_.region(both)->members, (std::vector<NodeId>{1}));
  EXPECT_EQ(m_.region(one)->members, (std::vector<NodeId>{3, 2}));  // the newcomer goes last
  EXPECT_EQ(m_.region(both)->view, 2u);
  EXPECT_EQ(m_.region(one)->view, 2u);
  EXPECT_EQ(m_.group(2)->view, group2_view + 1);
  EXPECT_EQ(changes.nodes, (std::set<NodeId>{1, 2, 3}));
}

TEST_F(MembershipTest, AGoneRegionIsAnnouncedOnceAndReturnsItsAddress) {
  Join(1, {1});
  Join(2, {2});
  m_.Commit();
  const Region gone = RegionOfNode(2);
  m_.Remove(2);
  auto changes = m_.Commit();
  EXPECT_EQ(changes.regions, (std::vector<RegionId>{gone.id}));
  ASSERT_NE(m_.region(gone.id), nullptr);  // until the next commit, for the announcement
  EXPECT_TRUE(m_.region(gone.id)->members.empty());
  EXPECT_TRUE(m_.group(2)->regions.empty());
  Join(3, {3});
  m_.Commit();
  EXPECT_EQ(m_.region(gone.id), nullptr);
  EXPECT_EQ(RegionOfNode(3).multicast, gone.multicast);  // the lowest free address again
  EXPECT_GT(RegionOfNode(3).id, gone.id);                // region ids are never reused
}

TEST_F(MembershipTest, AnExhaustedPoolSharesAddresses) {
  for (NodeId n = 1; n <= 6; ++n) Join(n, {n});
  m_.Commit();
  EXPECT_EQ(m_.regions().size(), 6u);
  EXPECT_EQ(m_.pool().shared_addresses(), 2u);
}

TEST_F(MembershipTest, ARestartedNodeRejoinsAsTheNewestMember) {
  Join(1, {1});
  Join(2, {1});
  m_.Commit();
  Join(1, {1}, /*incarnation=*/2);
  m_.Commit();
  EXPECT_EQ(RegionOfNode(1).members, (std::vector<NodeId>{2, 1}));
  EXPECT_EQ(RegionOfNode(1).view, 2u);
}

TEST_F(MembershipTest, AnUnchangedUpsertChangesNoView) {
  Join(1, {1});
  Join(2, {1});
  m_.Commit();
  Join(1, {1});
  auto changes = m_.Commit();
  EXPECT_TRUE(changes.regions.empty());
  EXPECT_TRUE(changes.groups.empty());
  EXPECT_EQ(RegionOfNode(1).view, 1u);
}

TEST_F(MembershipTest, GroupSetsGiveANodeOneRegionPerSet) {
  ASSERT_TRUE(m_.SetGroupSets({{1, 0}, {2, 0}, {3, 1}}).has_value());
  Join(1, {1, 3});
  Join(2, {1, 2, 3});
  m_.Commit();
  EXPECT_EQ(m_.RegionsOf(1).size(), 2u);
  EXPECT_EQ(m_.RegionsOf(2).size(), 2u);
  // Group 3 is in its own set, where nodes 1 and 2 have the same signature.
  EXPECT_EQ(m_.group(3)->regions.size(), 1u);
  EXPECT_EQ(m_.group(1)->regions.size(), 2u);
  EXPECT_EQ(m_.RegionsNeededBy(1).size(), 3u);  // its two, and node 2's region of group 1
  EXPECT_FALSE(m_.SetGroupSets({}).has_value());
}

TEST_F(MembershipTest, StateFileRoundTripsAndViewsContinue) {
  ASSERT_TRUE(m_.SetGroupSets({{7, 2}}).has_value());
  Join(1, {1, 7});
  Join(2, {1});
  m_.Commit();
  Join(3, {1});
  m_.Commit();
  const std::string text = m_.Serialize();

  Membership back{AddressPool(kPool, 4)};
  ASSERT_TRUE(back.Restore(text).has_value());
  EXPECT_EQ(back.Serialize(), text);
  EXPECT_EQ(back.SetOf(7), 2u);
  // Numbering continues where it stopped; addresses in use stay taken.
  const Region before = *back.region(back.RegionsOf(3).at(0));
  back.Upsert(NodeInfo{4, 1, Endpoint::FromOctets(127, 0, 0, 1, 7004), {1}, 1});
  back.Commit();
  const Region after = *back.region(back.RegionsOf(4).at(0));
  EXPECT_EQ(after.id, before.id);
  EXPECT_EQ(after.view, before.view + 1);
  back.Upsert(NodeInfo{5, 1, Endpoint::FromOctets(127, 0, 0, 1, 7005), {9}, 1});
  back.Commit();
  std::set<Endpoint> addresses;
  for (const auto& [id, r] : back.regions()) addresses.insert(r.multicast);
  EXPECT_EQ(addresses.size(), back.regions().size());
}

TEST_F(MembershipTest, ABadStateFileIsRefusedWithItsLine) {
  Membership back{AddressPool(kPool, 4)};
  auto s =
      back.Restore("qsm-membership 1\nnext_region 3\nregion 1 1 0 239.255.1.1:7400 groups 1 members 9\n");
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message.find("unknown node 9"), std::string::npos) << s.error().message;
  Membership other{AddressPool(kPool, 4)};
  s = other.Restore("qsm-membership 1\nnode 1 x\n");
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message.find("line 2"), std::string::npos) << s.error().message;
  Membership third{AddressPool(kPool, 4)};
  EXPECT_FALSE(third.Restore("something else\n").has_value());
}

}  // namespace
}  // namespace qsm::membership
