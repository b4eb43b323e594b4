// UdpDriver under NodeWorkload on the simulated network: every receiver delivers each message it
// gets, with its latency; nothing is repaired, so a receiver that loses datagrams has holes,
// exactly the ones the network dropped.
#include "harness/drivers/udp_driver.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "engine/sim/sim_cluster.h"
#include "harness/workload/workload.h"

namespace qsm::harness {
namespace {

constexpr uint32_t kNodes = 3;

class UdpDriverTest : public ::testing::Test {
 protected:
  UdpDriverTest()
      : cluster_(sim::ClusterConfig{.nodes = kNodes, .seed = 11},
                 [this](sim::NodeContext& ctx) {
                   auto d = std::make_unique<UdpDriver>(ctx.index + 1, ctx.scheduler, ctx.transport);
                   drivers_.push_back(d.get());
                   return d;
                 }),
        start_(cluster_.now() + 100ms) {}

  // Node 1 sends `count` messages to groups 1 and 2 at `rate` (0: as fast as the socket takes
  // them); every node joins both.
  void Start(double rate, uint64_t count, std::vector<faults::Window> sleeps_of_3 = {}) {
    for (uint32_t id = 1; id <= kNodes; ++id) {
      NodePlan& p = plans_[id - 1];
      p.engine = "udp";
      p.node_id = id;
      for (uint32_t m = 1; m <= kNodes; ++m) p.members.push_back({m, cluster_.endpoint(m - 1)});
      p.region_multicast = Endpoint::FromOctets(239, 18, 0, 1, 7400);
      p.joined = {1, 2};
      if (id == 1) {
        p.send_groups = {1, 2};
        p.rate = rate;
        p.send_count = count;
        p.send_for = 10s;
      }
      if (id == 3) p.sleeps = sleeps_of_3;
      workloads_[id - 1] = std::make_unique<NodeWorkload>(
          p, *drivers_[id - 1], cluster_.scheduler(id - 1), start_,
          NodeWorkload::Hooks{.stop_core = [this, id](TimePoint until) { cluster_.Sleep(id - 1, until); }});
      ASSERT_TRUE(workloads_[id - 1]->Start().has_value());
    }
  }

  NodeResult Finish(uint32_t id) { return workloads_[id - 1]->Finish(cluster_.now(), "completed"); }

  std::vector<UdpDriver*> drivers_;
  sim::Cluster cluster_;
  TimePoint start_;
  NodePlan plans_[kNodes];
  std::unique_ptr<NodeWorkload> workloads_[kNodes];
};

TEST_F(UdpDriverTest, EveryReceiverDeliversEveryMessageOfALosslessNetworkInOrder) {
  Start(2000, 2000);
  cluster_.RunUntil(start_ + 2s);
  const NodeResult sender = Finish(1);
  ASSERT_EQ(sender.sent_total(), 2000u);
  for (uint32_t id = 1; id <= kNodes; ++id) {  // the sender gets its own, once, as it sends them
    const NodeResult r = Finish(id);
    for (uint32_t group : {1u, 2u}) {
      const StreamDeliveries& d = r.delivered.at({1, group});
      EXPECT_EQ(d.seqs.ranges(), (std::vector<std::pair<uint64_t, uint64_t>>{{1, 1000}})) << id << "/" << group;
      EXPECT_EQ(d.out_of_order, 0u);
      EXPECT_EQ(d.duplicates, 0u);
    }
    EXPECT_GT(r.latency_ns.count(), 1999u);
    EXPECT_TRUE(drivers_[id - 1]->idle());
  }
}

TEST_F(UdpDriverTest, LostDatagramsAreNeverRepaired) {
  cluster_.network().SetInboundLoss(cluster_.endpoint(2), 0.2);
  Start(0, 4000);  // as fast as the socket takes them
  cluster_.RunUntil(start_ + 3s);
  ASSERT_EQ(Finish(1).sent_total(), 4000u);
  EXPECT_EQ(Finish(2).delivered_total(), 4000u);
  EXPECT_EQ(Finish(1).delivered_total(), 4000u);
  const uint64_t got = Finish(3).delivered_total();
  EXPECT_GT(got, 4000u * 7 / 10);
  EXPECT_LT(got, 4000u * 9 / 10) << "20% inbound loss, and nothing repaired";
}

// What arrives while a receiver sleeps waits in its socket buffer (here, 1 MB of it): delivered
// after the sleep, late by up to the sleep's length.
TEST_F(UdpDriverTest, ASleepingReceiverDeliversWhatItsSocketHeldLate) {
  Start(1000, 2000, {{.start = 500ms, .end = 1500ms}});
  cluster_.RunUntil(start_ + 3s);
  EXPECT_EQ(Finish(2).delivered_total(), 2000u);
  const NodeResult sleeper = Finish(3);
  EXPECT_LE(sleeper.delivered_total(), 2000u);
  EXPECT_GT(sleeper.latency_ns.max(), uint64_t{900'000'000});
  EXPECT_LT(Finish(2).latency_ns.max(), uint64_t{100'000'000});
}

}  // namespace
}  // namespace qsm::harness
