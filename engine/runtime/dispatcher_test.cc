#include "engine/runtime/dispatcher.h"

#include <gtest/gtest.h>

#include <vector>

#include "engine/transport/sim/sim_transport.h"

namespace qsm {
namespace {

class RecordingProtocol : public PacketHandler {
 public:
  void OnPacket(const wire::Packet& p, std::span<const std::byte>, const Endpoint& from, TimePoint) override {
    types.push_back(p.type);
    sources.push_back(from);
  }
  std::vector<wire::PacketType> types;
  std::vector<Endpoint> sources;
};

class DispatcherTest : public ::testing::Test {
 protected:
  void Send(const wire::Packet& p) {
    std::vector<std::byte> bytes(wire::EncodedSize(p));
    ASSERT_TRUE(wire::Encode(p, bytes).has_value());
    sender_.Send(receiver_.local_endpoint(), bytes);
  }
  void SendRaw(std::vector<std::byte> bytes) { sender_.Send(receiver_.local_endpoint(), bytes); }
  void DeliverAll() {
    while (auto t = net_.NextEventTime()) {
      clock_.AdvanceTo(*t);
      net_.RunDue();
    }
    scheduler_.RunOnce();
  }

  VirtualClock clock_;
  SimNetwork net_{clock_, 1};
  Counters sender_counters_, counters_;
  SimTransport& sender_ = net_.AddHost(Endpoint::FromOctets(198, 18, 0, 1, 1), sender_counters_);
  SimTransport& receiver_ = net_.AddHost(Endpoint::FromOctets(198, 18, 0, 2, 1), counters_);
  Scheduler scheduler_{clock_, counters_};
  RecordingProtocol protocol_;
  Dispatcher dispatcher_{scheduler_, receiver_, protocol_};
};

TEST_F(DispatcherTest, DeliversControlBeforeRecoveryBeforeDataReadInTheSamePoll) {
  Send({wire::PacketType::kData, 1, wire::DataPacket{}});
  Send({wire::PacketType::kForward, 1, wire::DataPacket{}});
  Send({wire::PacketType::kPartitionToken, 1, wire::TokenPacket{}});
  DeliverAll();
  EXPECT_EQ(protocol_.types,
            (std::vector<wire::PacketType>{wire::PacketType::kPartitionToken, wire::PacketType::kForward,
                                           wire::PacketType::kData}));
  EXPECT_EQ(protocol_.sources[0], sender_.local_endpoint());
}

TEST_F(DispatcherTest, CountsAndDropsMalformedInputWithoutPassingItOn) {
  SendRaw(std::vector<std::byte>(3, std::byte{1}));   // too short
  SendRaw(std::vector<std::byte>(40, std::byte{0}));  // bad magic
  wire::Packet good{wire::PacketType::kHeartbeat, 1, wire::HeartbeatPacket{1, 2, 3}};
  std::vector<std::byte> corrupt(wire::EncodedSize(good));
  ASSERT_TRUE(wire::Encode(good, corrupt).has_value());
  corrupt.back() ^= std::byte{0xff};
  SendRaw(corrupt);
  Send(good);
  DeliverAll();
  EXPECT_EQ(protocol_.types, (std::vector<wire::PacketType>{wire::PacketType::kHeartbeat}));
  EXPECT_EQ(counters_.Get(Counter::kDroppedMalformed), 1u);
  EXPECT_EQ(counters_.Get(Counter::kDroppedVersion), 1u);
  EXPECT_EQ(counters_.Get(Counter::kDroppedChecksum), 1u);
}

}  // namespace
}  // namespace qsm
