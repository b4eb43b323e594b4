#include "exporters/prometheus/node_metrics.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

namespace qsm::exporters {
namespace {

class NodeMetricsTest : public ::testing::Test {
 protected:
  std::string Text() { return prometheus::TextSerializer().Serialize(registry_.Collect()); }
  bool Has(const std::string& line) {
    const std::string text = Text();
    return text.find(line + "\n") != std::string::npos;
  }

  prometheus::Registry registry_;
  NodeMetrics metrics_{registry_, {{"node", "3"}, {"role", "sender"}}};
  NodeStats stats_;
};

TEST_F(NodeMetricsTest, GaugesFollowTheSnapshot) {
  stats_.pending_messages = 120;
  stats_.pending_bytes = 120000;
  stats_.cache_bytes = 4096;
  stats_.groups_joined = 7;
  stats_.regions = 1;
  stats_.io_queue_depths[static_cast<size_t>(IoClass::kInboundData)] = 33;
  metrics_.Update(stats_);
  EXPECT_TRUE(Has("qsm_pending_ack_bytes{node=\"3\",role=\"sender\"} 120000"));
  EXPECT_TRUE(Has("qsm_pending_ack_messages{node=\"3\",role=\"sender\"} 120"));
  EXPECT_TRUE(Has("qsm_cache_bytes{node=\"3\",role=\"sender\"} 4096"));
  EXPECT_TRUE(Has("qsm_groups{node=\"3\",role=\"sender\"} 7"));
  EXPECT_TRUE(Has("qsm_core_queue_depth{node=\"3\",queue=\"inbound_data\",role=\"sender\"} 33"));
  stats_.pending_bytes = 0;
  metrics_.Update(stats_);
  EXPECT_TRUE(Has("qsm_pending_ack_bytes{node=\"3\",role=\"sender\"} 0"));
}

TEST_F(NodeMetricsTest, CountersAddTheEnginesGrowthAndNeverGoBack) {
  stats_.counters[static_cast<size_t>(Counter::kMessagesDelivered)] = 100;
  stats_.counters[static_cast<size_t>(Counter::kRecoveryPull)] = 5;
  stats_.counters[static_cast<size_t>(Counter::kRingMembersSkipped)] = 2;
  metrics_.Update(stats_);
  stats_.counters[static_cast<size_t>(Counter::kMessagesDelivered)] = 250;
  metrics_.Update(stats_);
  EXPECT_TRUE(Has("qsm_messages_delivered_total{node=\"3\",role=\"sender\"} 250"));
  EXPECT_TRUE(Has("qsm_recovery_packets_total{kind=\"pull\",node=\"3\",role=\"sender\"} 5"));
  EXPECT_TRUE(Has("qsm_ring_members_skipped_total{node=\"3\",role=\"sender\"} 2"));
  stats_.counters[static_cast<size_t>(Counter::kMessagesDelivered)] = 0;  // a restarted engine
  metrics_.Update(stats_);
  EXPECT_TRUE(Has("qsm_messages_delivered_total{node=\"3\",role=\"sender\"} 250"));
}

TEST_F(NodeMetricsTest, HistogramsCarryTheNewObservationsInSecondBuckets) {
  for (int i = 0; i < 90; ++i) stats_.region_rtt_ns.Record(2'000'000);    // 2 ms
  for (int i = 0; i < 10; ++i) stats_.region_rtt_ns.Record(300'000'000);  // 300 ms
  metrics_.Update(stats_);
  metrics_.Update(stats_);  // nothing new: nothing added
  const std::string text = Text();
  EXPECT_NE(text.find("qsm_token_rtt_seconds_count{level=\"region\",node=\"3\",role=\"sender\"} 100"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find("qsm_token_rtt_seconds_bucket{level=\"region\",node=\"3\",role=\"sender\",le=\"0.0025\"} 90"),
      std::string::npos);
  EXPECT_NE(
      text.find("qsm_token_rtt_seconds_bucket{level=\"region\",node=\"3\",role=\"sender\",le=\"0.25\"} 90"),
      std::string::npos);
  EXPECT_NE(
      text.find("qsm_token_rtt_seconds_bucket{level=\"region\",node=\"3\",role=\"sender\",le=\"0.5\"} 100"),
      std::string::npos);
  EXPECT_NE(text.find("qsm_token_rtt_seconds_count{level=\"partition\",node=\"3\",role=\"sender\"} 0"),
            std::string::npos);
}

}  // namespace
}  // namespace qsm::exporters
