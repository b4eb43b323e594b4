// GmsClient applying view updates: in order, part by part, noticing a missed update, repaired by
// a snapshot (also one that shares the epoch being received), and forgetting what a snapshot does
// not list.
#include "engine/membership/gms_client.h"

#include <gtest/gtest.h>

#include "engine/transport/sim/sim_network.h"
#include "engine/transport/sim/sim_transport.h"

namespace qsm::membership {
namespace {

const Endpoint kGms = Endpoint::FromOctets(198, 18, 0, 1, 7300);

class Recorder final : public ViewListener {
 public:
  void OnRegionView(const wire::RegionView& v) override { regions.push_back(v); }
  void OnGroupView(const wire::GroupView& v) override { groups.push_back(v); }
  void OnUpdateComplete() override { ++completes; }
  std::vector<wire::RegionView> regions;
  size_t completes = 0;
  std::vector<wire::GroupView> groups;
};

class GmsClientTest : public ::testing::Test {
 protected:
  static wire::RegionView Region(uint32_t id, uint32_t view, const std::vector<wire::NodeId>& members) {
    wire::RegionView v{.id = {id, view},
                       .multicast = Endpoint::FromOctets(239, 1, 0, static_cast<uint8_t>(id), 7400)};
    for (wire::NodeId m : members)
      v.members.push_back({m, Endpoint::FromOctets(198, 18, 0, static_cast<uint8_t>(m), 7000)});
    return v;
  }
  // An update to node 2 (incarnation 1), acknowledging its group set.
  wire::ViewUpdatePacket Update(uint64_t epoch, uint64_t prev, std::vector<wire::RegionView> regions,
                                std::vector<wire::GroupView> groups = {}, bool snapshot = false,
                                uint16_t part = 0, uint16_t parts = 1) {
    return wire::ViewUpdatePacket{.epoch = epoch,
                                  .prev_epoch = prev,
                                  .node = 2,
                                  .incarnation = 1,
                                  .groups_version = 1,
                                  .snapshot = snapshot,
                                  .part = part,
                                  .parts = parts,
                                  .regions = std::move(regions),
                                  .groups = std::move(groups)};
  }

  VirtualClock clock_;
  SimNetwork network_{clock_, 1};
  Counters counters_;
  SimTransport& transport_ = network_.AddHost(Endpoint::FromOctets(198, 18, 0, 2, 7000), counters_);
  Scheduler scheduler_{clock_, counters_};
  Recorder views_;
  GmsClient client_{GmsClientConfig{.node = 2, .incarnation = 1, .gms = kGms}, scheduler_, transport_,
                    views_};
};

TEST_F(GmsClientTest, ViewsApplyInOrderAndOldOnesAreIgnored) {
  client_.SetGroups({1});
  client_.Start();
  client_.OnViewUpdate(Update(1, 0, {Region(1, 2, {1, 2})}, {{.group = 1, .view = 1, .regions = {{1, 2}}}}),
                       kGms);
  EXPECT_TRUE(client_.registered());
  EXPECT_EQ(client_.applied_epoch(), 1u);
  client_.OnViewUpdate(Update(2, 1, {Region(1, 1, {1})}), kGms);  // an older view of region 1
  EXPECT_EQ(client_.regions().at(1).id.view, 2u);
  EXPECT_EQ(client_.stats().stale_views, 1u);
  EXPECT_EQ(views_.regions.size(), 1u);
  client_.OnViewUpdate(Update(1, 0, {Region(1, 3, {2})}), kGms);  // an older epoch: ignored whole
  EXPECT_EQ(client_.regions().at(1).id.view, 2u);
  // Not from the GMS, or not for this node: ignored.
  client_.OnViewUpdate(Update(3, 2, {Region(1, 9, {2})}), Endpoint::FromOctets(198, 18, 0, 9, 7300));
  auto other = Update(3, 2, {Region(1, 9, {2})});
  other.node = 3;
  client_.OnViewUpdate(other, kGms);
  EXPECT_EQ(client_.regions().at(1).id.view, 2u);
}

TEST_F(GmsClientTest, AMissedUpdateHoldsTheAppliedEpochUntilASnapshotRepairsIt) {
  client_.SetGroups({1});
  client_.Start();
  client_.OnViewUpdate(Update(1, 0, {Region(1, 1, {1, 2})}), kGms);
  const size_t completes = views_.completes;
  // Epoch 2 is lost; epoch 3 still applies (views are monotonic), but the chain is broken: not
  // complete, since what epoch 2 said may still be unknown.
  client_.OnViewUpdate(Update(3, 2, {Region(1, 3, {1, 2, 3})}), kGms);
  EXPECT_EQ(client_.regions().at(1).id.view, 3u);
  EXPECT_EQ(client_.applied_epoch(), 1u);
  EXPECT_EQ(client_.stats().gaps, 1u);
  EXPECT_EQ(views_.completes, completes);
  // The GMS answers with a snapshot of its last commit, epoch 3 again, in two parts.
  client_.OnViewUpdate(Update(3, 1, {Region(1, 3, {1, 2, 3})}, {}, true, 0, 2), kGms);
  EXPECT_EQ(client_.applied_epoch(), 1u);  // one part still missing
  EXPECT_EQ(views_.completes, completes);
  client_.OnViewUpdate(Update(3, 1, {}, {{.group = 1, .view = 2, .regions = {{1, 3}}}}, true, 1, 2), kGms);
  EXPECT_EQ(client_.applied_epoch(), 3u);
  EXPECT_EQ(views_.completes, completes + 1);
  EXPECT_EQ(client_.groups().at(1).view, 2u);
}

TEST_F(GmsClientTest, ASnapshotSharingThePartlyReceivedEpochIsApplied) {
  client_.SetGroups({1});
  client_.Start();
  client_.OnViewUpdate(Update(1, 0, {Region(1, 1, {1, 2})}), kGms);
  client_.OnViewUpdate(Update(2, 1, {Region(1, 2, {1, 2, 3})}, {}, false, 0, 2), kGms);  // part 2 of 2 lost
  EXPECT_EQ(client_.applied_epoch(), 1u);
  client_.OnViewUpdate(
      Update(2, 1, {Region(1, 2, {1, 2, 3})}, {{.group = 1, .view = 1, .regions = {{1, 2}}}}, true), kGms);
  EXPECT_EQ(client_.applied_epoch(), 2u);
  EXPECT_TRUE(client_.groups().contains(1));
}

TEST_F(GmsClientTest, WhatACompleteSnapshotDoesNotListIsGone) {
  client_.SetGroups({1, 2});
  client_.Start();
  client_.OnViewUpdate(Update(1, 0, {Region(1, 1, {1, 2}), Region(2, 1, {3})},
                              {{.group = 1, .view = 1, .regions = {{1, 1}}},
                               {.group = 2, .view = 1, .regions = {{1, 1}, {2, 1}}}}),
                       kGms);
  views_.regions.clear();
  views_.groups.clear();
  client_.OnViewUpdate(
      Update(5, 0, {Region(1, 1, {1, 2})}, {{.group = 1, .view = 1, .regions = {{1, 1}}}}, true), kGms);
  EXPECT_FALSE(client_.regions().contains(2));
  EXPECT_FALSE(client_.groups().contains(2));
  ASSERT_EQ(views_.regions.size(), 1u);
  EXPECT_EQ(views_.regions[0].id.region, 2u);
  EXPECT_TRUE(views_.regions[0].members.empty());  // reported gone
  ASSERT_EQ(views_.groups.size(), 1u);
  EXPECT_TRUE(views_.groups[0].regions.empty());
}

TEST_F(GmsClientTest, AnUnacknowledgedGroupSetIsRegisteredAgain) {
  client_.SetGroups({1});
  client_.Start();
  const uint64_t first = client_.stats().registers_sent;
  // The GMS does not know this node (it lost its state): register at once.
  client_.OnViewUpdate(wire::ViewUpdatePacket{.node = 2, .incarnation = 1}, kGms);
  EXPECT_EQ(client_.stats().registers_sent, first + 1);
  EXPECT_FALSE(client_.registered());
  client_.OnViewUpdate(Update(1, 0, {}), kGms);
  EXPECT_TRUE(client_.registered());
  client_.SetGroups({1, 2});  // a new version, sent at once, until acknowledged
  EXPECT_FALSE(client_.registered());
  EXPECT_EQ(client_.stats().registers_sent, first + 2);
}

}  // namespace
}  // namespace qsm::membership
