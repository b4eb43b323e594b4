// The deterministic cluster running the multicast probe: what the network does shows up, exactly
// and reproducibly, in what the nodes observe.
#include "engine/sim/sim_cluster.h"

#include <gtest/gtest.h>

#include "engine/probe/probe.h"

namespace qsm::sim {
namespace {

const Endpoint kGroup = Endpoint::FromOctets(239, 18, 0, 1, 7500);

struct ProbeRun {
  uint64_t trace = 0;
  uint64_t distinct = 0;
  uint64_t duplicates = 0;
  uint64_t reordered = 0;
  uint64_t max_latency_ns = 0;
};

class SimClusterTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kCount = 500;

  // Every node multicasts kCount packets at 1000/s; runs 2 s of virtual time.
  std::unique_ptr<Cluster> MakeCluster(const ClusterConfig& config) {
    auto cluster = std::make_unique<Cluster>(config, [](NodeContext& ctx) {
      ProbeConfig probe{.node = static_cast<wire::NodeId>(ctx.index + 1),
                        .group = kGroup,
                        .rate = 1000,
                        .count = kCount,
                        .payload_bytes = 200};
      auto p = std::make_unique<MulticastProbe>(probe, ctx.scheduler, ctx.transport);
      EXPECT_TRUE(p->Start().has_value());
      return p;
    });
    return cluster;
  }
  ProbeRun Run(const ClusterConfig& config, const std::function<void(Cluster&)>& faults = {}) {
    SCOPED_TRACE("seed " + std::to_string(config.seed));
    auto cluster = MakeCluster(config);
    if (faults) faults(*cluster);
    cluster->RunUntil(TimePoint(2s));
    ProbeRun run{.trace = cluster->trace_hash()};
    for (size_t i = 0; i < cluster->size(); ++i) {
      auto& probe = cluster->protocol_as<MulticastProbe>(i);
      EXPECT_EQ(probe.sent(), kCount);
      EXPECT_EQ(probe.peers().size(), cluster->size() - 1) << "node " << i;
      for (const auto& [sender, stats] : probe.peers()) {
        run.distinct += stats.distinct;
        run.duplicates += stats.duplicates;
        run.reordered += stats.reordered;
        run.max_latency_ns = std::max(run.max_latency_ns, stats.latency_ns.max());
      }
    }
    return run;
  }
  static uint64_t Expected(const ClusterConfig& c) { return c.nodes * (c.nodes - 1) * kCount; }
};

TEST_F(SimClusterTest, LosslessNetworkDeliversEveryPacketOnceInOrder) {
  ClusterConfig config{
      .nodes = 6, .seed = 11, .link = LinkModel{.latency = 100us, .jitter = Duration::zero()}};
  ProbeRun run = Run(config);
  EXPECT_EQ(run.distinct, Expected(config));
  EXPECT_EQ(run.duplicates, 0u);
  EXPECT_EQ(run.reordered, 0u);
  EXPECT_EQ(run.max_latency_ns, 100'000u);
}

TEST_F(SimClusterTest, RandomLossShowsUpAsMissingPackets) {
  ClusterConfig config{.nodes = 6, .seed = 12, .link = LinkModel{.loss = 0.05}};
  ProbeRun run = Run(config);
  const double expected = static_cast<double>(Expected(config)) * 0.95;
  EXPECT_NEAR(static_cast<double>(run.distinct), expected, expected * 0.02);
}

TEST_F(SimClusterTest, DuplicationAndReorderingAreObserved) {
  ClusterConfig config{
      .nodes = 4, .seed = 13, .link = LinkModel{.duplicate = 0.02, .reorder = 0.05, .reorder_delay = 3ms}};
  ProbeRun run = Run(config);
  EXPECT_EQ(run.distinct, Expected(config));
  EXPECT_GT(run.duplicates, 0u);
  EXPECT_GT(run.reordered, 0u);
}

TEST_F(SimClusterTest, SleepingNodeSeesTheSleepAsLatencyAndOverflowAsLoss) {
  ClusterConfig config{.nodes = 4, .seed = 14, .host = HostModel{.receive_buffer_bytes = 64 * 1024}};
  ProbeRun run = Run(config, [](Cluster& c) { c.Sleep(2, TimePoint(300ms)); });
  // Node 2 slept from 0 to 300 ms: what it kept waited up to 300 ms, the rest overflowed.
  EXPECT_GE(run.max_latency_ns, 250'000'000u);
  EXPECT_LT(run.distinct, Expected(config));
}

TEST_F(SimClusterTest, SameSeedReplaysExactlyAndOtherSeedsDiffer) {
  auto config = [](uint64_t seed) {
    return ClusterConfig{
        .nodes = 5,
        .seed = seed,
        .link = LinkModel{.tail_probability = 0.05, .loss = 0.03, .duplicate = 0.01, .reorder = 0.02}};
  };
  ProbeRun a = Run(config(21)), b = Run(config(21)), c = Run(config(22));
  EXPECT_EQ(a.trace, b.trace);
  EXPECT_EQ(a.distinct, b.distinct);
  EXPECT_EQ(a.duplicates, b.duplicates);
  EXPECT_NE(a.trace, c.trace);
}

}  // namespace
}  // namespace qsm::sim
