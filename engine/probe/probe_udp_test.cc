// The probe over real UDP on loopback. Under `make test` as root this runs inside a network
// namespace that has only `lo` (scripts/in-netns.sh), so nothing it sends can leave it.
#include "engine/probe/probe.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <thread>
#include <vector>

#include "engine/runtime/dispatcher.h"
#include "engine/runtime/run_loop.h"
#include "engine/transport/asio/asio_transport.h"

namespace qsm {
namespace {

constexpr uint32_t kLoopback = 0x7f000001;

// Three nodes, each a core thread with its own scheduler and transport, run the probe over real
// UDP multicast: every node receives every other node's packets.
TEST(MulticastProbeUdpTest, ProbeNodesExchangeMulticastOverRealUdp) {
  RealClock clock_;
  constexpr int kNodes = 3;
  constexpr uint64_t kCount = 300;
  const Endpoint group = Endpoint::FromOctets(239, 255, 77, 1, static_cast<uint16_t>(20000 + (::getpid() + 1) % 20000));
  struct Node {
    Counters counters;
    std::unique_ptr<AsioTransport> transport;  // declared first: outlives the buffers the scheduler holds
    std::unique_ptr<Scheduler> scheduler;
    std::unique_ptr<MulticastProbe> probe;
    std::unique_ptr<Dispatcher> dispatcher;
    std::unique_ptr<RunLoop> loop;
  };
  std::vector<Node> nodes(kNodes);
  for (int i = 0; i < kNodes; ++i) {
    Node& n = nodes[static_cast<size_t>(i)];
    n.scheduler = std::make_unique<Scheduler>(clock_, n.counters);
    auto t = AsioTransport::Create(clock_, n.counters,
                                   {.bind = Endpoint{kLoopback, 0}, .multicast_interface = kLoopback});
    ASSERT_TRUE(t.has_value());
    n.transport = std::move(*t);
    n.probe = std::make_unique<MulticastProbe>(
        ProbeConfig{.node = static_cast<wire::NodeId>(i + 1), .group = group, .rate = 2000, .count = kCount},
        *n.scheduler, *n.transport);
    n.dispatcher = std::make_unique<Dispatcher>(*n.scheduler, *n.transport, *n.probe);
    n.loop = std::make_unique<RunLoop>(*n.scheduler, *n.transport);
    ASSERT_TRUE(n.transport->JoinGroup(group).has_value());
  }
  for (auto& n : nodes) ASSERT_TRUE(n.probe->Start().has_value());
  const TimePoint end = clock_.Now() + 1500ms;  // 150 ms of sending, then time to drain
  std::vector<std::thread> threads;
  threads.reserve(nodes.size());
  for (auto& n : nodes) threads.emplace_back([&n, end] { n.loop->RunUntil(end); });
  for (auto& t : threads) t.join();
  for (int i = 0; i < kNodes; ++i) {
    const auto& probe = *nodes[static_cast<size_t>(i)].probe;
    EXPECT_EQ(probe.sent(), kCount);
    ASSERT_EQ(probe.peers().size(), size_t{kNodes - 1}) << "node " << i;
    for (const auto& [sender, stats] : probe.peers()) {
      EXPECT_EQ(stats.distinct, kCount) << "node " << i << " from " << sender;
      EXPECT_EQ(stats.duplicates, 0u);
    }
  }
}

}  // namespace
}  // namespace qsm
