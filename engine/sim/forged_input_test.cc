// Input from the network is never trusted to keep a node's invariants: a node fed forged packets
// (its own sender id, a view it is not in, sequence numbers far ahead, a token for a round it never
// started, an ACK for everything, a pull for everything) keeps working and delivers what was
// really sent. ACKs, NAKs, pull requests and tokens count only from the nodes the view allows to
// send them. Without a cluster key, forged data claiming to come from *another* node would be
// delivered as that node's; with one, nothing without the key's MAC gets past the transport
// (engine/README.md, "Trust model").
#include <gtest/gtest.h>

#include <vector>

#include "engine/node/node.h"
#include "engine/sim/sim_cluster.h"
#include "engine/transport/auth/authenticated_transport.h"
#include "engine/transport/sim/sim_transport.h"

namespace qsm::sim {
namespace {

// Nodes 1..3 in region view {1, 1}, each a member of group 1; with `keys`, a cluster whose
// datagrams are sealed with them.
struct ThreeNodes {
  explicit ThreeNodes(uint64_t seed, std::shared_ptr<const ClusterKeys> keys = nullptr)
      : cluster(ClusterConfig{.nodes = 3, .seed = seed, .keys = std::move(keys)}, [this](NodeContext& ctx) {
          auto node = std::make_unique<Node>(NodeConfig{.id = static_cast<wire::NodeId>(ctx.index + 1)},
                                             ctx.scheduler, ctx.transport, ctx.random);
          nodes[ctx.index] = node.get();
          return node;
        }) {
    wire::RegionView view{.id = {1, 1}, .multicast = kRegionGroup};
    for (size_t i = 0; i < 3; ++i) view.members.push_back({static_cast<wire::NodeId>(i + 1), cluster.endpoint(i)});
    for (Node* node : nodes) {
      EXPECT_TRUE(node->InstallView(view).has_value());
      EXPECT_TRUE(node->Join(1).has_value());
    }
  }
  static constexpr Endpoint kRegionGroup = Endpoint::FromOctets(239, 18, 0, 9, 7400);
  // From now on, per node, the group seq of each delivery, or 0 for a payload that is not what
  // node 1 really sends (100 bytes of 1).
  std::vector<std::vector<uint64_t>>& RecordDeliveries() {
    for (size_t i = 0; i < 3; ++i) {
      nodes[i]->SetDeliveryHandler([this, i](const Delivery& d) {
        const bool real = !d.payload.empty() && d.payload[0] == std::byte{1};
        delivered[i].push_back(real ? d.group_seq : 0);
      });
    }
    return delivered;
  }
  std::vector<std::vector<uint64_t>> delivered = std::vector<std::vector<uint64_t>>(3);
  std::vector<Node*> nodes = std::vector<Node*>(3, nullptr);  // before cluster: its factory fills it
  Cluster cluster;
};

TEST(ForgedInputTest, NodeIgnoresForgedPacketsAndDeliversWhatWasReallySent) {
  ThreeNodes three(9);
  std::vector<Node*>& nodes = three.nodes;
  Cluster& cluster = three.cluster;
  std::vector<std::vector<uint64_t>>& delivered = three.RecordDeliveries();

  // A rogue host on the same network.
  Counters rogue_counters;
  SimTransport& rogue = cluster.network().AddHost(Endpoint::FromOctets(198, 18, 9, 9, 7000), rogue_counters);
  auto forge = [&](const wire::Packet& p) {  // to node 1 only
    std::vector<std::byte> bytes(wire::EncodedSize(p));
    ASSERT_TRUE(wire::Encode(p, bytes).has_value());
    rogue.Send(cluster.endpoint(0), bytes);
  };
  const std::vector<std::byte> forged(100, std::byte{0xee});
  const std::vector<std::byte> payload(100, std::byte{1});
  for (uint64_t seq : {1ull, 2ull, 3ull, 1ull << 40}) {
    // In node 1's own name (sent by "node 1", and forwarded by "node 2"), and for a foreign view.
    const wire::DataPacket own{
        .rvid = {1, 1}, .sender = 1, .group = 1, .region_seq = seq, .group_seq = seq, .payload = forged};
    wire::DataPacket foreign = own;
    foreign.rvid = {7, 7};
    foreign.sender = 9;
    forge({wire::PacketType::kData, 1, own});
    forge({wire::PacketType::kForward, 2, own});
    forge({wire::PacketType::kData, 9, foreign});
  }
  forge(
      {wire::PacketType::kRegionToken, 2,
       wire::TokenPacket{
           .rvid = {1, 1},
           .round = 1000,
           .partition = 5,
           .records = {wire::SenderRecord{
               .sender = 1, .highest_seen = 1ull << 50, .contiguous = 1ull << 50, .cleanup = 1ull << 50}}}});
  forge({wire::PacketType::kAck, 1, wire::AckPacket{.rvid = {1, 1}, .sender = 1, .stable = 1ull << 50}});
  forge({wire::PacketType::kPullRequest, 2,
         wire::RecoveryRequest{.rvid = {1, 1}, .sender = 1, .ranges = {{1, ~0ull}}}});
  cluster.RunFor(100ms);

  for (int i = 0; i < 20; ++i) ASSERT_TRUE(nodes[0]->Send(1, payload));
  cluster.RunFor(3s);

  const std::vector<uint64_t> expected = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                          11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(delivered[i], expected) << "node " << i + 1;
  EXPECT_EQ(nodes[0]->Snapshot().pending_messages, 0u)
      << "the forged ACK released nothing early; the real ones all";
  EXPECT_GT(
      cluster.counters(0).Get(Counter::kDuplicatesDropped) + cluster.counters(0).Get(Counter::kWrongView),
      0u);
}

// An ACK counts only from the region leader of its view, a NAK only from a member: a rogue host
// that acknowledges everything while a member is down releases nothing (those messages would be
// lost for good), and both packets are counted as dropped for their source.
TEST(ForgedInputTest, AckAndNakFromOutsideTheRegionAreDroppedAndCounted) {
  ThreeNodes three(11);
  std::vector<Node*>& nodes = three.nodes;
  Cluster& cluster = three.cluster;
  Counters rogue_counters;
  SimTransport& rogue = cluster.network().AddHost(Endpoint::FromOctets(198, 18, 9, 9, 7000), rogue_counters);
  auto forge = [&](const wire::Packet& p) {
    std::vector<std::byte> bytes(wire::EncodedSize(p));
    ASSERT_TRUE(wire::Encode(p, bytes).has_value());
    rogue.Send(cluster.endpoint(0), bytes);
  };

  cluster.network().SetHostDown(cluster.endpoint(2), true);  // node 3 gets nothing: no real ACK
  const std::vector<std::byte> payload(100, std::byte{1});
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(nodes[0]->Send(1, payload));
  cluster.RunFor(500ms);
  ASSERT_EQ(nodes[0]->Snapshot().pending_messages, 20u);

  forge({wire::PacketType::kAck, 1, wire::AckPacket{.rvid = {1, 1}, .sender = 1, .stable = 20}});
  forge({wire::PacketType::kNak, 2, wire::RecoveryRequest{.rvid = {1, 1}, .sender = 1, .ranges = {{1, 20}}}});
  cluster.RunFor(100ms);
  EXPECT_EQ(nodes[0]->Snapshot().pending_messages, 20u) << "a forged ACK released messages";
  EXPECT_EQ(cluster.counters(0).Get(Counter::kDroppedSource), 2u);

  cluster.network().SetHostDown(cluster.endpoint(2), false);
  cluster.RunFor(5s);
  EXPECT_EQ(nodes[0]->Snapshot().pending_messages, 0u) << "the real ACKs still count";
}

std::shared_ptr<const ClusterKeys> KeyOf(uint8_t fill) {
  ClusterKey key{.id = 1};
  key.secret.fill(std::byte{fill});
  return std::make_shared<const ClusterKeys>(std::vector{key});
}

// Records every datagram that reaches a host, as it arrived (sealed).
class Sniffer : public TransportHandler {
 public:
  void OnReceive(const Endpoint&, PooledBuffer d, TimePoint) override {
    seen.emplace_back(d.bytes().begin(), d.bytes().end());
  }
  void OnWritable() override {}
  std::vector<std::vector<std::byte>> seen;
};

// Issue 16, with the cluster key: a host without it (or with another key) forges each attack
// (data in the sender's name, an ACK for everything, a token of a huge round, a pull for
// everything); every datagram is dropped as dropped_auth before it decodes, the receivers deliver
// exactly what was sent, the sender releases only what the region acknowledged, and the region
// keeps turning. Then a host that captured the real sealed multicasts replays them all: they are
// authentic, and still do no harm (sequence numbers and the view id bound them).
TEST(ForgedInputTest, WithTheClusterKeyForgeriesAreDroppedAndReplaysDoNoHarm) {
  ThreeNodes three(13, KeyOf(0x42));
  std::vector<Node*>& nodes = three.nodes;
  Cluster& cluster = three.cluster;
  std::vector<std::vector<uint64_t>>& delivered = three.RecordDeliveries();
  Counters rogue_counters;
  SimTransport& unkeyed = cluster.network().AddHost(Endpoint::FromOctets(198, 18, 9, 9, 7000), rogue_counters,
                                                    HostModel{.max_datagram_bytes = 9216 + kAuthTrailerBytes});
  Sniffer sniffer;
  unkeyed.SetHandler(&sniffer);
  ASSERT_TRUE(unkeyed.JoinGroup(ThreeNodes::kRegionGroup).has_value());
  AuthenticatedTransport wrong_key(unkeyed, rogue_counters, KeyOf(0x43));
  size_t forged_to[3] = {0, 0, 0};
  auto forge = [&](size_t to, const wire::Packet& p) {
    std::vector<std::byte> bytes(wire::EncodedSize(p));
    ASSERT_TRUE(wire::Encode(p, bytes).has_value());
    unkeyed.Send(cluster.endpoint(to), bytes);
    wrong_key.Send(cluster.endpoint(to), bytes);
    forged_to[to] += 2;
  };
  unkeyed.SetHandler(&sniffer);  // the decorator took it; the sniffer records sealed bytes
  const std::vector<std::byte> forged(100, std::byte{0xee});
  const std::vector<std::byte> payload(100, std::byte{1});
  for (uint64_t seq : {1ull, 2ull, 3ull}) {
    const wire::DataPacket data{
        .rvid = {1, 1}, .sender = 1, .group = 1, .region_seq = seq, .group_seq = seq, .payload = forged};
    forge(1, {wire::PacketType::kData, 1, data});
    forge(2, {wire::PacketType::kForward, 2, data});
  }
  forge(1, {wire::PacketType::kPartitionToken, 1,
            wire::TokenPacket{.rvid = {1, 1}, .round = ~0ull, .partition = 0, .members_visited = 1}});
  forge(0, {wire::PacketType::kAck, 1, wire::AckPacket{.rvid = {1, 1}, .sender = 1, .stable = 1ull << 50}});
  forge(0, {wire::PacketType::kPullRequest, 2,
            wire::RecoveryRequest{.rvid = {1, 1}, .sender = 1, .ranges = {{1, ~0ull}}}});
  cluster.RunFor(100ms);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(cluster.counters(i).Get(Counter::kDroppedAuth), forged_to[i]) << "node " << i + 1;
  }

  for (int i = 0; i < 20; ++i) ASSERT_TRUE(nodes[0]->Send(1, payload));
  cluster.RunFor(3s);
  std::vector<uint64_t> expected;
  for (uint64_t s = 1; s <= 20; ++s) expected.push_back(s);
  for (size_t i = 1; i < 3; ++i) EXPECT_EQ(delivered[i], expected) << "node " << i + 1;
  EXPECT_EQ(nodes[0]->Snapshot().pending_messages, 0u);
  const uint64_t rounds = cluster.counters(0).Get(Counter::kTokenRounds);
  EXPECT_GT(rounds, 0u);

  unkeyed.PollInput();  // nothing polls the rogue's socket but itself
  ASSERT_FALSE(sniffer.seen.empty()) << "the rogue captured the sealed multicasts";
  const uint64_t duplicates = cluster.counters(1).Get(Counter::kDuplicatesDropped);
  for (const auto& d : sniffer.seen) {
    for (size_t to : {1, 2}) unkeyed.Send(cluster.endpoint(to), d);
  }
  cluster.RunFor(500ms);
  EXPECT_GT(cluster.counters(1).Get(Counter::kDuplicatesDropped), duplicates) << "the replays arrived, authentic";
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(cluster.counters(i).Get(Counter::kDroppedAuth), forged_to[i]) << "node " << i + 1;
  }
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(nodes[0]->Send(1, payload));
  cluster.RunFor(3s);
  for (uint64_t s = 21; s <= 40; ++s) expected.push_back(s);
  for (size_t i = 1; i < 3; ++i) EXPECT_EQ(delivered[i], expected) << "node " << i + 1 << " after the replay";
  EXPECT_EQ(nodes[0]->Snapshot().pending_messages, 0u);
  EXPECT_GT(cluster.counters(0).Get(Counter::kTokenRounds), rounds) << "the region kept turning";
}

}  // namespace
}  // namespace qsm::sim
