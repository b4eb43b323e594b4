#include "engine/region/token_hops.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "engine/transport/capturing_transport.h"

namespace qsm {
namespace {

const Endpoint kNext = Endpoint::FromOctets(127, 0, 0, 1, 7002);

class TokenHopsTest : public ::testing::Test {
 protected:
  void Advance(Duration d) {
    clock_.Advance(d);
    while (alarms_.FireDue(clock_, 1h) > 0) {
    }
  }
  static wire::Packet Token(uint64_t round) {
    return wire::Packet{wire::PacketType::kPartitionToken, 1,
                        wire::TokenPacket{.rvid = {1, 1}, .round = round, .members_visited = 1}};
  }
  size_t Sent() { return transport_.TakeSent().size(); }

  VirtualClock clock_;
  AlarmQueue alarms_;
  Counters counters_;
  CapturingTransport transport_{Endpoint::FromOctets(127, 0, 0, 1, 7001)};
  bool wanted_ = true;
  TokenHops hops_{{.first_timeout = 10ms, .give_up = 2s}, alarms_, clock_, transport_, counters_,
                  [this](const wire::TokenAckPacket&) { return wanted_; }};
};

TEST_F(TokenHopsTest, shouldResendWithDoublingBackoffUntilGivingUp) {
  hops_.Send(kNext, Token(1));
  EXPECT_EQ(Sent(), 1u);
  std::vector<int> resent_at_ms;
  for (int ms = 1; ms <= 3000; ++ms) {
    Advance(1ms);
    if (Sent() > 0) resent_at_ms.push_back(ms);
  }
  EXPECT_EQ(resent_at_ms, (std::vector<int>{10, 30, 70, 150, 310, 630, 1270}));
  EXPECT_EQ(hops_.outstanding(), 0u);  // given up at 2 s: the leader regenerates the round
}

TEST_F(TokenHopsTest, shouldStopResendingOnTheMatchingAckOnly) {
  hops_.Send(kNext, Token(1));
  hops_.Send(kNext, Token(2));
  Sent();
  auto ack = TokenHops::AckOf(Token(1));
  hops_.OnAck(ack);
  EXPECT_EQ(hops_.outstanding(), 1u);
  Advance(10ms);
  auto sent = transport_.TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(std::get<wire::TokenPacket>(sent[0].packet().body).round, 2u);
  EXPECT_EQ(counters_.Get(Counter::kTokenHopsResent), 1u);
}

TEST(TokenHopsSkipTest, shouldOfferAnUnansweredHopOnceAfterSkipAfter) {
  VirtualClock clock;
  AlarmQueue alarms;
  Counters counters;
  CapturingTransport transport{Endpoint::FromOctets(127, 0, 0, 1, 7001)};
  const Endpoint other = Endpoint::FromOctets(127, 0, 0, 1, 7003);
  std::vector<int> offered_at_ms;
  bool pass_on = false;
  int ms = 0;
  TokenHops* self = nullptr;
  TokenHops hops{{.first_timeout = 10ms, .give_up = 2s, .skip_after = 100ms}, alarms, clock, transport, counters,
                 [](const wire::TokenAckPacket&) { return true; },
                 [&](const wire::TokenAckPacket& key, const Endpoint& to) {
                   EXPECT_EQ(to, kNext);
                   EXPECT_EQ(key.round, 1u);
                   offered_at_ms.push_back(ms);
                   if (pass_on) self->Send(other, wire::Packet{wire::PacketType::kPartitionToken, 1,
                                                               wire::TokenPacket{.rvid = {1, 1}, .round = 1,
                                                                                 .members_visited = 2}});
                   return pass_on;
                 }};
  self = &hops;
  auto run = [&](int until_ms) {
    std::vector<Endpoint> to;
    for (; ms < until_ms;) {
      ++ms;
      clock.Advance(1ms);
      while (alarms.FireDue(clock, 1h) > 0) {
      }
      for (const auto& s : transport.TakeSent()) to.push_back(s.to);
    }
    return to;
  };
  // Not passed on: re-sent as before, offered once (at 100 ms, between two re-sends).
  hops.Send(kNext, wire::Packet{wire::PacketType::kPartitionToken, 1,
                                wire::TokenPacket{.rvid = {1, 1}, .round = 1, .members_visited = 1}});
  transport.TakeSent();
  EXPECT_EQ(run(700).size(), 6u);  // at 10, 30, 70, 150, 310, 630 ms
  EXPECT_EQ(offered_at_ms, std::vector<int>{100});
  // Passed on: the hop to kNext stops, the new one to `other` is re-sent instead.
  pass_on = true;
  offered_at_ms.clear();
  const int start = ms;
  hops.Send(kNext, wire::Packet{wire::PacketType::kPartitionToken, 1,
                                wire::TokenPacket{.rvid = {1, 1}, .round = 1, .members_visited = 1}});
  transport.TakeSent();
  const auto to = run(start + 190);
  EXPECT_EQ(offered_at_ms, std::vector<int>{start + 100});
  ASSERT_GE(to.size(), 4u);
  EXPECT_EQ(std::count(to.begin(), to.end(), kNext), 3);  // at 10, 30, 70 ms; not at 150
  EXPECT_EQ(to[3], other);                               // the token passed on at 100 ms
}

TEST_F(TokenHopsTest, shouldDropAHopThatIsNoLongerWanted) {
  hops_.Send(kNext, Token(1));
  Sent();
  wanted_ = false;
  Advance(10ms);
  EXPECT_EQ(Sent(), 0u);
  EXPECT_EQ(hops_.outstanding(), 0u);
}

TEST_F(TokenHopsTest, shouldAcknowledgeRegionAndPartitionTokensDifferently) {
  auto region = Token(3);
  region.type = wire::PacketType::kRegionToken;
  EXPECT_NE(TokenHops::AckOf(region), TokenHops::AckOf(Token(3)));
  EXPECT_EQ(TokenHops::AckOf(region).level, 1);
}

}  // namespace
}  // namespace qsm
