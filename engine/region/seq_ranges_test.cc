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
  for (uint64_t s = 1; s <= 2000; s += 10) many.push_back({s, s + 5});
  EXPECT_EQ(CachedBy(many, 0, 2).size(), wire::kMaxRanges);  // 600 seqs cached by partition 0
  EXPECT_EQ(CachedBy(many, 0, 2, 20).size(), 20u);
  EXPECT_EQ(CachedBy(many, 0, 2, 20).back(), (wire::SeqRange{63, 63}));  // the lowest 20 are kept
}

TEST(IntersectTest, keepsTheLowestRangesWhenTwoListsInterleave) {
  // Two lists of 255 ranges that overlap by one seq on each side of every range: 509 ranges in
  // common. The token's missing list is such an intersection; uncapped it broke the wire bound
  // and the token did not encode (a node crash from an ordinary loss pattern).
  Ranges a, b;
  for (uint64_t i = 0; i < wire::kMaxRanges; ++i) a.push_back({10 * i + 1, 10 * i + 6});
  for (uint64_t i = 0; i < wire::kMaxRanges; ++i) b.push_back({10 * i + 6, 10 * i + 11});
  const Ranges both = Intersect(a, b);
  ASSERT_EQ(both.size(), wire::kMaxRanges);
  EXPECT_EQ(both[0], (wire::SeqRange{6, 6}));
  EXPECT_EQ(both[1], (wire::SeqRange{11, 11}));
  EXPECT_EQ(Intersect(a, b, 3), (Ranges{{6, 6}, {11, 11}, {16, 16}}));
}

wire::SenderRecord RecordWith(wire::NodeId sender, size_t ranges, size_t partitions) {
  wire::SenderRecord r{.sender = sender, .partition_contiguous = std::vector<uint64_t>(partitions, 7)};
  for (uint64_t i = 0; i < ranges; ++i) {
    r.missing_all.push_back({10 * i + 1, 10 * i + 2});
    r.pred_missing.push_back({10 * i + 1, 10 * i + 3});
  }
  return r;
}

TEST(FitTokenTest, leavesATokenThatFitsAlone) {
  wire::TokenPacket token{.records = {RecordWith(1, 20, 4), RecordWith(2, 20, 4)}};
  const wire::TokenPacket before = token;
  EXPECT_EQ(FitToken(token, 8192), 0u);
  EXPECT_EQ(token, before);
}

TEST(FitTokenTest, shortensRangeListsBeforeDroppingRecords) {
  // 10 records of 255 + 255 ranges: about 82 KB. Shortened lists make it fit with every record.
  wire::TokenPacket token;
  for (wire::NodeId s = 1; s <= 10; ++s) token.records.push_back(RecordWith(s, wire::kMaxRanges, 40));
  EXPECT_EQ(FitToken(token, 8192), 0u);
  EXPECT_LE(wire::EncodedTokenSize(token), 8192u);
  ASSERT_EQ(token.records.size(), 10u);
  EXPECT_GE(token.records[0].missing_all.size(), 4u);
  EXPECT_EQ(token.records[0].missing_all.front(), (wire::SeqRange{1, 2}));  // the lowest stay
  std::vector<std::byte> out(wire::kMaxPacketSize);
  EXPECT_TRUE(wire::Encode({wire::PacketType::kRegionToken, 1, token}, out).has_value());
}

TEST(FitTokenTest, dropsRecordsFromTheBackWhenShortListsDoNotFit) {
  // 64 senders in a region of 40 partitions: 56 + 8 x 40 bytes a record before any range.
  wire::TokenPacket token;
  for (wire::NodeId s = 1; s <= 64; ++s) token.records.push_back(RecordWith(s, 30, 40));
  const size_t dropped = FitToken(token, 8192);
  EXPECT_GT(dropped, 0u);
  EXPECT_EQ(token.records.size() + dropped, 64u);
  EXPECT_LE(wire::EncodedTokenSize(token), 8192u);
  EXPECT_EQ(token.records.front().sender, 1u);  // the front is kept
  EXPECT_EQ(token.records.back().sender, token.records.size());
  for (const auto& r : token.records) EXPECT_LE(r.missing_all.size(), 4u);
}

}  // namespace
}  // namespace qsm
