#include "engine/wire/packets.h"

#include <gtest/gtest.h>

#include <array>
#include <set>
#include <vector>

#include "engine/wire/crc32c.h"

namespace qsm::wire {
namespace {

std::vector<std::byte> Payload(size_t n) {
  std::vector<std::byte> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<std::byte>(i * 7 + 1);
  return p;
}

// One packet of every type, with every field set to something other than its default.
std::vector<Packet> OneOfEach(const std::vector<std::byte>& payload) {
  DataPacket data{.rvid = {3, 9},
                  .sender = 17,
                  .group = 5,
                  .region_seq = 1ull << 40,
                  .group_seq = 77,
                  .send_time_ns = -12345,
                  .catch_up = true,
                  .payload = payload};
  SenderRecord rec{.sender = 4,
                   .highest_seen = 900,
                   .contiguous = 850,
                   .cleanup = 800,
                   .rate_min = 1000,
                   .rate_max = 9000,
                   .rate_sum = 123456,
                   .pred_contiguous = 849,
                   .missing_all = {{851, 860}, {870, 870}},
                   .pred_missing = {{850, 860}},
                   .partition_contiguous = {850, 899, 860}};
  TokenPacket token{.rvid = {3, 9},
                    .round = 42,
                    .partition = 2,
                    .members_visited = 6,
                    .round_start_ns = 1'000'000'007,
                    .records = {rec, SenderRecord{.sender = 8}}};
  RecoveryRequest request{.rvid = {3, 9}, .sender = 17, .ranges = {{1, 5}, {9, 9}}};
  ViewUpdatePacket views{.epoch = 11,
                         .prev_epoch = 9,
                         .node = 2,
                         .incarnation = 99,
                         .groups_version = 3,
                         .snapshot = true,
                         .part = 1,
                         .parts = 2,
                         .regions = {RegionView{.id = {3, 9},
                                                .multicast = Endpoint::FromOctets(239, 1, 0, 3, 7000),
                                                .members = {{1, Endpoint::FromOctets(127, 0, 0, 1, 7001)},
                                                            {2, Endpoint::FromOctets(127, 0, 0, 1, 7002)}}}},
                         .groups = {GroupView{.group = 5, .view = 2, .regions = {{3, 9}, {4, 1}}}}};
  // Two batch entries as on the wire: the payload with the catch-up flag, then an empty payload.
  static std::vector<std::byte> entries;
  entries.assign(2 * kDataBatchEntryFixed + payload.size(), std::byte{0});
  Writer w(entries);
  w.U32(5);
  w.U64(77);
  w.I64(-12345);
  w.U8(kDataFlagCatchUp);
  w.U32(static_cast<uint32_t>(payload.size()));
  w.Bytes(payload);
  w.U32(6);
  w.U64(78);
  w.I64(3);
  w.U8(0);
  w.U32(0);
  DataBatchPacket batch{.rvid = {3, 9}, .sender = 17, .first_region_seq = 1ull << 40, .count = 2, .entries = entries};
  return {
      {PacketType::kData, 17, data},
      {PacketType::kDataBatch, 17, batch},
      {PacketType::kForwardBatch, 2, batch},
      {PacketType::kRetransmit, 17, data},
      {PacketType::kForward, 2, data},
      {PacketType::kPartitionToken, 1, token},
      {PacketType::kRegionToken, 1, token},
      {PacketType::kAck, 1, AckPacket{{3, 9}, 17, 42, 850, 10, 20, 30}},
      {PacketType::kNak, 1, request},
      {PacketType::kPullRequest, 2, request},
      {PacketType::kTokenAck, 2, TokenAckPacket{{3, 9}, 42, 2, 6, 1}},
      {PacketType::kRegister, 2,
       RegisterPacket{2, 99, Endpoint::FromOctets(127, 0, 0, 1, 7002), 3, {5, 6, 70000}}},
      {PacketType::kHeartbeat, 2, HeartbeatPacket{2, 99, 1234, 11}},
      {PacketType::kDeregister, 2, DeregisterPacket{2, 99}},
      {PacketType::kViewUpdate, 0, views},
  };
}

class PacketsTest : public ::testing::Test {
 protected:
  std::vector<std::byte> EncodeOk(const Packet& p) {
    std::vector<std::byte> out(EncodedSize(p));
    auto n = Encode(p, out);
    EXPECT_TRUE(n.has_value()) << (n ? "" : n.error().ToString());
    EXPECT_EQ(n.value_or(0), out.size());
    return out;
  }
  // Rewrites the checksum so that a deliberately corrupted body reaches the body decoder.
  static void Reseal(std::vector<std::byte>& bytes) { SealChecksum(bytes); }

  std::vector<std::byte> payload_ = Payload(1000);
};

TEST_F(PacketsTest, EveryTypeRoundTrips) {
  for (const Packet& p : OneOfEach(payload_)) {
    auto bytes = EncodeOk(p);
    auto back = Decode(bytes);
    ASSERT_TRUE(back.has_value()) << PacketTypeName(p.type) << ": " << DecodeErrorName(back.error());
    EXPECT_EQ(*back, p) << PacketTypeName(p.type);
    auto header = PeekHeader(bytes);
    ASSERT_TRUE(header.has_value());
    EXPECT_EQ(header->type, p.type);
    EXPECT_EQ(header->source, p.source);
  }
}

TEST_F(PacketsTest, EmptyPayloadAndEmptyListsRoundTrip) {
  std::vector<Packet> packets = {
      {PacketType::kData, 1, DataPacket{}},
      {PacketType::kRegionToken, 1, TokenPacket{}},
      {PacketType::kViewUpdate, 1, ViewUpdatePacket{}},
  };
  for (const Packet& p : packets) {
    auto bytes = EncodeOk(p);
    auto back = Decode(bytes);
    ASSERT_TRUE(back.has_value()) << PacketTypeName(p.type);
    EXPECT_EQ(*back, p);
  }
}

TEST_F(PacketsTest, HeaderLayoutIsAsDocumented) {
  auto bytes = EncodeOk({PacketType::kHeartbeat, 0x01020304, HeartbeatPacket{}});
  EXPECT_EQ(bytes[0], std::byte{0x53});  // magic, little-endian
  EXPECT_EQ(bytes[1], std::byte{0x51});
  EXPECT_EQ(bytes[2], std::byte{kVersion});
  EXPECT_EQ(bytes[3], std::byte{static_cast<uint8_t>(PacketType::kHeartbeat)});
  EXPECT_EQ(bytes[4], std::byte{static_cast<uint8_t>(bytes.size())});
  EXPECT_EQ(bytes[8], std::byte{0x04});
  EXPECT_EQ(bytes[11], std::byte{0x01});
}

TEST_F(PacketsTest, EveryTruncationIsRejected) {
  for (const Packet& p : OneOfEach(payload_)) {
    auto bytes = EncodeOk(p);
    for (size_t n = 0; n < bytes.size(); ++n) {
      auto r = Decode(std::span(bytes).first(n));
      EXPECT_FALSE(r.has_value()) << PacketTypeName(p.type) << " truncated to " << n;
    }
  }
}

TEST_F(PacketsTest, EverySingleBitFlipIsRejected) {
  const auto small_payload = Payload(40);
  for (const Packet& p : OneOfEach(small_payload)) {
    auto bytes = EncodeOk(p);
    for (size_t i = 0; i < bytes.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        auto copy = bytes;
        copy[i] ^= std::byte(1u << bit);
        EXPECT_FALSE(Decode(copy).has_value()) << PacketTypeName(p.type) << " byte " << i;
      }
    }
  }
}

TEST_F(PacketsTest, ReportsWhyADatagramIsRejected) {
  auto good = EncodeOk({PacketType::kHeartbeat, 1, HeartbeatPacket{}});
  auto expect = [](std::vector<std::byte> b, DecodeError e) {
    auto r = Decode(b);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), e) << DecodeErrorName(r.error());
  };
  expect({}, DecodeError::kTooShort);
  auto b = good;
  b[0] = std::byte{0};
  expect(b, DecodeError::kBadMagic);
  b = good;
  b[2] = std::byte{kVersion + 1};
  expect(b, DecodeError::kBadVersion);
  b = good;
  b.push_back(std::byte{0});
  expect(b, DecodeError::kBadLength);
  b = good;
  b[3] = std::byte{99};
  expect(b, DecodeError::kUnknownType);
  b = good;
  b[20] ^= std::byte{1};
  expect(b, DecodeError::kBadChecksum);
  EXPECT_EQ(DropCounter(DecodeError::kBadChecksum), Counter::kDroppedChecksum);
}

TEST_F(PacketsTest, CountBeyondItsBoundIsRejectedEvenWithAValidChecksum) {
  // The record count (u16 at body offset 32) beyond kMaxSenderRecords.
  TokenPacket token{.rvid = {1, 1}, .round = 1, .records = {SenderRecord{.sender = 1}}};
  auto bytes = EncodeOk({PacketType::kRegionToken, 1, token});
  constexpr uint16_t kTooMany = kMaxSenderRecords + 1;
  bytes[kHeaderSize + 32] = std::byte{static_cast<uint8_t>(kTooMany & 0xff)};
  bytes[kHeaderSize + 33] = std::byte{static_cast<uint8_t>(kTooMany >> 8)};
  Reseal(bytes);
  auto r = Decode(bytes);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), DecodeError::kBadBody);
}

TEST_F(PacketsTest, HugeCountInAShortDatagramIsRejectedWithoutAllocating) {
  auto bytes = EncodeOk({PacketType::kViewUpdate, 1, ViewUpdatePacket{}});
  bytes[kHeaderSize + 41] = std::byte{0xff};  // region_count = 0xffff, no bytes behind it
  bytes[kHeaderSize + 42] = std::byte{0xff};
  Reseal(bytes);
  EXPECT_EQ(Decode(bytes).error(), DecodeError::kBadBody);
}

TEST_F(PacketsTest, DataWithAnUnknownFlagIsRejected) {
  auto bytes = EncodeOk({PacketType::kData, 1, DataPacket{.catch_up = true}});
  ASSERT_EQ(bytes[kHeaderSize + 40], std::byte{kDataFlagCatchUp});
  bytes[kHeaderSize + 40] = std::byte{3};  // a flag this version does not know: it could not re-encode it
  Reseal(bytes);
  EXPECT_EQ(Decode(bytes).error(), DecodeError::kBadBody);
}

TEST_F(PacketsTest, ViewUpdatePartOutsideItsPartsIsRejected) {
  auto bytes = EncodeOk({PacketType::kViewUpdate, 1, ViewUpdatePacket{.part = 1, .parts = 2}});
  bytes[kHeaderSize + 37] = std::byte{2};  // part = 2 of 2
  Reseal(bytes);
  EXPECT_EQ(Decode(bytes).error(), DecodeError::kBadBody);
  EXPECT_FALSE(Encode({PacketType::kViewUpdate, 1, ViewUpdatePacket{.parts = 0}}, bytes).has_value());
}

TEST_F(PacketsTest, RegisterWithMoreGroupsThanItsBoundIsRejected) {
  auto bytes = EncodeOk({PacketType::kRegister, 1, RegisterPacket{.groups = {1}}});
  bytes[kHeaderSize + 26] = std::byte{0xff};  // group_count = 0xffff, 4 bytes behind it
  bytes[kHeaderSize + 27] = std::byte{0xff};
  Reseal(bytes);
  EXPECT_EQ(Decode(bytes).error(), DecodeError::kBadBody);
}

TEST_F(PacketsTest, InvertedRangeIsRejected) {
  auto bytes = EncodeOk({PacketType::kPullRequest, 1, RecoveryRequest{{1, 1}, 1, {{5, 5}}}});
  bytes[kHeaderSize + 13] = std::byte{6};  // first = 6 > last = 5
  Reseal(bytes);
  EXPECT_EQ(Decode(bytes).error(), DecodeError::kBadBody);
}

TEST_F(PacketsTest, EncodeRefusesBodiesThatBreakTheWireBounds) {
  std::vector<std::byte> out(kMaxPacketSize);
  RecoveryRequest too_many{.ranges = std::vector<SeqRange>(kMaxRanges + 1)};
  EXPECT_EQ(Encode({PacketType::kNak, 1, too_many}, out).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(Encode({PacketType::kNak, 1, RecoveryRequest{}}, out).error().code,
            ErrorCode::kInvalidArgument);  // no ranges
  EXPECT_EQ(Encode({PacketType::kAck, 1, HeartbeatPacket{}}, out).error().code,
            ErrorCode::kInvalidArgument);  // type and body disagree
  auto big = Payload(kMaxPacketSize);
  EXPECT_EQ(EncodeData(PacketType::kData, 1, DataPacket{.payload = big}, out).error().code,
            ErrorCode::kInvalidArgument);
  std::array<std::byte, 20> small{};
  EXPECT_EQ(Encode({PacketType::kHeartbeat, 1, HeartbeatPacket{}}, small).error().code,
            ErrorCode::kUnavailable);
}

TEST_F(PacketsTest, TheTypeTableHasOneRowPerTypeAndEveryBodyDecodesToIt) {
  std::set<uint8_t> seen;
  for (const auto& info : kPacketTypes) {
    EXPECT_TRUE(seen.insert(static_cast<uint8_t>(info.type)).second) << info.name;
    EXPECT_EQ(InfoOf(static_cast<uint8_t>(info.type)), &info);
    EXPECT_EQ(PacketTypeName(info.type), info.name);
  }
  EXPECT_EQ(InfoOf(uint8_t{0}), nullptr);
  EXPECT_EQ(InfoOf(uint8_t{12}), nullptr);
  EXPECT_EQ(PacketTypeName(static_cast<PacketType>(200)), "unknown");
  // Every sample packet decodes to the body its row names, and routes by its row's scope.
  const auto payload = Payload(3);
  const auto samples = OneOfEach(payload);
  EXPECT_EQ(samples.size(), std::size(kPacketTypes));
  for (const Packet& sample : samples) {
    auto decoded = Decode(EncodeOk(sample));
    ASSERT_TRUE(decoded.has_value());
    const Packet& p = *decoded;
    const auto& info = InfoOf(p.type);
    EXPECT_EQ(p.body.index(), info.body) << info.name;
    const bool scoped = info.scope == Scope::kRegion || info.scope == Scope::kSender;
    EXPECT_EQ(RegionViewOf(p).has_value(), scoped) << info.name;
  }
}

TEST_F(PacketsTest, ABatchWriterPacksConsecutiveMessagesUpToItsDatagramSize) {
  std::vector<std::byte> buffer(200);
  DataBatchWriter batch(buffer, 2, {3, 9}, 17, 41);
  const auto p40 = Payload(40);
  const auto p3 = Payload(3);
  ASSERT_TRUE(batch.Fits(40));
  batch.Add(DataPacket{.group = 5, .group_seq = 8, .send_time_ns = 100, .catch_up = true, .payload = p40});
  ASSERT_TRUE(batch.Fits(3));
  batch.Add(DataPacket{.group = 6, .group_seq = 1, .send_time_ns = 101, .payload = p3});
  EXPECT_EQ(batch.size(), DataBatchWriter::SizeFor(2, 43));
  EXPECT_FALSE(batch.Fits(200 - batch.size() - kDataBatchEntryFixed + 1));
  EXPECT_TRUE(batch.Fits(200 - batch.size() - kDataBatchEntryFixed));
  const size_t n = batch.Finish();
  auto packet = Decode(std::span(buffer).first(n));
  ASSERT_TRUE(packet.has_value()) << DecodeErrorName(packet.error());
  EXPECT_EQ(packet->type, PacketType::kDataBatch);
  EXPECT_EQ(packet->source, 2u);
  std::vector<DataPacket> messages;
  std::get<DataBatchPacket>(packet->body).ForEach([&](const DataPacket& m) { messages.push_back(m); });
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0], (DataPacket{.rvid = {3, 9}, .sender = 17, .group = 5, .region_seq = 41, .group_seq = 8,
                                     .send_time_ns = 100, .catch_up = true, .payload = p40}));
  EXPECT_EQ(messages[1], (DataPacket{.rvid = {3, 9}, .sender = 17, .group = 6, .region_seq = 42, .group_seq = 1,
                                     .send_time_ns = 101, .payload = p3}));
}

TEST_F(PacketsTest, ABatchWhoseEntriesDoNotAddUpIsRejected) {
  std::vector<std::byte> buffer(300);
  DataBatchWriter batch(buffer, 2, {3, 9}, 17, 41);
  const auto p40 = Payload(40);
  batch.Add(DataPacket{.group = 5, .group_seq = 8, .payload = p40});
  batch.Add(DataPacket{.group = 5, .group_seq = 9, .payload = p40});
  buffer.resize(batch.Finish());
  ASSERT_TRUE(Decode(buffer).has_value());
  const size_t count_at = kHeaderSize + kDataBatchFixed - 2;
  const size_t first_length_at = kHeaderSize + kDataBatchFixed + kDataBatchEntryFixed - 4;
  auto edited = [&](size_t at, uint8_t value) {
    auto copy = buffer;
    copy[at] = std::byte{value};
    Reseal(copy);
    return Decode(copy);
  };
  EXPECT_EQ(edited(count_at, 0).error(), DecodeError::kBadBody);  // no message
  EXPECT_EQ(edited(count_at, 3).error(), DecodeError::kBadBody);  // a third entry missing
  EXPECT_EQ(edited(count_at, 1).error(), DecodeError::kBadBody);  // bytes left over
  EXPECT_EQ(edited(first_length_at, 200).error(), DecodeError::kBadBody);  // beyond the datagram
  EXPECT_EQ(edited(kHeaderSize + 12, 0).error(), DecodeError::kBadBody);  // region seq 0 (first byte of 41)
  EXPECT_EQ(edited(first_length_at - 1, 2).error(), DecodeError::kBadBody);  // an unknown flag
}

TEST_F(PacketsTest, EveryTypeHasTheTrafficClassOfItsPriority) {
  EXPECT_EQ(InfoOf(PacketType::kData).traffic, Traffic::kData);
  EXPECT_EQ(InfoOf(PacketType::kDataBatch).traffic, Traffic::kData);
  EXPECT_EQ(InfoOf(PacketType::kForward).traffic, Traffic::kRecovery);
  EXPECT_EQ(InfoOf(PacketType::kForwardBatch).traffic, Traffic::kRecovery);
  EXPECT_EQ(InfoOf(PacketType::kRetransmit).traffic, Traffic::kRecovery);
  for (auto t : {PacketType::kPartitionToken, PacketType::kRegionToken, PacketType::kAck, PacketType::kNak,
                 PacketType::kPullRequest, PacketType::kTokenAck, PacketType::kViewUpdate}) {
    EXPECT_EQ(InfoOf(t).traffic, Traffic::kControl) << PacketTypeName(t);
  }
  EXPECT_EQ(InfoOf(PacketType::kAck).scope, Scope::kSender);
  EXPECT_EQ(InfoOf(PacketType::kNak).scope, Scope::kSender);
  EXPECT_EQ(InfoOf(PacketType::kPullRequest).scope, Scope::kRegion);
  EXPECT_EQ(InfoOf(PacketType::kViewUpdate).scope, Scope::kFromGms);
  EXPECT_EQ(InfoOf(PacketType::kHeartbeat).scope, Scope::kToGms);
}

TEST(Crc32cTest, MatchesTheStandardCheckValue) {
  const char* text = "123456789";
  auto bytes = std::as_bytes(std::span(text, 9));
  EXPECT_EQ(Crc32c(0, bytes), 0xe3069283u);
  EXPECT_EQ(Crc32c(Crc32c(0, bytes.first(4)), bytes.subspan(4)), 0xe3069283u);
}

}  // namespace
}  // namespace qsm::wire
