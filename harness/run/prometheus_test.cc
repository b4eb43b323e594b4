// A real Prometheus (Debian's) in the loop: generated configs and the shipped rules pass promtool;
// a short local run is scraped, the data survives the run, and every rule's expression returns
// data from it.
#include "harness/run/prometheus.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "harness/run/launcher.h"

namespace qsm::harness {
namespace {

namespace fs = std::filesystem;

const std::string kRules = QSM_SOURCE_DIR "/exporters/prometheus/rules.yml";

std::string UrlEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

int Shell(const std::string& command) { return std::system((command + " > /dev/null 2>&1").c_str()); }

class PrometheusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("qsm-prometheus-test-" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(PrometheusTest, ShippedRulesPassPromtool) { EXPECT_EQ(Shell("promtool check rules " + kRules), 0); }

TEST_F(PrometheusTest, GeneratedConfigPassesPromtool) {
  fs::copy_file(kRules, dir_ / "rules.yml");
  std::ofstream(dir_ / "prometheus.yml")
      << PrometheusConfig({{"127.0.0.1:20051", {{"node", "1"}, {"role", "sender"}}},
                           {"198.18.1.2:7090", {{"node", "2"}, {"role", "receiver"}}}},
                          "127.0.0.1:20097", "rules.yml");
  EXPECT_EQ(Shell("promtool check config " + (dir_ / "prometheus.yml").string()), 0);
}

TEST_F(PrometheusTest, ARunIsScrapedAndEveryRuleExpressionReturnsData) {
  auto sc = ParseScenario(
      "name: scraped\nlauncher: local\nnodes: 3\nrate: 2000\nduration: 12s\nwarmup: 1s\ndrain: 10s\ngms: true\n"
      "faults: [{type: sleep, nodes: [3], every: 4s, for: 500ms}, {type: loss-burst, nodes: [2], every: 2s, for: "
      "20ms}]\n",
      "test.yaml");
  ASSERT_TRUE(sc.has_value());
  const auto wall_start = std::chrono::system_clock::now();
  auto record = RunProcesses(*sc, LaunchOptions{.node_binary = QSM_NODE_BINARY,
                                                .run_dir = dir_.string(),
                                                .progress = false,
                                                .prometheus = true,
                                                .rules_file = kRules});
  ASSERT_TRUE(record.has_value()) << record.error().message;
  const auto wall_end = std::chrono::system_clock::now();
  EXPECT_TRUE(CheckDeliveries(CheckInputOf(*record)).ok);
  ASSERT_FALSE(record->prometheus_url.empty());
  EXPECT_EQ(Shell("promtool check config " + (dir_ / "prometheus.yml").string()), 0);

  // The run is over; its data is in the folder. Look at it with a new server.
  auto server = PrometheusServer::Start((dir_ / "prometheus.yml").string(), (dir_ / "prometheus").string(),
                                        29990, (dir_ / "prometheus-after.log").string());
  ASSERT_TRUE(server.has_value()) << server.error().message;
  auto seconds = [](auto t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  };
  auto returns_data = [&](const std::string& expr) {
    auto body = HttpGet(29990, "/api/v1/query_range?query=" + UrlEncode(expr) +
                                   "&start=" + std::to_string(seconds(wall_start)) +
                                   "&end=" + std::to_string(seconds(wall_end)) + "&step=1");
    if (!body) return body.error().message;
    const auto j = nlohmann::json::parse(*body, nullptr, false);
    if (j.is_discarded() || j["status"] != "success") return "query failed: " + *body;
    return j["data"]["result"].empty() ? std::string("no data") : std::string();
  };
  // The metrics DESIGN.md names, as the nodes and the harness exported them.
  for (const char* expr :
       {"qsm_pending_ack_bytes", "qsm_cache_bytes", "qsm_token_rtt_seconds_bucket",
        "qsm_delivery_latency_seconds_count", "qsm_messages_delivered_total", "qsm_core_queue_depth",
        "qsm_timer_lateness_seconds_sum", "qsm_harness_fault_active{type=\"sleep\"}",
        "qsm_harness_fault_windows_total{type=\"sleep\"} >= 2", "qsm_harness_phase{phase=\"load\"} == 1",
        // The nodes' own fault metrics, for clusters whose harness is not scraped.
        "qsm_fault_windows_total{type=\"sleep\", node=\"3\"} >= 2",
        "qsm_fault_windows_total{type=\"loss-burst\", node=\"2\"} >= 4", "qsm_fault_active{type=\"loss\"}",
        // The node and role labels come from the scrape config, as target labels, not from the
        // nodes (which Prometheus would have renamed exported_node and exported_role).
        "qsm_pending_ack_bytes{job=\"qsm-node\", node=\"1\", role=\"sender\"}",
        "qsm_cache_bytes{node=\"3\", role=\"receiver\"}",
        // qsm-gms is scraped in harness runs.
        "up{job=\"qsm-gms\"} == 1", "qsm_gms_nodes == 3", "qsm_build_info{program=\"qsm-gms\"}"}) {
    EXPECT_EQ(returns_data(expr), "") << expr;
  }
  for (const char* expr : {"{exported_node!=\"\"}", "{exported_role!=\"\"}", "{__name__=~\"harness_.*\"}"}) {
    EXPECT_EQ(returns_data(expr), "no data") << expr << ": a series with a baked label or without the qsm_ prefix";
  }
  // Every rule: a recording rule's expression as is; an alert's without its threshold (the data
  // it compares), since a healthy run fires no alert.
  const YAML::Node rules = YAML::LoadFile(kRules);
  const std::regex threshold(R"(^([\s\S]*?)\s*(==|!=|>=|<=|>|<)\s*[-+0-9.e]+\s*$)");
  size_t checked = 0;
  for (const auto& group : rules["groups"]) {
    for (const auto& rule : group["rules"]) {
      std::string expr = rule["expr"].as<std::string>();
      std::smatch m;
      if (rule["alert"] && std::regex_match(expr, m, threshold)) expr = m[1];
      EXPECT_EQ(returns_data(expr), "")
          << (rule["alert"] ? rule["alert"] : rule["record"]).as<std::string>() << ": " << expr;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 10u);

  // Every expression of the Grafana dashboards, with the dashboard's variables set to "all".
  std::ifstream dashboard_file(QSM_SOURCE_DIR "/exporters/grafana/dashboards/qsm-overview.json");
  const auto dashboard = nlohmann::json::parse(dashboard_file);
  std::vector<std::string> exprs;
  for (const auto& panel : dashboard["panels"]) {
    for (const auto& target : panel["targets"]) exprs.push_back(target["expr"].get<std::string>());
  }
  for (const auto& annotation : dashboard["annotations"]["list"])
    exprs.push_back(annotation["target"]["expr"]);
  EXPECT_GE(exprs.size(), 15u);
  for (std::string expr : exprs) {
    for (const auto& [variable, value] : {std::pair{std::string("$node"), std::string(".*")},
                                          std::pair{std::string("$role"), std::string(".*")},
                                          std::pair{std::string("$__rate_interval"), std::string("5s")}}) {
      for (size_t at; (at = expr.find(variable)) != std::string::npos;)
        expr.replace(at, variable.size(), value);
    }
    EXPECT_EQ(returns_data(expr), "") << "dashboard: " << expr;
  }
}

}  // namespace
}  // namespace qsm::harness
