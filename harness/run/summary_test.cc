// A results folder written from a run reads back into the same delivery check, and its files
// hold what RESULTS.md says.
#include "harness/run/summary.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include "harness/run/launcher.h"
#include "harness/workload/text.h"

namespace qsm::harness {
namespace {

namespace fs = std::filesystem;

class SummaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("qsm-summary-test-" + std::to_string(getpid()))).string();
    auto sc = ParseScenario(
        "name: s\nlauncher: sim\nnodes: 4\nsenders: 2\ngroups: 3\nrate: 500\nduration: 2s\nwarmup: 500ms\n"
        "faults: [{type: loss-burst, nodes: [3], every: 700ms, for: 20ms}, {type: crash, nodes: [4], at: "
        "1s}]\n",
        "test.yaml");
    ASSERT_TRUE(sc.has_value()) << sc.error().message;
    auto record = RunSimulation(*sc, LaunchOptions{.progress = false});
    ASSERT_TRUE(record.has_value());
    record_ = std::move(*record);
    check_ = CheckDeliveries(CheckInputOf(record_));
    ASSERT_TRUE(WriteRunFolder(dir_, record_, check_).has_value());
  }
  void TearDown() override { fs::remove_all(dir_); }
  static std::string Read(const std::string& path) { return ReadFile(path).value_or(""); }

  std::string dir_;
  RunRecord record_;
  CheckReport check_;
};

TEST_F(SummaryTest, TheFolderReadsBackIntoTheSameCheck) {
  ASSERT_TRUE(check_.ok);
  auto back = ReadRunFolder(dir_);
  ASSERT_TRUE(back.has_value()) << back.error().message;
  const CheckReport again = CheckDeliveries(CheckInputOf(*back));
  EXPECT_TRUE(again.ok);
  EXPECT_EQ(again.expected, check_.expected);
  EXPECT_EQ(again.delivered, check_.delivered);
  EXPECT_EQ(back->crashed, (std::set<uint32_t>{4}));
}

TEST_F(SummaryTest, ALostNodeFileFailsTheCheckFromTheFolder) {
  fs::remove(dir_ + "/nodes/node-2.json");
  auto back = ReadRunFolder(dir_);
  ASSERT_TRUE(back.has_value());
  const CheckReport again = CheckDeliveries(CheckInputOf(*back));
  EXPECT_FALSE(again.ok);
  EXPECT_EQ(again.violations.front(), "node 2 wrote no result file (it exited or was killed unexpectedly)");
}

// `check` refuses what `compare` and `report` refuse: a summary of another format.
TEST_F(SummaryTest, ASummaryOfAnotherFormatIsNotRead) {
  std::string text = Read(dir_ + "/summary.json");
  text.replace(text.find("qsm-run-summary/1"), 17, "qsm-run-summary/2");
  ASSERT_TRUE(WriteFile(dir_ + "/summary.json", text).has_value());
  auto back = ReadRunFolder(dir_);
  ASSERT_FALSE(back.has_value());
  EXPECT_NE(back.error().message.find("format 'qsm-run-summary/2' is not one this qsm-harness reads"),
            std::string::npos)
      << back.error().message;
}

TEST_F(SummaryTest, FilesHoldTheDocumentedFields) {
  const nlohmann::json s = nlohmann::json::parse(Read(dir_ + "/summary.json"));
  for (const char* key : {"check", "scenario", "git_revision", "machine", "started_at", "messages",
                          "throughput", "latency", "token_rtt", "peak_pending_ack", "peak_cache_bytes",
                          "recovery_packets", "cpu_seconds", "timer_lateness", "fault_windows", "nodes"}) {
    EXPECT_TRUE(s.contains(key)) << key;
  }
  EXPECT_EQ(s["messages"]["sent"].get<uint64_t>(), 2000u);             // 2 senders x 500/s x 2 s
  EXPECT_GT(s["throughput"]["msgs_per_s"]["min"].get<double>(), 900);  // 1000 msgs/s in all
  const std::string timeseries = Read(dir_ + "/timeseries.csv");
  EXPECT_EQ(timeseries.substr(0, timeseries.find('\n')),
            "t_s,node,delivered_per_s,sent_per_s,pending_messages,pending_bytes,cache_bytes,token_rtt_p50_ms,"
            "token_rtt_p99_ms,latency_p50_ms,latency_p99_ms,faults");
  const std::string faults = Read(dir_ + "/faults.csv");
  EXPECT_NE(faults.find("loss-burst,3,0.7,0.72,process"), std::string::npos) << faults;
  EXPECT_NE(faults.find("crash,4,1,1,signal"), std::string::npos) << faults;
  EXPECT_NE(Read(dir_ + "/cluster.csv").find("loss-burst@3"), std::string::npos);
  EXPECT_NE(Read(dir_ + "/latency_percentiles.csv").find("\n50,"), std::string::npos);
  for (const char* hgrm : {"/latency.hgrm", "/token_rtt.hgrm", "/timer_lateness.hgrm"}) {
    const std::string text = Read(dir_ + hgrm);
    EXPECT_EQ(text.rfind("       Value     Percentile TotalCount 1/(1-Percentile)\n\n", 0), 0U) << hgrm;
    EXPECT_NE(text.find("#[Mean"), std::string::npos) << hgrm << " has no data";
  }
}

// The .hgrm rows: HdrHistogram's percentile ticks, values and counts that never decrease, the
// last row at percentile 1 with every value counted, and the footer's count and max.
TEST(PercentileDistributionTest, IsHdrHistogramsPercentileFormat) {
  Histogram h;
  for (uint64_t i = 1; i <= 10000; ++i) h.Record(i * 1000);  // 1 us .. 10 ms, uniform
  const std::string text = PercentileDistribution(h);
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "       Value     Percentile TotalCount 1/(1-Percentile)");
  std::getline(in, line);
  EXPECT_EQ(line, "");
  std::vector<std::tuple<double, double, uint64_t>> rows;
  while (std::getline(in, line) && line[0] != '#') {
    double value = 0, percentile = 0;
    unsigned long long count = 0;
    ASSERT_GE(std::sscanf(line.c_str(), "%lf %lf %llu", &value, &percentile, &count), 3) << line;
    rows.emplace_back(value, percentile, count);
  }
  ASSERT_GT(rows.size(), 40U);
  const std::vector<double> first_ticks{0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.775};
  for (size_t i = 0; i < first_ticks.size(); ++i) EXPECT_NEAR(std::get<1>(rows[i]), first_ticks[i], 1e-9) << i;
  for (size_t i = 1; i < rows.size(); ++i) {
    EXPECT_GE(std::get<0>(rows[i]), std::get<0>(rows[i - 1])) << i;
    EXPECT_GT(std::get<1>(rows[i]), std::get<1>(rows[i - 1])) << i;
    EXPECT_GE(std::get<2>(rows[i]), std::get<2>(rows[i - 1])) << i;
  }
  EXPECT_NEAR(std::get<0>(rows[5]), 5.0, 5.0 * 0.04);  // the median: 5 ms within a bucket's width
  EXPECT_DOUBLE_EQ(std::get<1>(rows.back()), 1.0);
  EXPECT_EQ(std::get<2>(rows.back()), 10000U);
  EXPECT_NE(text.find("Total count    =        10000]"), std::string::npos) << text;
  EXPECT_NE(text.find("#[Mean    =        5.000"), std::string::npos) << text;  // exact: from the sum
  EXPECT_EQ(PercentileDistribution(Histogram()).find("Total count    =            0]") != std::string::npos, true);
}

}  // namespace
}  // namespace qsm::harness

namespace qsm::harness {
namespace {

nlohmann::json EngineSummary(const std::string& name, const std::string& kind, double rate, double delivered,
                             bool ok) {
  return {{"scenario", {{"name", name}, {"engine", {{"kind", kind}}}}},
          {"messages", {{"expected", 1000}, {"delivered", delivered}}},
          {"throughput", {{"msgs_per_s", {{"min", rate}}}}},
          {"latency", {{"p99_ms", 2.5}}},
          {"check", {{"ok", ok}}}};
}

TEST(EnginesTableTest, PairsRunsByNameWithoutTheEngineAndShowsEachEngine) {
  const std::vector<nlohmann::json> summaries = {
      EngineSummary("baseline-qsm", "qsm", 600000, 1000, true),
      EngineSummary("baseline-norm", "norm", 20000, 1000, true),
      EngineSummary("baseline-udp", "udp", 50000, 875, true),
      EngineSummary("sleep-qsm", "qsm", 500000, 1000, true),
      EngineSummary("sleep-udp", "udp", 40000, 500, true),
  };
  const std::vector<std::string> lines = EnginesTable(summaries);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].find("run"), 0u);
  EXPECT_LT(lines[0].find("qsm"), lines[0].find("norm"));
  EXPECT_LT(lines[0].find("norm"), lines[0].find("udp"));
  EXPECT_EQ(lines[2].find("baseline "), 0u) << lines[2];
  EXPECT_NE(lines[2].find("600000"), std::string::npos);
  EXPECT_NE(lines[2].find("87.50%"), std::string::npos) << lines[2];
  EXPECT_EQ(lines[3].find("sleep "), 0u);
  EXPECT_NE(lines[3].find(" -  "), std::string::npos) << "sleep has no norm run: " << lines[3];
  EXPECT_NE(lines[3].find("50.00%"), std::string::npos);
  // One engine: no side-by-side table.
  EXPECT_TRUE(EnginesTable({summaries[0], summaries[3]}).empty());
  // A run from before engine drivers (no scenario.engine) ran QSM.
  nlohmann::json old = summaries[0];
  old["scenario"].erase("engine");
  EXPECT_EQ(EngineKindOf(old), "qsm");
  EXPECT_EQ(EnginesTable({old, summaries[2]}).size(), 3u);
}

}  // namespace
}  // namespace qsm::harness
