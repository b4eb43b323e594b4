#include "engine/transport/sim/sim_network.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "engine/transport/sim/sim_transport.h"

namespace qsm {
namespace {

const Endpoint kGroup = Endpoint::FromOctets(239, 1, 1, 1, 9000);

struct Received {
  Endpoint from;
  TimePoint at;
  std::vector<std::byte> bytes;
};

class RecordingHost : public TransportHandler {
 public:
  void OnReceive(const Endpoint& from, PooledBuffer d, TimePoint at) override {
    got.push_back({from, at, {d.bytes().begin(), d.bytes().end()}});
  }
  void OnWritable() override { ++writable; }
  std::vector<Received> got;
  int writable = 0;
};

class SimNetworkTest : public ::testing::Test {
 protected:
  explicit SimNetworkTest(uint64_t seed = 1) : net_(std::make_unique<SimNetwork>(clock_, seed)) {}

  void AddHosts(size_t n, HostModel model = {}) {
    for (size_t i = 0; i < n; ++i) {
      counters_.push_back(std::make_unique<Counters>());
      handlers_.push_back(std::make_unique<RecordingHost>());
      auto& t = net_->AddHost(Endpoint::FromOctets(198, 18, 0, static_cast<uint8_t>(i + 1), 7000),
                              *counters_.back(), model);
      t.SetHandler(handlers_.back().get());
      hosts_.push_back(&t);
    }
  }
  Endpoint Addr(size_t i) const { return hosts_[i]->local_endpoint(); }
  // Runs the network until nothing is in flight, polling every host at each step.
  void Drain() {
    for (;;) {
      for (auto* h : hosts_) h->PollInput();
      auto next = net_->NextEventTime();
      if (!next) break;
      clock_.AdvanceTo(std::max(*next, clock_.Now()));
      net_->RunDue();
    }
    for (auto* h : hosts_) h->PollInput();
  }
  static std::vector<std::byte> Bytes(uint8_t v, size_t n = 8) {
    return std::vector<std::byte>(n, std::byte{v});
  }
  SendStatus Send(size_t from, Endpoint to, uint8_t v, size_t n = 8) {
    auto b = Bytes(v, n);
    return hosts_[from]->Send(to, b);
  }

  VirtualClock clock_;
  std::unique_ptr<SimNetwork> net_;
  std::vector<std::unique_ptr<Counters>> counters_;
  std::vector<std::unique_ptr<RecordingHost>> handlers_;
  std::vector<SimTransport*> hosts_;
};

TEST_F(SimNetworkTest, UnicastArrivesAfterTheLinkLatency) {
  net_->SetDefaultLink(LinkModel{.latency = 100us, .jitter = Duration::zero()});
  AddHosts(2);
  EXPECT_EQ(Send(0, Addr(1), 7), SendStatus::kSent);
  clock_.Advance(99us);
  net_->RunDue();
  hosts_[1]->PollInput();
  EXPECT_TRUE(handlers_[1]->got.empty());
  clock_.Advance(1us);
  net_->RunDue();
  hosts_[1]->PollInput();
  ASSERT_EQ(handlers_[1]->got.size(), 1u);
  EXPECT_EQ(handlers_[1]->got[0].from, Addr(0));
  EXPECT_EQ(handlers_[1]->got[0].bytes, Bytes(7));
  EXPECT_EQ(counters_[1]->Get(Counter::kPacketsReceived), 1u);
}

TEST_F(SimNetworkTest, MulticastReachesEveryOtherSubscriber) {
  AddHosts(4);
  for (size_t i : {0, 1, 2}) ASSERT_TRUE(hosts_[i]->JoinGroup(kGroup).has_value());
  Send(0, kGroup, 1);
  Drain();
  EXPECT_EQ(handlers_[0]->got.size(), 0u);  // a sender does not hear its own multicast
  EXPECT_EQ(handlers_[1]->got.size(), 1u);
  EXPECT_EQ(handlers_[2]->got.size(), 1u);
  EXPECT_TRUE(handlers_[3]->got.empty());
  ASSERT_TRUE(hosts_[2]->LeaveGroup(kGroup).has_value());
  Send(1, kGroup, 2);
  Drain();
  EXPECT_EQ(handlers_[0]->got.size(), 1u);
  EXPECT_EQ(handlers_[2]->got.size(), 1u);
  EXPECT_FALSE(hosts_[0]->JoinGroup(Addr(1)).has_value());  // not a multicast address
}

TEST_F(SimNetworkTest, RandomLossDropsAboutTheConfiguredShare) {
  net_->SetDefaultLink(LinkModel{.loss = 0.1});
  AddHosts(2);
  for (int i = 0; i < 10000; ++i) Send(0, Addr(1), 1);
  Drain();
  EXPECT_NEAR(static_cast<double>(handlers_[1]->got.size()), 9000, 300);
  EXPECT_EQ(net_->stats().dropped_loss + net_->stats().delivered, 10000u);
}

TEST_F(SimNetworkTest, InboundLossDropsAboutTheConfiguredShareAtThatHostOnly) {
  AddHosts(3);
  net_->SetInboundLoss(Addr(1), 0.2);
  for (int i = 0; i < 5000; ++i) {
    Send(0, Addr(1), 1);
    Send(0, Addr(2), 1);
  }
  Drain();
  EXPECT_NEAR(static_cast<double>(handlers_[1]->got.size()), 4000, 200);
  EXPECT_EQ(handlers_[2]->got.size(), 5000u);
}

TEST_F(SimNetworkTest, LossWindowDropsOnlyInsideTheWindow) {
  net_->SetDefaultLink(LinkModel{.latency = 10us, .jitter = Duration::zero()});
  AddHosts(2);
  net_->AddInboundLossWindow(Addr(1), TimePoint(1ms), TimePoint(2ms));
  for (int i = 0; i < 30; ++i) {  // one every 100us from t=0 to t=2.9ms
    Send(0, Addr(1), static_cast<uint8_t>(i));
    clock_.Advance(100us);
    net_->RunDue();
  }
  Drain();
  EXPECT_EQ(handlers_[1]->got.size(), 20u);
  EXPECT_EQ(net_->stats().dropped_window, 10u);
  EXPECT_EQ(counters_[1]->Get(Counter::kDroppedFault), 10u);
}

TEST_F(SimNetworkTest, PartitionSeparatesSidesUntilHealed) {
  AddHosts(3);
  net_->Partition({Addr(0)});
  Send(0, Addr(1), 1);
  Send(1, Addr(2), 2);
  Drain();
  EXPECT_TRUE(handlers_[1]->got.empty());
  EXPECT_EQ(handlers_[2]->got.size(), 1u);
  net_->Heal();
  Send(0, Addr(1), 3);
  Drain();
  EXPECT_EQ(handlers_[1]->got.size(), 1u);
}

TEST_F(SimNetworkTest, DownHostSendsAndReceivesNothing) {
  AddHosts(2);
  net_->SetHostDown(Addr(1), true);
  Send(0, Addr(1), 1);
  Send(1, Addr(0), 2);
  Drain();
  EXPECT_TRUE(handlers_[0]->got.empty());
  EXPECT_TRUE(handlers_[1]->got.empty());
  EXPECT_EQ(net_->stats().dropped_partition, 2u);
}

TEST_F(SimNetworkTest, DuplicationDeliversTwice) {
  net_->SetDefaultLink(LinkModel{.duplicate = 1.0});
  AddHosts(2);
  Send(0, Addr(1), 1);
  Drain();
  EXPECT_EQ(handlers_[1]->got.size(), 2u);
}

TEST_F(SimNetworkTest, ReorderingLetsLaterDatagramsOvertake) {
  net_->SetDefaultLink(LinkModel{.latency = 10us, .jitter = Duration::zero(), .reorder = 0.5});
  AddHosts(2);
  for (int i = 0; i < 100; ++i) {
    Send(0, Addr(1), static_cast<uint8_t>(i));
    clock_.Advance(1us);
  }
  Drain();
  ASSERT_EQ(handlers_[1]->got.size(), 100u);
  int inversions = 0;
  for (size_t i = 1; i < 100; ++i) {
    inversions += handlers_[1]->got[i].bytes[0] < handlers_[1]->got[i - 1].bytes[0];
  }
  EXPECT_GT(inversions, 0);
}

TEST_F(SimNetworkTest, EgressBandwidthSerialisesAndBackPressures) {
  net_->SetDefaultLink(LinkModel{.latency = 0us, .jitter = Duration::zero()});
  AddHosts(2, HostModel{.egress_bits_per_second = 10'000'000, .send_buffer_bytes = 5000});
  // 1250-byte datagrams take 1 ms each at 10 Mbit/s; the 5000-byte buffer holds four.
  int sent = 0;
  while (Send(0, Addr(1), 1, 1250) == SendStatus::kSent) ++sent;
  EXPECT_EQ(sent, 4);
  EXPECT_EQ(counters_[0]->Get(Counter::kSendWouldBlock), 1u);
  hosts_[0]->RequestWritable();
  Drain();
  EXPECT_EQ(handlers_[0]->writable, 1);
  ASSERT_EQ(handlers_[1]->got.size(), 4u);
  EXPECT_EQ(handlers_[1]->got[0].at, TimePoint(1ms));
  EXPECT_EQ(handlers_[1]->got[3].at, TimePoint(4ms));
}

TEST_F(SimNetworkTest, FullReceiveBufferDropsLikeAnOverloadedSocket) {
  AddHosts(2, HostModel{.receive_buffer_bytes = 100});
  for (int i = 0; i < 20; ++i) Send(0, Addr(1), 1, 10);
  // Nobody polls host 1 until everything has arrived.
  while (auto next = net_->NextEventTime()) {
    clock_.AdvanceTo(*next);
    net_->RunDue();
  }
  hosts_[1]->PollInput();
  EXPECT_EQ(handlers_[1]->got.size(), 10u);
  EXPECT_EQ(net_->stats().dropped_overflow, 10u);
}

uint64_t TraceOfRun(uint64_t seed) {
  VirtualClock clock;
  SimNetwork net(clock, seed,
                 LinkModel{.tail_probability = 0.1, .loss = 0.05, .duplicate = 0.01, .reorder = 0.05});
  std::vector<std::unique_ptr<Counters>> counters;
  std::vector<SimTransport*> hosts;
  RecordingHost sink;
  for (uint8_t i = 0; i < 5; ++i) {
    counters.push_back(std::make_unique<Counters>());
    hosts.push_back(&net.AddHost(Endpoint::FromOctets(198, 18, 0, i + 1, 1), *counters.back()));
    hosts.back()->SetHandler(&sink);
    (void)hosts.back()->JoinGroup(kGroup);
  }
  std::vector<std::byte> payload(100, std::byte{3});
  for (int i = 0; i < 500; ++i) {
    hosts[static_cast<size_t>(i) % 5]->Send(kGroup, payload);
    clock.Advance(20us);
    net.RunDue();
    for (auto* h : hosts) h->PollInput();
  }
  return net.trace_hash();
}

TEST(SimNetworkDeterminismTest, SameSeedSameTraceDifferentSeedDifferentTrace) {
  EXPECT_EQ(TraceOfRun(5), TraceOfRun(5));
  EXPECT_NE(TraceOfRun(5), TraceOfRun(6));
}

}  // namespace
}  // namespace qsm
