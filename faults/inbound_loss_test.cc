#include "faults/inbound_loss.h"

#include <gtest/gtest.h>

#include "engine/transport/sim/sim_network.h"
#include "engine/transport/sim/sim_transport.h"

namespace qsm::faults {
namespace {

class Recorder : public TransportHandler {
 public:
  void OnReceive(const Endpoint&, PooledBuffer, TimePoint at) override { arrivals.push_back(at); }
  void OnWritable() override {}
  std::vector<TimePoint> arrivals;
};

class InboundLossTest : public ::testing::Test {
 protected:
  // Sends one datagram every millisecond for `ms` milliseconds through a lossy receiver.
  void SendEveryMillisecond(InboundLoss& lossy, int ms) {
    lossy.SetHandler(&recorder_);
    const std::byte payload[8]{};
    for (int i = 0; i < ms; ++i) {
      sender_.Send(receiver_.local_endpoint(), payload);
      clock_.Advance(1ms);
      while (auto t = net_.NextEventTime()) {
        if (*t > clock_.Now()) break;
        net_.RunDue();
      }
      lossy.PollInput();
    }
  }

  VirtualClock clock_;
  SimNetwork net_{clock_, 1, LinkModel{.latency = 100us}};
  Counters counters_, sender_counters_;
  SimTransport& sender_ = net_.AddHost(Endpoint::FromOctets(198, 18, 0, 1, 7000), sender_counters_);
  SimTransport& receiver_ = net_.AddHost(Endpoint::FromOctets(198, 18, 0, 2, 7000), counters_);
  Recorder recorder_;
};

TEST_F(InboundLossTest, BurstWindowsDropEverythingInsideAndNothingOutside) {
  const TimePoint t0 = clock_.Now();
  InboundLoss lossy(receiver_, counters_, {{t0 + 100ms, t0 + 110ms}, {t0 + 500ms, t0 + 600ms}}, 0.0, 1);
  SendEveryMillisecond(lossy, 1000);
  for (TimePoint at : recorder_.arrivals) {
    EXPECT_FALSE(at >= t0 + 100ms && at < t0 + 110ms);
    EXPECT_FALSE(at >= t0 + 500ms && at < t0 + 600ms);
  }
  EXPECT_EQ(counters_.Get(Counter::kDroppedFault), 110u);
  EXPECT_EQ(recorder_.arrivals.size(), 1000u - 110u);
}

TEST_F(InboundLossTest, RandomLossDropsAboutTheConfiguredShare) {
  InboundLoss lossy(receiver_, counters_, {}, 0.1, 42);
  SendEveryMillisecond(lossy, 5000);
  const uint64_t dropped = counters_.Get(Counter::kDroppedFault);
  EXPECT_GT(dropped, 400u);
  EXPECT_LT(dropped, 600u);
  EXPECT_EQ(recorder_.arrivals.size() + dropped, 5000u);
}

}  // namespace
}  // namespace qsm::faults
