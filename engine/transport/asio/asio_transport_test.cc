// Real UDP on loopback. Under `make test` as root this runs inside a network namespace that has
// only `lo` (scripts/in-netns.sh), so nothing it sends can leave the namespace.
#include "engine/transport/asio/asio_transport.h"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>
#include <vector>

#include "engine/runtime/run_loop.h"

namespace qsm {
namespace {

constexpr uint32_t kLoopback = 0x7f000001;
const Endpoint kGroup = Endpoint::FromOctets(239, 255, 77, 1, 0);

struct Inbox : TransportHandler {
  void OnReceive(const Endpoint& from, PooledBuffer d, TimePoint) override {
    got.emplace_back(from, std::vector<std::byte>(d.bytes().begin(), d.bytes().end()));
  }
  void OnWritable() override { ++writable; }
  std::vector<std::pair<Endpoint, std::vector<std::byte>>> got;
  int writable = 0;
};

class AsioTransportTest : public ::testing::Test {
 protected:
  std::unique_ptr<AsioTransport> Make(AsioTransportConfig config = {}) {
    if (config.multicast_interface == 0) config.multicast_interface = kLoopback;
    if (config.bind.address == 0) config.bind = Endpoint{kLoopback, 0};
    auto t = AsioTransport::Create(clock_, counters_, config);
    EXPECT_TRUE(t.has_value()) << (t ? "" : t.error().ToString());
    return t ? std::move(*t) : nullptr;
  }
  // Polls until `inbox` holds `n` datagrams or 5 s pass.
  void PollUntil(AsioTransport& t, Inbox& inbox, size_t n) {
    const TimePoint give_up = clock_.Now() + 5s;
    while (inbox.got.size() < n && clock_.Now() < give_up) {
      t.PollInput();
      if (inbox.got.size() < n) t.WaitForInput(clock_.Now() + 50ms);
    }
  }
  static std::vector<std::byte> Bytes(size_t n, uint8_t v = 1) {
    return std::vector<std::byte>(n, std::byte{v});
  }
  Endpoint Group(uint16_t port) const { return Endpoint{kGroup.address, port}; }

  RealClock clock_;
  Counters counters_;
};

TEST_F(AsioTransportTest, RefusesConfigurationsThatCouldLeakTraffic) {
  AsioTransportConfig no_interface{.bind = Endpoint{kLoopback, 0}};
  auto t = AsioTransport::Create(clock_, counters_, no_interface);
  ASSERT_FALSE(t.has_value());
  EXPECT_NE(t.error().message.find("multicast interface"), std::string::npos);

  AsioTransportConfig outside{.bind = Endpoint::FromOctets(10, 1, 2, 3, 0), .multicast_interface = kLoopback};
  t = AsioTransport::Create(clock_, counters_, outside);
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().code, ErrorCode::kInvalidArgument);

  auto ok = Make();
  ASSERT_TRUE(ok);
  auto bytes = Bytes(10);
  EXPECT_EQ(ok->Send(Endpoint::FromOctets(192, 0, 2, 1, 9), bytes), SendStatus::kFailed);
  EXPECT_EQ(counters_.Get(Counter::kSendErrors), 1u);
}

TEST(UnfragmentedUdpPayloadTest, IsTheInterfacesMtuLessTheHeaders) {
  std::ifstream mtu_file("/sys/class/net/lo/mtu");
  size_t mtu = 0;
  ASSERT_TRUE(mtu_file >> mtu);
  EXPECT_EQ(UnfragmentedUdpPayload(Endpoint::FromOctets(127, 0, 0, 1, 0).address), mtu - 28);
  EXPECT_EQ(UnfragmentedUdpPayload(Endpoint::FromOctets(198, 19, 255, 254, 0).address), std::nullopt);
}

TEST_F(AsioTransportTest, ReportsAnAddressInUseAsAnIoError) {
  auto a = Make();
  ASSERT_TRUE(a);
  AsioTransportConfig same{.bind = a->local_endpoint(), .multicast_interface = kLoopback};
  auto b = AsioTransport::Create(clock_, counters_, same);
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().code, ErrorCode::kIo);
}

TEST_F(AsioTransportTest, UnicastArrivesWithTheSendersEndpoint) {
  auto a = Make(), b = Make();
  Inbox inbox;
  b->SetHandler(&inbox);
  auto bytes = Bytes(100, 7);
  ASSERT_EQ(a->Send(b->local_endpoint(), bytes), SendStatus::kSent);
  PollUntil(*b, inbox, 1);
  ASSERT_EQ(inbox.got.size(), 1u);
  EXPECT_EQ(inbox.got[0].first, a->local_endpoint());
  EXPECT_EQ(inbox.got[0].second, bytes);
}

TEST_F(AsioTransportTest, MulticastReachesEveryOtherMemberButNotTheSender) {
  auto a = Make(), b = Make(), c = Make();
  const Endpoint group = Group(static_cast<uint16_t>(20000 + ::getpid() % 20000));
  Inbox ia, ib, ic;
  a->SetHandler(&ia);
  b->SetHandler(&ib);
  c->SetHandler(&ic);
  ASSERT_TRUE(a->JoinGroup(group).has_value());
  ASSERT_TRUE(b->JoinGroup(group).has_value());
  ASSERT_TRUE(b->JoinGroup(group).has_value());  // twice: no-op
  auto bytes = Bytes(1000, 3);
  ASSERT_EQ(a->Send(group, bytes), SendStatus::kSent);
  ASSERT_EQ(b->Send(group, bytes), SendStatus::kSent);
  PollUntil(*a, ia, 1);
  PollUntil(*b, ib, 1);
  c->PollInput();
  ASSERT_EQ(ia.got.size(), 1u);  // b's, not its own
  EXPECT_EQ(ia.got[0].first, b->local_endpoint());
  ASSERT_EQ(ib.got.size(), 1u);
  EXPECT_EQ(ib.got[0].first, a->local_endpoint());
  EXPECT_TRUE(ic.got.empty());  // not a member
  ASSERT_TRUE(b->LeaveGroup(group).has_value());
  ASSERT_EQ(a->Send(group, bytes), SendStatus::kSent);
  ASSERT_EQ(c->Send(group, bytes), SendStatus::kSent);  // c reaches a without being a member
  PollUntil(*a, ia, 2);
  b->PollInput();
  EXPECT_EQ(ib.got.size(), 1u);
  EXPECT_EQ(ia.got.size(), 2u);
}

// Every third datagram has a trailer: it arrives joined to its datagram.
TEST_F(AsioTransportTest, SendBatchDeliversEveryDatagramInOrderWithItsTrailer) {
  auto a = Make(), b = Make();
  Inbox inbox;
  b->SetHandler(&inbox);
  std::vector<std::vector<std::byte>> payloads;
  payloads.reserve(300);
  for (int i = 0; i < 300; ++i) payloads.push_back(Bytes(200, static_cast<uint8_t>(i)));
  const std::vector<std::byte> trailer = Bytes(32, 0xee);
  std::vector<OutgoingDatagram> batch;
  batch.reserve(payloads.size());
  for (size_t i = 0; i < payloads.size(); ++i) {
    batch.push_back({b->local_endpoint(), payloads[i], i % 3 == 0 ? std::span(trailer) : std::span<const std::byte>()});
  }
  EXPECT_EQ(a->SendBatch(batch), 300u);
  PollUntil(*b, inbox, 300);
  ASSERT_EQ(inbox.got.size(), 300u);
  for (size_t i = 0; i < 300; ++i) {
    auto expected = payloads[i];
    if (i % 3 == 0) expected.insert(expected.end(), trailer.begin(), trailer.end());
    EXPECT_EQ(inbox.got[i].second, expected) << i;
  }
  EXPECT_EQ(counters_.Get(Counter::kPacketsSent), 300u);
  EXPECT_EQ(counters_.Get(Counter::kBytesSent), 300u * 200 + 100 * trailer.size());
}

// Receive slots are set up again only after recvmmsg used them: with the handler holding every
// buffer (the pool runs dry mid-batch) and two senders interleaved, each datagram still arrives
// once, whole, with its own sender's endpoint.
struct HoldingInbox : TransportHandler {
  void OnReceive(const Endpoint& from, PooledBuffer d, TimePoint) override {
    got.emplace_back(from, std::vector<std::byte>(d.bytes().begin(), d.bytes().end()));
    held.push_back(std::move(d));
  }
  void OnWritable() override {}
  std::vector<std::pair<Endpoint, std::vector<std::byte>>> got;
  std::vector<PooledBuffer> held;
};

TEST_F(AsioTransportTest, ReusesReceiveSlotsAcrossPoolExhaustionWithEachSendersEndpoint) {
  auto a = Make(), c = Make();
  auto b = Make(AsioTransportConfig{.pool_buffers = 512, .batch = 64});
  HoldingInbox inbox;
  b->SetHandler(&inbox);
  constexpr int kEach = 400;  // 800 datagrams: more than the pool
  for (int i = 0; i < kEach; ++i) {
    ASSERT_EQ(a->Send(b->local_endpoint(), Bytes(100 + static_cast<size_t>(i), static_cast<uint8_t>(i))),
              SendStatus::kSent);
    ASSERT_EQ(c->Send(b->local_endpoint(), Bytes(200 + static_cast<size_t>(i), static_cast<uint8_t>(i))),
              SendStatus::kSent);
  }
  const TimePoint give_up = clock_.Now() + 5s;
  while (inbox.got.size() < 2 * kEach && clock_.Now() < give_up) {
    b->PollInput();
    EXPECT_LE(inbox.held.size(), 512u);
    inbox.held.clear();  // the buffers go back to the pool
    if (inbox.got.size() < 2 * kEach) b->WaitForInput(clock_.Now() + 50ms);
  }
  ASSERT_EQ(inbox.got.size(), size_t{2 * kEach});
  int next_a = 0, next_c = 0;
  for (const auto& [from, bytes] : inbox.got) {
    if (from == a->local_endpoint()) {
      EXPECT_EQ(bytes, Bytes(100 + static_cast<size_t>(next_a), static_cast<uint8_t>(next_a)));
      ++next_a;
    } else {
      EXPECT_EQ(from, c->local_endpoint());
      EXPECT_EQ(bytes, Bytes(200 + static_cast<size_t>(next_c), static_cast<uint8_t>(next_c)));
      ++next_c;
    }
  }
  EXPECT_EQ(next_a, kEach);
  EXPECT_EQ(next_c, kEach);
  EXPECT_GT(counters_.Get(Counter::kPoolExhausted), 0u);
}

TEST_F(AsioTransportTest, OversizedDatagramIsCountedAndDropped) {
  auto a = Make();
  auto b = Make(AsioTransportConfig{.max_datagram_bytes = 256});
  Inbox inbox;
  b->SetHandler(&inbox);
  auto big = Bytes(1000), small = Bytes(100);
  a->Send(b->local_endpoint(), big);
  a->Send(b->local_endpoint(), small);
  PollUntil(*b, inbox, 1);
  ASSERT_EQ(inbox.got.size(), 1u);
  EXPECT_EQ(inbox.got[0].second.size(), 100u);
  EXPECT_EQ(counters_.Get(Counter::kDroppedTruncated), 1u);
}

TEST_F(AsioTransportTest, WakeFromAnotherThreadEndsTheWait) {
  auto a = Make();
  std::thread waker([&] {
    std::this_thread::sleep_for(50ms);
    a->waker().Wake();
  });
  const TimePoint start = clock_.Now();
  a->WaitForInput(start + 60s);
  EXPECT_LT(clock_.Now() - start, 30s);  // returned long before its deadline
  waker.join();
}

}  // namespace
}  // namespace qsm
