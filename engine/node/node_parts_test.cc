// The parts a Node wires together, each alone: held future-view packets, inbound routing, the
// delivery filter and the control outbox.
#include <gtest/gtest.h>

#include "engine/node/control_outbox.h"
#include "engine/node/delivery_filter.h"
#include "engine/node/held_packets.h"
#include "engine/node/inbound_router.h"
#include "engine/node/node.h"
#include "engine/transport/capturing_transport.h"

namespace qsm {
namespace {

const Endpoint kFrom = Endpoint::FromOctets(127, 0, 0, 1, 7001);

std::vector<std::byte> Bytes(size_t n, uint8_t fill) { return std::vector<std::byte>(n, std::byte{fill}); }

TEST(ControlOutboxTest, shouldKeepWhatAFullSocketRefusesAndSendItFirstInOrderOnceItDrains) {
  Counters counters;
  CapturingTransport socket(kFrom);
  ControlOutbox outbox(socket, counters);
  socket.BlockAfter(1);
  EXPECT_EQ(outbox.Send(kFrom, Bytes(4, 1)), SendStatus::kSent);  // taken by the socket
  EXPECT_EQ(outbox.Send(kFrom, Bytes(4, 2)), SendStatus::kSent);  // full: waits
  EXPECT_EQ(outbox.Send(kFrom, Bytes(4, 3)), SendStatus::kSent);  // waits behind it
  EXPECT_TRUE(socket.writable_requested());
  EXPECT_EQ(outbox.queued(), 2u);
  EXPECT_EQ(counters.Get(Counter::kControlQueued), 2u);
  EXPECT_FALSE(outbox.Flush());  // still full
  socket.BlockAfter(100);
  EXPECT_EQ(outbox.Send(kFrom, Bytes(4, 4)), SendStatus::kSent);  // the waiting ones go first
  EXPECT_TRUE(outbox.empty());
  auto sent = socket.TakeSent();
  ASSERT_EQ(sent.size(), 4u);
  for (uint8_t i = 0; i < 4; ++i) EXPECT_EQ(sent[i].bytes, Bytes(4, i + 1));
}

TEST(ControlOutboxTest, shouldDropTheOldestBeyondItsBoundAndCountIt) {
  Counters counters;
  CapturingTransport socket(kFrom);
  ControlOutbox outbox(socket, counters, /*max_queued=*/2);
  socket.BlockAfter(0);
  for (uint8_t i = 1; i <= 3; ++i) outbox.Send(kFrom, Bytes(4, i));
  EXPECT_EQ(outbox.queued(), 2u);
  EXPECT_EQ(counters.Get(Counter::kControlDropped), 1u);
  socket.BlockAfter(100);
  EXPECT_TRUE(outbox.Flush());
  auto sent = socket.TakeSent();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].bytes, Bytes(4, 2));
  EXPECT_EQ(sent[1].bytes, Bytes(4, 3));
}

TEST(HeldPacketsTest, shouldGiveBackTheDatagramsAsTheyArrivedOldestFirst) {
  Counters counters;
  HeldPackets held({.max_packets = 10, .max_bytes = 1000, .hold_for = 3s}, counters);
  held.Hold(Bytes(10, 1), kFrom, TimePoint(1s));
  held.Hold(Bytes(20, 2), kFrom, TimePoint(2s));
  EXPECT_EQ(held.bytes(), 30u);
  auto out = held.TakeAll(TimePoint(2s));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].datagram, Bytes(10, 1));
  EXPECT_EQ(out[1].datagram, Bytes(20, 2));
  EXPECT_EQ(out[1].at, TimePoint(2s));
  EXPECT_EQ(held.size(), 0u);
  EXPECT_EQ(held.bytes(), 0u);
  EXPECT_EQ(counters.Get(Counter::kHeldFutureView), 2u);
}

TEST(HeldPacketsTest, shouldDropTheOldestBeyondItsCountBytesAndAge) {
  Counters counters;
  HeldPackets held({.max_packets = 3, .max_bytes = 100, .hold_for = 3s}, counters);
  for (uint8_t i = 1; i <= 4; ++i) held.Hold(Bytes(10, i), kFrom, TimePoint(1s));
  EXPECT_EQ(held.size(), 3u);  // the first went
  held.Hold(Bytes(81, 5), kFrom, TimePoint(1s));
  EXPECT_EQ(held.size(), 2u);  // 3 packets held, and 10 + 10 + 81 > 100: two more went
  EXPECT_EQ(held.bytes(), 91u);
  auto out = held.TakeAll(TimePoint(4s) + 1ms);  // older than 3 s
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(counters.Get(Counter::kDroppedFutureView), 5u);
}

wire::Packet RegionPacket(wire::PacketType type, wire::RegionViewId rvid) {
  if (type == wire::PacketType::kPartitionToken) return {type, 1, wire::TokenPacket{.rvid = rvid}};
  if (type == wire::PacketType::kAck) return {type, 1, wire::AckPacket{.rvid = rvid}};
  return {type, 1, wire::DataPacket{.rvid = rvid}};
}

TEST(InboundRouterTest, shouldRouteByTheScopeInThePacketTable) {
  InboundRouter router({});
  const wire::RegionViewId own{1, 2};
  EXPECT_EQ(router.RouteOf({wire::PacketType::kViewUpdate, 0, wire::ViewUpdatePacket{}}, own), Route::kGmsClient);
  EXPECT_EQ(router.RouteOf({wire::PacketType::kHeartbeat, 0, wire::HeartbeatPacket{}}, own), Route::kNotForNodes);
  EXPECT_EQ(router.RouteOf(RegionPacket(wire::PacketType::kAck, {9, 9}), own), Route::kSender);
  EXPECT_EQ(router.RouteOf(RegionPacket(wire::PacketType::kData, own), own), Route::kRegion);
  EXPECT_EQ(router.RouteOf(RegionPacket(wire::PacketType::kPartitionToken, own), own), Route::kRegion);
}

TEST(InboundRouterTest, shouldHoldALaterViewOfTheOwnRegionAndPassOnAnOlderOne) {
  InboundRouter router({});
  const wire::RegionViewId own{1, 2};
  EXPECT_EQ(router.RouteOf(RegionPacket(wire::PacketType::kData, {1, 3}), own), Route::kHold);
  EXPECT_EQ(router.RouteOf(RegionPacket(wire::PacketType::kData, {1, 1}), own), Route::kRegion);
}

TEST(InboundRouterTest, withStaticMembershipHoldsOnlyUntilTheFirstView) {
  InboundRouter router({});
  EXPECT_EQ(router.RouteOf(RegionPacket(wire::PacketType::kData, {4, 1}), std::nullopt), Route::kHold);
  EXPECT_EQ(router.RouteOf(RegionPacket(wire::PacketType::kData, {4, 1}), wire::RegionViewId{1, 1}), Route::kRegion);
}

TEST(InboundRouterTest, withAGmsHoldsAnotherRegionsViewItHasNotBeenToldOf) {
  // The GMS told this node of region 4 at view 2 (a region it sends to), and of nothing else.
  InboundRouter router([](uint32_t region) -> std::optional<uint32_t> {
    if (region == 4) return 2;
    return std::nullopt;
  });
  const wire::RegionViewId own{1, 1};
  EXPECT_EQ(router.RouteOf(RegionPacket(wire::PacketType::kData, {4, 3}), own), Route::kHold);   // joining it
  EXPECT_EQ(router.RouteOf(RegionPacket(wire::PacketType::kData, {5, 1}), own), Route::kHold);   // unknown
  EXPECT_EQ(router.RouteOf(RegionPacket(wire::PacketType::kData, {4, 2}), own), Route::kRegion);  // stale there
  EXPECT_EQ(router.RouteOf(RegionPacket(wire::PacketType::kData, {4, 2}), std::nullopt), Route::kNoRegion);
}

TEST(DeliveryFilterTest, shouldDeliverAnOrderedStreamOnceAndCountGaps) {
  Counters counters;
  DeliveryFilter filter(counters);
  filter.Join(1, /*unordered=*/false);
  EXPECT_FALSE(filter.Admit(9, 2, 1));  // not joined
  EXPECT_TRUE(filter.Admit(9, 1, 5));   // a joiner's stream may start past 1
  EXPECT_TRUE(filter.Admit(9, 1, 6));
  EXPECT_FALSE(filter.Admit(9, 1, 6));
  EXPECT_FALSE(filter.Admit(9, 1, 3));  // re-sent after a view change: delivered already
  EXPECT_EQ(counters.Get(Counter::kDuplicatesDropped), 2u);
  EXPECT_TRUE(filter.Admit(9, 1, 8));
  EXPECT_EQ(counters.Get(Counter::kDeliveryGaps), 1u);
  EXPECT_TRUE(filter.Admit(10, 1, 1));  // streams are per sender
}

TEST(DeliveryFilterTest, shouldDeliverAnUnorderedStreamOnceInAnyOrder) {
  Counters counters;
  DeliveryFilter filter(counters);
  filter.Join(1, /*unordered=*/true);
  EXPECT_TRUE(filter.unordered(1));
  EXPECT_TRUE(filter.Admit(9, 1, 3));
  EXPECT_TRUE(filter.Admit(9, 1, 1));
  EXPECT_FALSE(filter.Admit(9, 1, 3));
  EXPECT_TRUE(filter.Admit(9, 1, 2));
  EXPECT_EQ(counters.Get(Counter::kDeliveryGaps), 0u);
}

TEST(DeliveryFilterTest, shouldDeliverAnUnorderedStreamThatAJoinerMeetsPastItsWindowSpan) {
  // A joiner meets a long-running sender at group seq 3,000,000: its window used to start at 1
  // and refuse anything 2^20 beyond, so nothing was ever delivered.
  Counters counters;
  DeliveryFilter filter(counters);
  filter.Join(1, /*unordered=*/true);
  const uint64_t first = 3'000'000;
  EXPECT_TRUE(filter.Admit(9, 1, first));
  EXPECT_TRUE(filter.Admit(9, 1, first - 5));  // repaired later, still new
  EXPECT_FALSE(filter.Admit(9, 1, first - 5));
  EXPECT_TRUE(filter.Admit(9, 1, first + 1));
}

TEST(DeliveryFilterTest, shouldKeepDeliveringAnUnorderedStreamLongerThanItsWindowSpan) {
  // A member since seq 1 that misses seq 1 forever (lost, then the sender crashed): the window's
  // prefix never moves, and the stream stopped after 2^20 messages.
  Counters counters;
  DeliveryFilter filter(counters);
  filter.Join(1, /*unordered=*/true);
  const uint64_t last = ReceiveWindow::kMaxSpan + 5000;
  uint64_t delivered = 0;
  for (uint64_t seq = 2; seq <= last; ++seq) delivered += filter.Admit(9, 1, seq) ? 1 : 0;
  EXPECT_EQ(delivered, last - 1);
  EXPECT_FALSE(filter.Admit(9, 1, last));
  EXPECT_FALSE(filter.Admit(9, 1, 1)) << "more than the span below the highest: counted as delivered";
}

TEST(DeliveryFilterTest, shouldStartAfreshAfterLeavingAndJoiningAgain) {
  Counters counters;
  DeliveryFilter filter(counters);
  filter.Join(1, false);
  EXPECT_TRUE(filter.Admit(9, 1, 4));
  filter.Leave(1);
  EXPECT_FALSE(filter.joined(1));
  EXPECT_FALSE(filter.Admit(9, 1, 5));
  filter.Join(1, false);
  EXPECT_TRUE(filter.Admit(9, 1, 2));
  EXPECT_EQ(filter.groups(), (std::vector<wire::GroupId>{1}));
}

TEST(DeliveryFilterTest, shouldLeaveCatchUpCopiesToMembersThatEnteredTheGroupsRegionsInAnEarlierView) {
  Counters counters;
  DeliveryFilter filter(counters);
  filter.Join(1, false);
  filter.Join(2, false);
  EXPECT_TRUE(filter.SkipsCatchUp(1, {4, 1})) << "not in the group's regions yet";
  filter.EnteredRegion(1, {4, 1});  // group 1 since region 4's view 1: a mover in later views
  filter.EnteredRegion(1, {5, 2});  // changes nothing
  filter.EnteredRegion(2, {5, 2});  // group 2 joined in region 5's view 2
  EXPECT_FALSE(filter.SkipsCatchUp(1, {5, 2}));
  EXPECT_TRUE(filter.SkipsCatchUp(2, {5, 2})) << "a joiner skips the catch-up copies of its first view";
  EXPECT_FALSE(filter.SkipsCatchUp(2, {5, 3}));
  EXPECT_TRUE(filter.SkipsCatchUp(3, {5, 2})) << "not joined";
  filter.Leave(1);
  filter.Join(1, false);
  EXPECT_TRUE(filter.SkipsCatchUp(1, {5, 2})) << "a new stretch of membership enters afresh";
}

TEST(NodeViewTest, shouldInstallItsRegionViewEvenWhenTheMulticastJoinFails) {
  // A failed join used to leave the view uninstalled, silently: the region's rings waited for
  // this node until the GMS timed it out.
  VirtualClock clock{TimePoint(1s)};
  Counters counters;
  Scheduler scheduler{clock, counters};
  Random random{1};
  CapturingTransport transport(Endpoint::FromOctets(127, 0, 0, 1, 7002));
  transport.FailJoins();
  Node node(NodeConfig{.id = 2}, scheduler, transport, random);
  wire::RegionView view{.id = {1, 1}, .multicast = Endpoint::FromOctets(239, 1, 1, 1, 7000), .members = {}};
  view.members.push_back({1, Endpoint::FromOctets(127, 0, 0, 1, 7001)});
  view.members.push_back({2, transport.local_endpoint()});
  const Status s = node.InstallView(view);
  EXPECT_FALSE(s.has_value());
  EXPECT_TRUE(node.region().has_view());
  EXPECT_EQ(node.Snapshot().counter(Counter::kMulticastJoinFailures), 1u);
}

}  // namespace
}  // namespace qsm
