// NodeWorkload in a simulated cluster with a GMS: a sender's load waits for its groups' members,
// so a node that registers late (launched late, as Ansible or a loaded machine may do) still gets
// every message; and the wait is bounded when a member never comes. A load to several groups
// goes on to the others while one group's region is stuck.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "engine/membership/gms.h"
#include "engine/sim/sim_cluster.h"
#include "harness/workload/workload.h"

namespace qsm::harness {
namespace {

constexpr uint32_t kNodes = 3;
constexpr uint64_t kRate = 1000;
constexpr Duration kSendFor = 1s;

// Nodes 1-3 and a GMS; each test says what each node's plan is (MakePlan).
class SimWorkloadTest : public ::testing::Test {
 protected:
  explicit SimWorkloadTest(SenderWindow window = {})
      : window_(window),
        cluster_(sim::ClusterConfig{.nodes = kNodes + 1, .seed = 5},
                 [this](sim::NodeContext& ctx) { return MakeHost(ctx); }),
        start_(cluster_.now() + 100ms) {}

  virtual NodePlan MakePlan(uint32_t id) = 0;

  std::unique_ptr<PacketHandler> MakeHost(sim::NodeContext& ctx) {
    if (ctx.index == kNodes) {
      auto gms = std::make_unique<membership::Gms>(membership::GmsConfig{.failure_timeout = 3s}, ctx.scheduler,
                                                   ctx.transport, gms_state_);
      EXPECT_TRUE(gms->Start().has_value());
      return gms;
    }
    auto node = std::make_unique<Node>(
        NodeConfig{.id = static_cast<wire::NodeId>(ctx.index + 1), .window = window_}, ctx.scheduler,
        ctx.transport, ctx.random);
    nodes_.push_back(node.get());
    drivers_.push_back(std::make_unique<QsmDriver>(*node));
    return node;
  }

  // The parts of a plan every node has: the members, the GMS, the seed.
  NodePlan BasePlan(uint32_t id) {
    NodePlan p;
    p.node_id = id;
    for (uint32_t m = 1; m <= kNodes; ++m) p.members.push_back({m, cluster_.endpoint(m - 1)});
    p.gms = cluster_.endpoint(kNodes);
    p.heartbeat = 100ms;
    p.seed = id;
    return p;
  }

  void StartWorkload(uint32_t id) {
    plans_[id - 1] = MakePlan(id);
    auto& w = workloads_[id - 1];
    NodeWorkload::Hooks hooks{.stop_core = [this, id](TimePoint until) { cluster_.Sleep(id - 1, until); },
                              .on_tick = nullptr};
    w = std::make_unique<NodeWorkload>(plans_[id - 1], *drivers_[id - 1], cluster_.scheduler(id - 1), start_,
                                       std::move(hooks));
    ASSERT_TRUE(w->Start().has_value());
  }

  NodeResult Finish(uint32_t id) { return workloads_[id - 1]->Finish(cluster_.now(), "completed"); }

  SenderWindow window_;
  membership::MemoryStore gms_state_;
  std::vector<Node*> nodes_;
  std::vector<std::unique_ptr<QsmDriver>> drivers_;
  sim::Cluster cluster_;
  TimePoint start_;
  NodePlan plans_[kNodes];
  std::unique_ptr<NodeWorkload> workloads_[kNodes];
};

class LateMemberTest : public SimWorkloadTest {
 protected:
  // Every node joins group 1; node 1 sends to it and expects nodes 1-3 there.
  NodePlan MakePlan(uint32_t id) override {
    NodePlan p = BasePlan(id);
    p.joined = {1};
    if (id == 1) {
      p.send_groups = {1};
      p.group_members[1] = {1, 2, 3};
      p.await_members_for = 2s;
      p.rate = kRate;
      p.send_for = kSendFor;
    }
    return p;
  }
};

TEST_F(LateMemberTest, TheLoadWaitsForAMemberThatRegistersLate) {
  StartWorkload(1);
  StartWorkload(2);
  cluster_.RunUntil(start_ + 700ms);  // node 3's process starts 700 ms late
  EXPECT_EQ(workloads_[0]->sent(), 0u) << "the load began without node 3";
  EXPECT_TRUE(workloads_[0]->sending()) << "a load that waits has not ended";
  StartWorkload(3);
  cluster_.RunUntil(start_ + 700ms + kSendFor + 3s);

  const NodeResult sender = Finish(1);
  EXPECT_GE(sender.load_start_s, 0.7);
  EXPECT_LT(sender.load_start_s, 1.5);
  EXPECT_TRUE(sender.absent_at_load_start.empty());
  const uint64_t sent = sender.sent_total();
  EXPECT_EQ(sent, kRate * 1);
  for (uint32_t id = 1; id <= kNodes; ++id) {
    const NodeResult r = Finish(id);
    auto d = r.delivered.find({1, 1});
    ASSERT_NE(d, r.delivered.end()) << "node " << id << " delivered nothing";
    EXPECT_EQ(d->second.seqs.ranges(), (std::vector<std::pair<uint64_t, uint64_t>>{{1, sent}})) << "node " << id;
    EXPECT_EQ(d->second.out_of_order, 0u) << "node " << id;
  }
}

TEST_F(LateMemberTest, TheWaitEndsAfterAwaitMembersForAndNamesWhoWasAbsent) {
  StartWorkload(1);
  StartWorkload(2);  // node 3 never starts
  cluster_.RunUntil(start_ + 2s + kSendFor + 2s);

  const NodeResult sender = Finish(1);
  EXPECT_GE(sender.load_start_s, 2.0);
  EXPECT_LT(sender.load_start_s, 2.1);
  EXPECT_EQ(sender.absent_at_load_start, std::vector<uint32_t>{3});
  EXPECT_EQ(sender.sent_total(), kRate * 1);
  const NodeResult receiver = Finish(2);
  auto d = receiver.delivered.find({1, 1});
  ASSERT_NE(d, receiver.delivered.end());
  EXPECT_EQ(d->second.seqs.count(), sender.sent_total());
}

// Node 1 sends to groups 1 and 2 (2,000 msgs/s in all); node 2 is in group 1 only, node 3 in
// group 2 only, so each group has a region of its own. Node 3 sleeps for 1.5 s (under the GMS's
// failure timeout) and group 2's window (300 messages) fills: group 1 must go on meanwhile (with
// one feed that waits for its next message's group, it stalled with group 2), and group 2's
// waiting messages go when node 3 wakes. Every message is delivered, in order.
class StuckGroupTest : public SimWorkloadTest {
 protected:
  StuckGroupTest() : SimWorkloadTest(SenderWindow{.max_messages = 300}) {}
  NodePlan MakePlan(uint32_t id) override {
    NodePlan p = BasePlan(id);
    p.joined = id == 1 ? std::vector<uint32_t>{1, 2} : std::vector<uint32_t>{id - 1};
    if (id == 1) {
      p.send_groups = {1, 2};
      p.group_members = {{1, {1, 2}}, {2, {1, 3}}};
      p.rate = 2 * kRate;
      p.send_for = 3s;
    }
    if (id == 3) p.sleeps = {{.start = 500ms, .end = 2s}};
    return p;
  }
  uint64_t Delivered(uint32_t id) const { return nodes_[id - 1]->Snapshot().counter(Counter::kMessagesDelivered); }
};

TEST_F(StuckGroupTest, AStuckGroupHoldsBackOnlyItsOwnMessages) {
  for (uint32_t id = 1; id <= kNodes; ++id) StartWorkload(id);
  cluster_.RunUntil(start_ + 1s);  // node 3 sleeps, group 2's window is full
  const uint64_t group1_before = Delivered(2);
  const uint64_t group2_before = Delivered(3);
  cluster_.RunUntil(start_ + 1900ms);
  EXPECT_GT(Delivered(2) - group1_before, 600u) << "group 1 stalled behind group 2's full window";
  EXPECT_EQ(Delivered(3), group2_before);
  cluster_.RunUntil(start_ + 6s);

  const NodeResult sender = Finish(1);
  ASSERT_EQ(sender.sent.at(1), 3 * kRate);
  ASSERT_EQ(sender.sent.at(2), 3 * kRate);
  for (uint32_t group : {1u, 2u}) {
    const NodeResult r = Finish(group + 1);
    auto d = r.delivered.find({1, group});
    ASSERT_NE(d, r.delivered.end()) << "group " << group << " delivered nothing";
    EXPECT_EQ(d->second.seqs.ranges(), (std::vector<std::pair<uint64_t, uint64_t>>{{1, 3 * kRate}}))
        << "group " << group;
    EXPECT_EQ(d->second.out_of_order, 0u) << "group " << group;
  }
  // Group 2's messages waited with their intended send times: the latency shows the sleep.
  EXPECT_GT(nodes_[2]->Snapshot().delivery_latency_ns.Quantile(0.99), uint64_t{800'000'000});
}

}  // namespace
}  // namespace qsm::harness
