// NodeWorkload in a simulated cluster with a GMS: a sender's load waits for its groups' members,
// so a node that registers late (launched late, as Ansible or a loaded machine may do) still gets
// every message; and the wait is bounded when a member never comes.
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

class LateMemberTest : public ::testing::Test {
 protected:
  LateMemberTest()
      : cluster_(sim::ClusterConfig{.nodes = kNodes + 1, .seed = 5},
                 [this](sim::NodeContext& ctx) { return MakeHost(ctx); }),
        start_(cluster_.now() + 100ms) {
    for (uint32_t id = 1; id <= kNodes; ++id) plans_.push_back(MakePlan(id));
  }

  std::unique_ptr<PacketHandler> MakeHost(sim::NodeContext& ctx) {
    if (ctx.index == kNodes) {
      auto gms = std::make_unique<membership::Gms>(membership::GmsConfig{.failure_timeout = 1s}, ctx.scheduler,
                                                   ctx.transport, gms_state_);
      EXPECT_TRUE(gms->Start().has_value());
      return gms;
    }
    auto node = std::make_unique<Node>(NodeConfig{.id = static_cast<wire::NodeId>(ctx.index + 1)}, ctx.scheduler,
                                       ctx.transport, ctx.random);
    nodes_.push_back(node.get());
    return node;
  }

  // Every node joins group 1; node 1 sends to it and expects nodes 1-3 there.
  NodePlan MakePlan(uint32_t id) {
    NodePlan p;
    p.node_id = id;
    for (uint32_t m = 1; m <= kNodes; ++m) p.members.push_back({m, cluster_.endpoint(m - 1)});
    p.gms = cluster_.endpoint(kNodes);
    p.heartbeat = 100ms;
    p.joined = {1};
    if (id == 1) {
      p.send_groups = {1};
      p.group_members[1] = {1, 2, 3};
      p.await_members_for = 2s;
      p.rate = kRate;
      p.send_for = kSendFor;
    }
    p.seed = id;
    return p;
  }

  void StartWorkload(uint32_t id) {
    auto& w = workloads_[id - 1];
    w = std::make_unique<NodeWorkload>(plans_[id - 1], *nodes_[id - 1], cluster_.scheduler(id - 1), start_,
                                       NodeWorkload::Hooks{});
    ASSERT_TRUE(w->Start().has_value());
  }

  NodeResult Finish(uint32_t id) { return workloads_[id - 1]->Finish(cluster_.now(), "completed"); }

  membership::MemoryStore gms_state_;
  std::vector<Node*> nodes_;
  sim::Cluster cluster_;
  TimePoint start_;
  std::vector<NodePlan> plans_;
  std::unique_ptr<NodeWorkload> workloads_[kNodes];
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

}  // namespace
}  // namespace qsm::harness
