#include "engine/transport/auth/authenticated_transport.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "engine/transport/sim/sim_network.h"
#include "engine/transport/sim/sim_transport.h"

namespace qsm {
namespace {

class Recorder : public TransportHandler {
 public:
  void OnReceive(const Endpoint&, PooledBuffer d, TimePoint) override {
    got.emplace_back(d.bytes().begin(), d.bytes().end());
  }
  void OnWritable() override {}
  std::vector<std::vector<std::byte>> got;
};

std::shared_ptr<const ClusterKeys> Keys(uint32_t id, uint8_t fill) {
  ClusterKey k{.id = id};
  k.secret.fill(std::byte{fill});
  return std::make_shared<const ClusterKeys>(std::vector{k});
}

std::vector<std::byte> Bytes(uint8_t v, size_t n) { return std::vector<std::byte>(n, std::byte{v}); }

// Three hosts on a simulated network: 0 and 1 hold the cluster key, 2 sends without it (or with
// another key) and also listens with the key.
class AuthenticatedTransportTest : public ::testing::Test {
 protected:
  AuthenticatedTransportTest() : net_(clock_, 1, LinkModel{.jitter = Duration::zero()}) {
    for (size_t i = 0; i < 3; ++i) {
      raw_.push_back(&net_.AddHost(Endpoint::FromOctets(198, 18, 0, static_cast<uint8_t>(i + 1), 7000), counters_[i],
                                   HostModel{.max_datagram_bytes = 9216 + kAuthTrailerBytes}));
      sealed_.push_back(std::make_unique<AuthenticatedTransport>(*raw_.back(), counters_[i], Keys(1, 0x5a)));
      sealed_.back()->SetHandler(&got_[i]);
    }
  }
  void Drain() {
    for (;;) {
      for (auto* h : raw_) h->PollInput();
      auto next = net_.NextEventTime();
      if (!next) break;
      clock_.AdvanceTo(std::max(*next, clock_.Now()));
      net_.RunDue();
    }
    for (auto* h : raw_) h->PollInput();
  }
  Endpoint Addr(size_t i) const { return raw_[i]->local_endpoint(); }

  VirtualClock clock_;
  Counters counters_[3];
  SimNetwork net_;
  std::vector<SimTransport*> raw_;
  std::vector<std::unique_ptr<AuthenticatedTransport>> sealed_;
  Recorder got_[3];
};

TEST_F(AuthenticatedTransportTest, PassesSealedDatagramsOnWithoutTheTrailer) {
  const auto a = Bytes(1, 100);
  const auto b = Bytes(2, 9216);
  EXPECT_EQ(sealed_[0]->Send(Addr(1), a), SendStatus::kSent);
  const OutgoingDatagram batch[] = {{Addr(1), b}, {Addr(1), a}};
  EXPECT_EQ(sealed_[0]->SendBatch(batch), 2U);
  Drain();
  ASSERT_EQ(got_[1].got.size(), 3U);
  EXPECT_EQ(got_[1].got[0], a);
  EXPECT_EQ(got_[1].got[1], b);
  EXPECT_EQ(got_[1].got[2], a);
  EXPECT_EQ(counters_[1].Get(Counter::kDroppedAuth), 0U);
  EXPECT_EQ(counters_[0].Get(Counter::kBytesSent), 2 * (100 + kAuthTrailerBytes) + 9216 + kAuthTrailerBytes);
}

TEST_F(AuthenticatedTransportTest, DropsAndCountsWhatIsNotSealedWithTheClusterKey) {
  // Unsealed, as a node without a key sends.
  EXPECT_EQ(raw_[2]->Send(Addr(1), Bytes(3, 100)), SendStatus::kSent);
  // Sealed with another key.
  AuthenticatedTransport other(*raw_[2], counters_[2], Keys(1, 0x5b));
  EXPECT_EQ(other.Send(Addr(1), Bytes(3, 100)), SendStatus::kSent);
  // A sealed datagram replayed with its payload changed.
  auto forged = Bytes(4, 60 + kAuthTrailerBytes);
  Authenticator(Keys(1, 0x5a)).Seal(std::span(forged).first(60), std::span(forged).last<kAuthTrailerBytes>());
  forged[10] ^= std::byte{1};
  EXPECT_EQ(raw_[2]->Send(Addr(1), forged), SendStatus::kSent);
  // Too short to hold a trailer.
  EXPECT_EQ(raw_[2]->Send(Addr(1), Bytes(5, 3)), SendStatus::kSent);
  Drain();
  EXPECT_TRUE(got_[1].got.empty());
  EXPECT_EQ(counters_[1].Get(Counter::kDroppedAuth), 4U);
}

}  // namespace
}  // namespace qsm
