// qsm::Node over real UDP multicast on loopback: three nodes, each a core thread with its own
// scheduler and transport, one of them sending. Under `make test` as root this runs inside a
// network namespace that has only `lo`.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <thread>
#include <vector>

#include "engine/node/node.h"
#include "engine/runtime/dispatcher.h"
#include "engine/runtime/run_loop.h"
#include "engine/transport/asio/asio_transport.h"

namespace qsm {
namespace {

constexpr uint32_t kLoopback = 0x7f000001;

class CountingFeed final : public MessageFeed {
 public:
  explicit CountingFeed(uint64_t count) : count_(count) {}
  bool Next(OutgoingMessage& out, const GroupReady& ready) override {
    const auto group = static_cast<wire::GroupId>(next_ % 3 + 1);
    if (next_ >= count_ || !ready(group)) return false;
    out.group = group;
    out.payload.assign(1000, std::byte{static_cast<uint8_t>(next_)});
    ++next_;
    return true;
  }

 private:
  uint64_t count_, next_ = 0;
};

TEST(NodeUdpTest, ThreeNodesDeliverEveryMessageOnceInOrderOverRealMulticast) {
  constexpr size_t kNodes = 3;
  constexpr uint64_t kCount = 20000;
  RealClock clock;
  struct Member {
    Counters counters;
    std::unique_ptr<AsioTransport> transport;  // declared before the scheduler: outlives its buffers
    std::unique_ptr<Scheduler> scheduler;
    Random random{1};
    std::unique_ptr<Node> node;
    std::unique_ptr<Dispatcher> dispatcher;
    std::unique_ptr<RunLoop> loop;
    std::map<std::pair<wire::NodeId, wire::GroupId>, uint64_t> last;  // core thread only
    std::atomic<uint64_t> delivered{0};  // read by the test's thread
    uint64_t out_of_order = 0;
  };
  std::vector<Member> members(kNodes);
  wire::RegionView view{
      .id = {1, 1},
      .multicast = Endpoint::FromOctets(239, 255, 90, static_cast<uint8_t>(::getpid() % 200 + 1),
                                        static_cast<uint16_t>(30000 + ::getpid() % 20000))};
  for (size_t i = 0; i < kNodes; ++i) {
    auto t = AsioTransport::Create(clock, members[i].counters,
                                   {.bind = Endpoint{kLoopback, 0}, .multicast_interface = kLoopback});
    ASSERT_TRUE(t.has_value()) << t.error().ToString();
    members[i].transport = std::move(*t);
    view.members.push_back({static_cast<wire::NodeId>(i + 1), members[i].transport->local_endpoint()});
  }
  for (size_t i = 0; i < kNodes; ++i) {
    Member& m = members[i];
    m.scheduler = std::make_unique<Scheduler>(clock, m.counters);
    NodeConfig config{.id = static_cast<wire::NodeId>(i + 1), .region = RegionConfig{.token_rate = 20}};
    m.node = std::make_unique<Node>(config, *m.scheduler, *m.transport, m.random);
    m.dispatcher = std::make_unique<Dispatcher>(*m.scheduler, *m.transport, *m.node);
    m.loop = std::make_unique<RunLoop>(*m.scheduler, *m.transport);
    ASSERT_TRUE(m.node->InstallView(view).has_value());
    for (wire::GroupId g = 1; g <= 3; ++g) ASSERT_TRUE(m.node->Join(g).has_value());
    m.node->SetDeliveryHandler([&m](const Delivery& d) {
      uint64_t& last = m.last[{d.sender, d.group}];
      if (d.group_seq != last + 1) ++m.out_of_order;
      last = d.group_seq;
      ++m.delivered;
    });
  }
  CountingFeed feed(kCount);
  members[1].node->SetFeed(&feed);  // not the region leader: ACKs cross the network
  // Not a timed test: the nodes run until everyone has delivered everything (at most 60 s, on a
  // loaded machine under ASan), then 1 s more for the last ACK rounds.
  std::vector<std::thread> threads;
  threads.reserve(members.size());
  for (auto& m : members) threads.emplace_back([&m] { m.loop->Run(); });
  const auto all_delivered = [&] {
    return std::all_of(members.begin(), members.end(), [](const Member& m) { return m.delivered == kCount; });
  };
  for (const TimePoint give_up = clock.Now() + 60s; !all_delivered() && clock.Now() < give_up;)
    std::this_thread::sleep_for(20ms);
  std::this_thread::sleep_for(1s);
  for (auto& m : members) m.loop->Stop();
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < kNodes; ++i) {
    EXPECT_EQ(members[i].delivered, kCount) << "node " << i + 1;
    EXPECT_EQ(members[i].out_of_order, 0u) << "node " << i + 1;
  }
  const NodeStats sender = members[1].node->Snapshot();
  EXPECT_EQ(sender.pending_messages, 0u) << "every message acknowledged";
  EXPECT_GT(members[0].node->Snapshot().counter(Counter::kTokenRounds), 0u);
}

}  // namespace
}  // namespace qsm
