#include "engine/sender/region_sender.h"

#include <gtest/gtest.h>

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
      sender_.MarkTransmitted(seq);
    }
  }
  RegionSender sender_{{1, 1}, SenderWindow{.max_messages = 4, .max_bytes = 100}};
};

TEST_F(RegionSenderTest, AssignsConsecutiveSequenceNumbersFromOne) {
  EXPECT_EQ(sender_.Add(Msg(1)), 1u);
  EXPECT_EQ(sender_.Add(Msg(1)), 2u);
  EXPECT_EQ(sender_.NextUntransmitted(), 1u);
  sender_.MarkTransmitted(1);
  EXPECT_EQ(sender_.NextUntransmitted(), 2u);
}

TEST_F(RegionSenderTest, WindowBoundsMessagesAndBytes) {
  AddAndTransmit(4);
  EXPECT_FALSE(sender_.HasRoom(1));
  EXPECT_EQ(sender_.OnAck(1), 1u);
  EXPECT_TRUE(sender_.HasRoom(10));
  EXPECT_FALSE(sender_.HasRoom(80));  // 30 pending + 80 > 100
  EXPECT_EQ(sender_.pending_messages(), 3u);
  EXPECT_EQ(sender_.pending_bytes(), 30u);
}

TEST_F(RegionSenderTest, AckReleasesOnlyWhatWasTransmitted) {
  sender_.Add(Msg(1));
  sender_.Add(Msg(1));
  sender_.MarkTransmitted(1);
  EXPECT_EQ(sender_.OnAck(2), 1u);  // 2 was never sent: an ACK for it is not believed
  EXPECT_EQ(sender_.stable(), 1u);
  EXPECT_EQ(sender_.Find(1), nullptr);
  EXPECT_NE(sender_.Find(2), nullptr);
}

TEST_F(RegionSenderTest, NakQueuesPendingMessagesAndSkipsAcknowledgedOnes) {
  AddAndTransmit(4);
  const wire::SeqRange ranges[] = {{2, 3}, {4, 9}};
  sender_.OnNak(ranges, kT0);
  EXPECT_EQ(sender_.PopRetransmit(kT0), 2u);
  sender_.OnAck(3);  // 3 became stable meanwhile: never retransmitted
  EXPECT_EQ(sender_.PopRetransmit(kT0), 4u);
  EXPECT_EQ(sender_.PopRetransmit(kT0), std::nullopt);
}

TEST_F(RegionSenderTest, NaksOfTheSameBurstFromEveryPartitionAreRetransmittedOnce) {
  RegionSender sender{{1, 1}, SenderWindow{.max_messages = 100}};
  for (int i = 0; i < 100; ++i) sender.MarkTransmitted(sender.Add(Msg(10)));
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

TEST_F(RegionSenderTest, TakeUnacknowledgedEmptiesTheWindowInOrder) {
  for (uint64_t i = 1; i <= 3; ++i) {
    sender_.MarkTransmitted(sender_.Add(Msg(5, i)));
  }
  sender_.OnAck(1);
  auto rest = sender_.TakeUnacknowledged();
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].group_seq, 2u);
  EXPECT_EQ(rest[1].group_seq, 3u);
  EXPECT_EQ(sender_.pending_messages(), 0u);
  EXPECT_EQ(sender_.pending_bytes(), 0u);
}

}  // namespace
}  // namespace qsm
