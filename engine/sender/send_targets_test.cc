#include "engine/sender/send_targets.h"

#include <gtest/gtest.h>

namespace qsm {
namespace {

wire::RegionView View(uint32_t region, uint32_t view, const std::vector<wire::NodeId>& members) {
  wire::RegionView v{.id = {region, view}, .multicast = Endpoint::FromOctets(239, 1, 0, 1, 7000), .members = {}};
  for (auto id : members) v.members.push_back({id, Endpoint::FromOctets(127, 0, 0, 1, static_cast<uint16_t>(id))});
  return v;
}

class SendTargetsTest : public ::testing::Test {
 protected:
  PendingMessage Message(wire::GroupId group, size_t bytes = 10) {
    return PendingMessage{group, 0, 0, std::vector<std::byte>(bytes)};
  }
  // Reserves and assigns a message to `group`; false if back-pressured.
  bool Send(wire::GroupId group, size_t bytes = 10) {
    if (!targets_.Reserve(group, bytes, scratch_)) return false;
    targets_.Assign(scratch_, Message(group, bytes));
    return true;
  }

  // The region leader of `region` acknowledges its messages 1..stable (all sent by then).
  void Ack(uint32_t region, uint64_t stable) {
    RegionSender& sender = targets_.Find(region)->sender;
    sender.MarkTransmitted(sender.highest_assigned(), TimePoint{});
    sender.OnAck(stable, TimePoint{});
  }

  // Group 5 spans region 1 (`one`) and region 2 (`two`); messages 1..3 are sent to it.
  void GroupOverTwoRegions(const std::vector<wire::NodeId>& one, const std::vector<wire::NodeId>& two) {
    targets_.Follow(View(1, 1, one), true, now_);
    targets_.Follow(View(2, 1, two), true, now_);
    targets_.SetGroupRegions(5, {1, 2});
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(Send(5));
  }
  // The group seqs pending in `region`, in region-seq order.
  std::vector<uint64_t> PendingGroupSeqs(uint32_t region) {
    const RegionSender& sender = targets_.Find(region)->sender;
    std::vector<uint64_t> out;
    for (uint64_t seq = sender.stable() + 1; seq <= sender.highest_assigned(); ++seq) out.push_back(sender.Find(seq)->group_seq);
    return out;
  }

  Counters counters_;
  SendTargets targets_{SenderWindow{.max_bytes = 1000, .max_messages = 4}, 200ms, counters_};
  std::vector<SendTarget*> scratch_;
  TimePoint now_ = TimePoint(1s);
};

TEST_F(SendTargetsTest, shouldSendEveryGroupToTheOneRegionOfStaticMembership) {
  targets_.SendEveryGroupTo(3);
  EXPECT_FALSE(Send(1));  // no target for region 3 yet
  EXPECT_TRUE(targets_.Follow(View(3, 1, {1, 2}), /*create=*/true, now_));
  EXPECT_TRUE(Send(1));
  EXPECT_TRUE(Send(77));
  EXPECT_EQ(targets_.RegionsOf(77), (std::vector<uint32_t>{3}));
  EXPECT_EQ(targets_.Find(3)->sender.pending_messages(), 2u);
}

TEST_F(SendTargetsTest, shouldAssignAMessageToEveryRegionOfItsGroupWithOneGroupSeq) {
  targets_.Follow(View(1, 1, {1, 2}), true, now_);
  targets_.Follow(View(2, 1, {3, 4}), true, now_);
  targets_.SetGroupRegions(5, {1, 2});
  EXPECT_FALSE(Send(6));  // a group whose regions are not known
  ASSERT_TRUE(Send(5));
  ASSERT_TRUE(Send(5));
  for (uint32_t region : {1u, 2u}) {
    const auto& sender = targets_.Find(region)->sender;
    ASSERT_EQ(sender.pending_messages(), 2u);
    EXPECT_EQ(sender.Find(1)->group_seq, 1u);
    EXPECT_EQ(sender.Find(2)->group_seq, 2u);
  }
  EXPECT_EQ(targets_.pending_messages(), 4u);
  EXPECT_EQ(counters_.Get(Counter::kMessagesSent), 2u);  // once per message, not per region
}

TEST_F(SendTargetsTest, shouldGiveARegionNewToAGroupWhatTheGroupsOtherRegionsStillHold) {
  // Group 5 in region 1; messages 1..3, region 1 acknowledged 1. Then a member moves to region 2
  // (its groups changed) and the group spans 1 and 2: region 2 gets 2 and 3 first, then new ones.
  targets_.Follow(View(1, 1, {1, 2}), true, now_);
  targets_.SetGroupRegions(5, {1});
  targets_.SetGroupRegions(6, {1});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Send(5));
  Ack(1, 1);
  ASSERT_TRUE(Send(6));                  // another group's message is not carried
  targets_.SetGroupRegions(5, {1, 2});   // region 2's view is not known yet: carried when it is
  targets_.Follow(View(2, 1, {3}), true, now_);
  ASSERT_TRUE(Send(5));
  const RegionSender& sender = targets_.Find(2)->sender;
  ASSERT_EQ(sender.pending_messages(), 3u);
  EXPECT_EQ(sender.Find(1)->group_seq, 2u);
  EXPECT_EQ(sender.Find(2)->group_seq, 3u);
  EXPECT_EQ(sender.Find(3)->group_seq, 4u);
  EXPECT_EQ(counters_.Get(Counter::kCarriedToNewRegion), 2u);
}

TEST_F(SendTargetsTest, shouldGiveMembersNewToARegionWhatTheGroupsOtherRegionsStillHoldFirst) {
  // Group 5 spans regions 1 and 2. Region 2 acknowledged 1..3, region 1 only 1. A member of region
  // 1 moves to region 2 (its groups changed): region 2's new view re-sends 4, and before it the
  // 2 and 3 region 1 still holds, which the mover may lack.
  targets_.Follow(View(1, 1, {1, 2}), true, now_);
  targets_.Follow(View(2, 1, {3}), true, now_);
  targets_.SetGroupRegions(5, {1, 2});
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(Send(5));
  Ack(1, 1);
  Ack(2, 3);
  targets_.Follow(View(2, 2, {3, 2}), true, now_);
  const RegionSender& sender = targets_.Find(2)->sender;
  ASSERT_EQ(sender.pending_messages(), 3u);
  EXPECT_EQ(sender.Find(sender.stable() + 1)->group_seq, 2u);
  EXPECT_EQ(sender.Find(sender.stable() + 2)->group_seq, 3u);
  EXPECT_EQ(sender.Find(sender.stable() + 3)->group_seq, 4u);
  targets_.Follow(View(2, 3, {3}), true, now_);  // a view that only removes members: nothing more
  EXPECT_EQ(targets_.Find(2)->sender.pending_messages(), 3u);
}

TEST_F(SendTargetsTest, shouldCarryAtOnceToARegionNewToTheGroupWhoseTargetExists) {
  targets_.Follow(View(1, 1, {1, 2}), true, now_);
  targets_.Follow(View(2, 1, {3}), true, now_);
  targets_.SetGroupRegions(5, {1});
  ASSERT_TRUE(Send(5));
  targets_.SetGroupRegions(5, {2, 1});
  EXPECT_EQ(targets_.Find(2)->sender.pending_messages(), 1u);
  targets_.SetGroupRegions(5, {2, 1});  // the same regions again: nothing more
  EXPECT_EQ(targets_.Find(2)->sender.pending_messages(), 1u);
}

TEST_F(SendTargetsTest, shouldBackPressureAGroupWhenAnyOfItsRegionsIsFullAndOnlyThatGroup) {
  targets_.Follow(View(1, 1, {1}), true, now_);
  targets_.Follow(View(2, 1, {2}), true, now_);
  targets_.SetGroupRegions(5, {1, 2});
  targets_.SetGroupRegions(6, {1});
  targets_.SetGroupRegions(7, {2});
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(Send(6));  // region 1 is full
  EXPECT_FALSE(targets_.CanTake(5, 10));
  EXPECT_FALSE(Send(5));
  EXPECT_TRUE(targets_.CanTake(7, 10));  // region 2 alone: not held back by region 1
  EXPECT_FALSE(targets_.CanTake(8, 10));  // regions not known
  Ack(1, 4);
  EXPECT_TRUE(targets_.CanTake(5, 10));
  EXPECT_TRUE(Send(5));
}

TEST_F(SendTargetsTest, shouldAcknowledgeAGroupOnlyThroughWhatEveryRegionAcknowledged) {
  targets_.Follow(View(1, 1, {1}), true, now_);
  targets_.Follow(View(2, 1, {2}), true, now_);
  targets_.SetGroupRegions(5, {1, 2});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Send(5));
  Ack(1, 3);
  Ack(2, 1);
  EXPECT_EQ(targets_.AcknowledgedThrough(5), 1u);
  Ack(2, 3);
  EXPECT_EQ(targets_.AcknowledgedThrough(5), 3u);
}

TEST_F(SendTargetsTest, shouldCarryUnacknowledgedMessagesIntoANewViewAndSuspendWhenMembersJoin) {
  targets_.SendEveryGroupTo(1);
  targets_.Follow(View(1, 1, {1, 2}), true, now_);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Send(5));
  Ack(1, 1);
  EXPECT_TRUE(targets_.Follow(View(1, 2, {1, 2, 3}), false, now_));
  const SendTarget& t = *targets_.Find(1);
  EXPECT_EQ(t.sender.rvid().view, 2u);
  ASSERT_EQ(t.sender.pending_messages(), 2u);  // group seqs 2 and 3, renumbered 1 and 2
  EXPECT_EQ(t.sender.Find(1)->group_seq, 2u);
  EXPECT_EQ(t.sender.Find(2)->group_seq, 3u);
  EXPECT_EQ(t.suspended_until, now_ + 200ms);
  EXPECT_EQ(counters_.Get(Counter::kSendSuspended), 1u);
  EXPECT_FALSE(targets_.Follow(View(1, 2, {1, 2, 3}), false, now_));  // not newer
  EXPECT_TRUE(targets_.Follow(View(1, 3, {1, 2}), false, now_ + 1s));   // a member left: no suspension
  EXPECT_EQ(targets_.Find(1)->suspended_until, now_ + 200ms);
}

TEST_F(SendTargetsTest, shouldForgetTargetsNoGroupNamesOnceNothingIsPending) {
  targets_.Follow(View(1, 1, {1}), true, now_);
  targets_.Follow(View(2, 1, {2}), true, now_);
  targets_.SetGroupRegions(5, {2});
  ASSERT_TRUE(Send(5));
  targets_.SetGroupRegions(5, {});
  targets_.ForgetUnused(/*keep=*/1);
  EXPECT_NE(targets_.Find(2), nullptr);  // still pending
  Ack(2, 1);
  targets_.ForgetUnused(1);
  EXPECT_EQ(targets_.Find(2), nullptr);
  EXPECT_NE(targets_.Find(1), nullptr);  // kept
  EXPECT_FALSE(targets_.Follow(View(2, 2, {2}), /*create=*/false, now_));
  EXPECT_EQ(targets_.Find(2), nullptr);
}

// Swarm seed 715: a node alone in region 2 had not got messages 2 and 3 (sent before it joined the
// region's address) when region 2 ended and the node moved back to region 1, which had
// acknowledged them. The copies kept for departed members go to region 1's new view.
TEST_F(SendTargetsTest, shouldGiveAMemberWhatItsGoneRegionHadPendingWhenAnotherRegionTakesItLater) {
  GroupOverTwoRegions({1, 3}, {2});
  Ack(1, 3);
  Ack(2, 1);
  targets_.Follow(View(2, 2, {}), false, now_);  // region 2 is gone
  EXPECT_EQ(targets_.departed_copies(), 2u);
  targets_.Follow(View(1, 2, {1, 3, 2}), false, now_);
  EXPECT_EQ(PendingGroupSeqs(1), (std::vector<uint64_t>{2, 3}));
}

TEST_F(SendTargetsTest, shouldGiveAMemberThatLeftARegionWhatItHadPendingThoughItWasAcknowledgedSince) {
  // Member 2 leaves region 1 (messages 2 and 3 pending there), region 1's new view acknowledges
  // them without it, and only then does region 2's view take member 2 in.
  GroupOverTwoRegions({1, 2}, {3});
  Ack(1, 1);
  Ack(2, 3);
  targets_.Follow(View(1, 2, {1}), false, now_);
  Ack(1, 2);  // the re-sent 2 and 3, region seqs 1 and 2 of the new view
  EXPECT_EQ(targets_.Find(1)->sender.pending_messages(), 0u);
  targets_.Follow(View(2, 2, {3, 2}), false, now_ + 1s);
  EXPECT_EQ(PendingGroupSeqs(2), (std::vector<uint64_t>{2, 3}));
}

TEST_F(SendTargetsTest, shouldForgetWhatDepartedMembersWereOwedWhenTheUpdateEnds) {
  // A member that leaves and comes back in a later update (a new stretch of membership) must not
  // get old messages: they would be a gap in its new stream.
  GroupOverTwoRegions({1, 3}, {2});
  Ack(1, 3);
  targets_.Follow(View(2, 2, {}), false, now_);
  targets_.Follow(View(1, 2, {1}), false, now_);  // member 3 leaves with nothing pending: no copies
  EXPECT_EQ(targets_.departed_copies(), 3u);
  targets_.ForgetDeparted();
  EXPECT_EQ(targets_.departed_copies(), 0u);
  targets_.Follow(View(1, 3, {1, 2}), false, now_);
  EXPECT_TRUE(PendingGroupSeqs(1).empty());
}

TEST_F(SendTargetsTest, shouldMarkCopiesUpToWhatDepartedMembersWereOwedCatchUpWhenAViewAlsoAddsAJoiner) {
  // Group 5 spans regions 1, 2 and 3. Region 2 (member 2) goes away with 3 and 4 pending; message 5
  // goes to regions 1 and 3. Region 1 acknowledged everything, region 3 only 1. Region 1's next
  // view takes in member 2 (a mover) and member 7 (a joiner): it gets 2..5 first. 2..4 are
  // catch-up copies, which the joiner skips (its stream starts at 5); 5 is for both.
  targets_.Follow(View(1, 1, {1}), true, now_);
  targets_.Follow(View(2, 1, {2}), true, now_);
  targets_.Follow(View(3, 1, {3}), true, now_);
  targets_.SetGroupRegions(5, {1, 2, 3});
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(Send(5));
  Ack(1, 4);
  Ack(2, 2);
  Ack(3, 1);
  targets_.Follow(View(2, 2, {}), false, now_);
  targets_.SetGroupRegions(5, {1, 3});
  ASSERT_TRUE(Send(5));
  Ack(1, 5);
  targets_.Follow(View(1, 2, {1, 2, 7}), false, now_);
  ASSERT_EQ(PendingGroupSeqs(1), (std::vector<uint64_t>{2, 3, 4, 5}));
  const RegionSender& sender = targets_.Find(1)->sender;
  std::vector<bool> catch_up;
  for (uint64_t seq = sender.stable() + 1; seq <= sender.highest_assigned(); ++seq) catch_up.push_back(sender.Find(seq)->catch_up);
  EXPECT_EQ(catch_up, (std::vector<bool>{true, true, true, false}));
  // Region 3 acknowledges everything, then takes in a joiner: what region 1 still holds is
  // copied there, and the catch-up copies stay catch-up.
  Ack(3, 4);
  targets_.Follow(View(3, 2, {3, 9}), false, now_);
  ASSERT_EQ(PendingGroupSeqs(3), (std::vector<uint64_t>{2, 3, 4, 5}));
  const RegionSender& three = targets_.Find(3)->sender;
  catch_up.clear();
  for (uint64_t seq = three.stable() + 1; seq <= three.highest_assigned(); ++seq) catch_up.push_back(three.Find(seq)->catch_up);
  EXPECT_EQ(catch_up, (std::vector<bool>{true, true, true, false}));
}

TEST_F(SendTargetsTest, shouldMarkNoCopyCatchUpWhenNoDepartedMemberIsAdded) {
  GroupOverTwoRegions({1, 3}, {2});
  Ack(1, 1);
  Ack(2, 3);
  targets_.Follow(View(2, 2, {2, 4}), false, now_);  // 4 joins region 2: it gets 2 and 3, region 1 holds them
  ASSERT_EQ(PendingGroupSeqs(2), (std::vector<uint64_t>{2, 3}));
  const RegionSender& sender = targets_.Find(2)->sender;
  EXPECT_FALSE(sender.Find(sender.stable() + 1)->catch_up);
  EXPECT_FALSE(sender.Find(sender.stable() + 2)->catch_up);
}

TEST_F(SendTargetsTest, shouldKeepNoDepartedCopiesWithStaticMembership) {
  targets_.SendEveryGroupTo(1);
  targets_.Follow(View(1, 1, {1, 2}), true, now_);
  ASSERT_TRUE(Send(5));
  targets_.Follow(View(1, 2, {1}), false, now_);
  EXPECT_EQ(targets_.departed_copies(), 0u);
}

TEST_F(SendTargetsTest, shouldDropATargetWhoseRegionIsGone) {
  targets_.Follow(View(1, 1, {1}), true, now_);
  targets_.SendEveryGroupTo(1);
  ASSERT_TRUE(Send(5));
  targets_.Follow(View(1, 2, {}), false, now_);
  EXPECT_EQ(targets_.Find(1), nullptr);
  EXPECT_EQ(targets_.pending_messages(), 0u);
}

}  // namespace
}  // namespace qsm
