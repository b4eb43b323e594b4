#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "harness/workload/node_plan.h"
#include "harness/workload/node_result.h"

namespace qsm::harness {
namespace {

NodePlan SamplePlan() {
  NodePlan p;
  p.node_id = 2;
  p.members = {{1, Endpoint::FromOctets(127, 0, 0, 1, 7101)}, {2, Endpoint::FromOctets(127, 0, 0, 1, 7102)}};
  p.region_multicast = Endpoint::FromOctets(239, 255, 1, 1, 7400);
  p.interface_address = Endpoint::FromOctets(127, 0, 0, 1, 0).address;
  p.joined = {1, 2, 3};
  p.send_groups = {1, 2};
  p.rate = 5000;
  p.message_size = 1000;
  p.send_for = 20s;
  p.sleeps = {{5s, 5500ms}, {10s, 10500ms}};
  p.loss_bursts = {{1s, 1010ms}};
  p.loss_rate = 0.01;
  p.seed = 99;
  p.engine = "norm";
  return p;
}

TEST(NodePlanTest, RoundTripsThroughJson) {
  const NodePlan p = SamplePlan();
  auto back = PlanFromJson(PlanToJson(p));
  ASSERT_TRUE(back.has_value()) << back.error().ToString();
  EXPECT_EQ(back->node_id, 2u);
  EXPECT_EQ(back->members[1].endpoint, p.members[1].endpoint);
  EXPECT_EQ(back->region_multicast, p.region_multicast);
  EXPECT_EQ(back->interface_address, p.interface_address);
  EXPECT_EQ(back->joined, p.joined);
  EXPECT_EQ(back->send_groups, p.send_groups);
  EXPECT_EQ(back->send_for, 20s);
  EXPECT_EQ(back->sleeps, p.sleeps);
  EXPECT_EQ(back->loss_bursts, p.loss_bursts);
  EXPECT_DOUBLE_EQ(back->loss_rate, 0.01);
  EXPECT_EQ(back->seed, 99u);
  EXPECT_EQ(back->engine, "norm");
}

TEST(NodePlanTest, ErrorsNameTheKey) {
  std::string text = PlanToJson(SamplePlan());
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string t = text;
    t.replace(t.find(from), from.size(), to);
    return PlanFromJson(t);
  };
  auto bad_rate = replace("\"rate\": 5000.0", "\"rate\": \"fast\"");
  ASSERT_FALSE(bad_rate.has_value());
  EXPECT_NE(bad_rate.error().message.find("'rate'"), std::string::npos) << bad_rate.error().message;
  auto bad_group = replace("239.255.1.1:7400", "10.0.0.1:7400");
  ASSERT_FALSE(bad_group.has_value());
  EXPECT_NE(bad_group.error().message.find("region_multicast"), std::string::npos);
  auto not_member = replace("\"node_id\": 2", "\"node_id\": 7");
  ASSERT_FALSE(not_member.has_value());
  EXPECT_NE(not_member.error().message.find("node_id"), std::string::npos);
  EXPECT_FALSE(PlanFromJson("{not json").has_value());
  EXPECT_FALSE(PlanFromJson("[1, 2]").has_value());
  auto other_format = replace("qsm-node-plan/1", "qsm-node-plan/2");
  ASSERT_FALSE(other_format.has_value());
  EXPECT_NE(other_format.error().message.find("unknown format 'qsm-node-plan/2'"), std::string::npos)
      << other_format.error().message;
  auto unformatted = replace("\"format\": \"qsm-node-plan/1\",", "");
  ASSERT_FALSE(unformatted.has_value());
  EXPECT_NE(unformatted.error().message.find("'format'"), std::string::npos) << unformatted.error().message;
  auto bad_engine = replace("\"engine\": \"norm\"", "\"engine\": \"tcp\"");
  ASSERT_FALSE(bad_engine.has_value());
  EXPECT_NE(bad_engine.error().message.find("'engine' must be qsm, udp or norm, not 'tcp'"), std::string::npos);
}

TEST(NodeResultTest, RoundTripsThroughJson) {
  NodeResult r;
  r.node_id = 3;
  r.end = "stopped";
  r.elapsed_s = 12.5;
  r.first_delivery_s = 0.25;
  r.last_delivery_s = 12.0;
  r.sent = {{1, 500}, {2, 499}};
  StreamDeliveries& d = r.delivered[{1, 1}];
  for (uint64_t v : {1, 2, 3, 5, 6}) d.seqs.Insert(v);
  d.duplicates = 2;
  d.out_of_order = 1;
  for (uint64_t v = 1; v < 100000; v += 37) r.latency_ns.Record(v * 100);
  r.region_rtt_ns.Record(1'500'000);
  r.peak_pending_bytes = 1 << 20;
  r.cpu_seconds = 3.25;
  r.counters["token_rounds"] = 77;
  auto back = ResultFromJson(ResultToJson(r));
  ASSERT_TRUE(back.has_value()) << back.error().ToString();
  EXPECT_EQ(back->end, "stopped");
  EXPECT_EQ(back->sent, r.sent);
  EXPECT_EQ(back->sent_total(), 999u);
  const StreamDeliveries& e = back->delivered.at({1, 1});
  EXPECT_EQ(e.seqs.ranges(), d.seqs.ranges());
  EXPECT_EQ(e.duplicates, 2u);
  EXPECT_EQ(e.out_of_order, 1u);
  EXPECT_EQ(back->delivered_total(), 5u);
  EXPECT_EQ(back->latency_ns.Quantile(0.99), r.latency_ns.Quantile(0.99));
  EXPECT_EQ(back->region_rtt_ns.count(), 1u);
  EXPECT_EQ(back->peak_pending_bytes, size_t{1} << 20);
  EXPECT_DOUBLE_EQ(back->cpu_seconds, 3.25);
  EXPECT_EQ(back->counters.at("token_rounds"), 77u);
}

TEST(NodeResultTest, OverlappingRangesAndUnknownFormatsAreRejected) {
  NodeResult r;
  r.end = "completed";
  r.delivered[{1, 1}].seqs.Insert(1);
  const std::string text = ResultToJson(r);
  nlohmann::json j = nlohmann::json::parse(text);
  j["delivered"][0]["ranges"] = {{1, 5}, {3, 4}};
  auto bad = ResultFromJson(j.dump());
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("ranges"), std::string::npos) << bad.error().message;
  std::string other = text;
  other.replace(other.find("qsm-node-result/1"), 17, "qsm-node-result/9");
  EXPECT_FALSE(ResultFromJson(other).has_value());
}

TEST(TickTest, RoundTripsThroughOneJsonLine) {
  Tick t{.node_id = 4,
         .t_s = 3.0,
         .sent = 10,
         .delivered = 9,
         .pending_bytes = 4096,
         .token_rtt_p99_ms = 2.5,
         .sending = true};
  const std::string line = TickToJson(t);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto back = TickFromJson(line);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->delivered, 9u);
  EXPECT_EQ(back->pending_bytes, 4096u);
  EXPECT_TRUE(back->sending);
  EXPECT_DOUBLE_EQ(back->token_rtt_p99_ms, 2.5);
}

}  // namespace
}  // namespace qsm::harness
