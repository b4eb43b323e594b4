#include "engine/sender/region_sender.h"

#include <gtest/gtest.h>

#include <deque>

namespace qsm {
namespace {

constexpr TimePoint kT0 = TimePoint(1s);

PendingMessage Msg(size_t bytes, uint64_t group_seq = 1) {
  return PendingMessage{.group = 1, .group_seq = group_seq, .payload = std::vector<std::byte>(bytes)};
}

class RegionSenderTest : public ::testing::Test {
 protected:
  void AddAndTransmit(int n, size_t bytes = 10) {
    for (int i = 0; i < n; ++i) {
      uint64_t seq = sender_.Add(Msg(bytes));
      sender_.MarkTransmitted(seq, kT0);
    }
  }
  // 4 messages, or 100 B of payload with their bookkeeping.
  RegionSender sender_{{1, 1}, SenderWindow{.max_bytes = 100 + 4 * kBookkeepingBytes, .max_messages = 4}};
};

TEST_F(RegionSenderTest, AssignsConsecutiveSequenceNumbersFromOne) {
  EXPECT_EQ(sender_.Add(Msg(1)), 1u);
  EXPECT_EQ(sender_.Add(Msg(1)), 2u);
  EXPECT_EQ(sender_.NextUntransmitted(), 1u);
  sender_.MarkTransmitted(1, kT0);
  EXPECT_EQ(sender_.NextUntransmitted(), 2u);
}

TEST_F(RegionSenderTest, WindowBoundsMessagesAndBytes) {
  AddAndTransmit(4);
  EXPECT_FALSE(sender_.HasRoom(1));
  EXPECT_EQ(sender_.OnAck(1, kT0), 1u);
  EXPECT_TRUE(sender_.HasRoom(10));
  EXPECT_FALSE(sender_.HasRoom(80));  // 30 pending + 80 > 100
  EXPECT_EQ(sender_.pending_messages(), 3u);
  EXPECT_EQ(sender_.pending_bytes(), 30 + 3 * kBookkeepingBytes);
}

// The default window is bytes held, not a message count: small messages take less room, but
// never less than their bookkeeping (issue 14: 64-byte messages under scattered loss need more
// messages in flight than a count sized for 1000-byte ones allowed).
TEST(RegionSenderWindowTest, CountsEachMessageAsItsPayloadPlusItsBookkeeping) {
  RegionSender sender{{1, 1}, SenderWindow{.max_bytes = 10 * RegionSender::HeldBytes(64)}};
  int small = 0;
  while (sender.HasRoom(64)) {
    sender.Add(Msg(64));
    ++small;
  }
  EXPECT_EQ(small, 10);
  EXPECT_EQ(sender.pending_bytes(), sender.window_bytes());
  RegionSender empty{{1, 1}, SenderWindow{.max_bytes = 1000}};
  EXPECT_TRUE(empty.HasRoom(0));
  EXPECT_TRUE(empty.Fits(5000));  // an empty window takes any one message
  empty.Add(Msg(5000));
  EXPECT_FALSE(empty.Fits(0));
}

TEST_F(RegionSenderTest, AckReleasesOnlyWhatWasTransmitted) {
  sender_.Add(Msg(1));
  sender_.Add(Msg(1));
  sender_.MarkTransmitted(1, kT0);
  EXPECT_EQ(sender_.OnAck(2, kT0), 1u);  // 2 was never sent: an ACK for it is not believed
  EXPECT_EQ(sender_.stable(), 1u);
  EXPECT_EQ(sender_.Find(1), nullptr);
  EXPECT_NE(sender_.Find(2), nullptr);
}

TEST_F(RegionSenderTest, NakQueuesPendingMessagesAndSkipsAcknowledgedOnes) {
  AddAndTransmit(4);
  const wire::SeqRange ranges[] = {{2, 3}, {4, 9}};
  sender_.OnNak(ranges, kT0);
  EXPECT_EQ(sender_.PopRetransmit(kT0), 2u);
  sender_.OnAck(3, kT0);  // 3 became stable meanwhile: never retransmitted
  EXPECT_EQ(sender_.PopRetransmit(kT0), 4u);
  EXPECT_EQ(sender_.PopRetransmit(kT0), std::nullopt);
}

TEST_F(RegionSenderTest, NaksOfTheSameBurstFromEveryPartitionAreRetransmittedOnce) {
  RegionSender sender{{1, 1}, SenderWindow{.max_messages = 100}};
  for (int i = 0; i < 100; ++i) sender.MarkTransmitted(sender.Add(Msg(10)), kT0);
  const wire::SeqRange burst[] = {{11, 60}};
  const wire::SeqRange overlapping[] = {{40, 80}};
  sender.OnNak(burst, kT0);
  sender.OnNak(burst, kT0);  // another partition, before the first retransmission went out
  std::vector<uint64_t> sent;
  while (auto seq = sender.PopRetransmit(kT0 + 1ms)) sent.push_back(*seq);
  sender.OnNak(overlapping, kT0 + 5ms);  // a third partition, after: only 61..80 is new
  while (auto seq = sender.PopRetransmit(kT0 + 5ms)) sent.push_back(*seq);
  ASSERT_EQ(sent.size(), 70u);
  for (size_t i = 0; i < sent.size(); ++i) EXPECT_EQ(sent[i], 11 + i);
  // A NAK a holdoff later (the next round) is answered again: the retransmission was lost too.
  sender.OnNak(burst, kT0 + 5ms + RegionSender::kRetransmitHoldoff);
  EXPECT_EQ(sender.PopRetransmit(kT0 + 30ms), 11u);
}

// Issue 15: an adaptive window follows the path. Messages of 100 B offered at 20,000 msgs/s,
// each acknowledged 5 ms after it is transmitted: the window grows from min_bytes until it lets
// the whole offered rate through, and settles at about twice the BDP (in bytes held), far below
// max_bytes.
TEST(AdaptiveWindowTest, growsFromMinBytesToTheRateTheAcksAllow) {
  RegionSender sender{{1, 1}, SenderWindow{.max_bytes = 1 << 20, .adaptive = true, .min_bytes = 1000, .gain = 2}};
  EXPECT_EQ(sender.window_bytes(), 1000u);
  std::deque<std::pair<uint64_t, TimePoint>> in_flight;
  uint64_t sent_in_last_100ms = 0;
  for (int ms = 0; ms < 1000; ++ms) {
    const TimePoint now = kT0 + std::chrono::milliseconds(ms);
    for (int i = 0; i < 20 && sender.HasRoom(100); ++i) {
      const uint64_t seq = sender.Add(Msg(100));
      sender.MarkTransmitted(seq, now);
      in_flight.emplace_back(seq, now);
      if (ms >= 900) ++sent_in_last_100ms;
    }
    uint64_t stable = 0;
    while (!in_flight.empty() && now - in_flight.front().second >= 5ms) {
      stable = in_flight.front().first;
      in_flight.pop_front();
    }
    if (stable > 0) sender.OnAck(stable, now);
  }
  EXPECT_EQ(sent_in_last_100ms, 2000u);  // the whole offered rate
  const double bdp = 20'000.0 * RegionSender::HeldBytes(100) * 0.005;
  EXPECT_NEAR(static_cast<double>(sender.window_bytes()), 2 * bdp, 0.2 * bdp);
  EXPECT_LE(static_cast<double>(sender.pending_bytes()), 1.2 * bdp);
}

TEST(AdaptiveWindowTest, carriedMessagesNeedOnlyTheHardCaps) {
  const size_t held = RegionSender::HeldBytes(100);
  RegionSender sender{{1, 1}, SenderWindow{.max_bytes = 100 * held, .adaptive = true, .min_bytes = 10 * held}};
  while (sender.HasRoom(100)) sender.Add(Msg(100));
  EXPECT_EQ(sender.pending_bytes(), 10 * held);
  EXPECT_TRUE(sender.Fits(100));  // a message carried from another view still fits
  for (int i = 0; i < 90; ++i) sender.Add(Msg(100));
  EXPECT_FALSE(sender.Fits(100));  // max_bytes
}

TEST(AdaptiveWindowTest, theNextViewKeepsTheEstimate) {
  const SenderWindow window{.max_bytes = 1 << 20, .adaptive = true, .min_bytes = 1000, .gain = 2};
  RegionSender sender{{1, 1}, window};
  sender.MarkTransmitted(sender.Add(Msg(100)), kT0);
  sender.OnAck(1, kT0 + 10ms);
  for (int i = 0; i < 100; ++i) sender.Add(Msg(100));
  sender.MarkTransmitted(101, kT0 + 10ms);
  sender.OnAck(101, kT0 + 20ms);  // 100 messages in 10 ms, 10 ms late: BDP 100 messages' worth
  const size_t twice_bdp = 200 * RegionSender::HeldBytes(100);
  EXPECT_EQ(sender.window_bytes(), twice_bdp);
  const RegionSender next{{1, 2}, window, sender};
  EXPECT_EQ(next.window_bytes(), twice_bdp);
}

TEST(AdaptiveWindowTest, aFixedWindowIsMaxMessagesAndMaxBytes) {
  RegionSender sender{{1, 1}, SenderWindow{.max_bytes = 1 << 20, .max_messages = 3}};
  EXPECT_EQ(sender.window_bytes(), size_t{1 << 20});
  for (int i = 0; i < 3; ++i) sender.Add(Msg(500));
  EXPECT_FALSE(sender.HasRoom(1));
}

TEST_F(RegionSenderTest, TakeUnacknowledgedEmptiesTheWindowInOrder) {
  for (uint64_t i = 1; i <= 3; ++i) {
    sender_.MarkTransmitted(sender_.Add(Msg(5, i)), kT0);
  }
  sender_.OnAck(1, kT0);
  auto rest = sender_.TakeUnacknowledged();
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].group_seq, 2u);
  EXPECT_EQ(rest[1].group_seq, 3u);
  EXPECT_EQ(sender_.pending_messages(), 0u);
  EXPECT_EQ(sender_.pending_bytes(), 0u);
}

}  // namespace
}  // namespace qsm
