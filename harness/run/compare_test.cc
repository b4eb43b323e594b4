#include "harness/run/compare.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace qsm::harness {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json Summary(double throughput, double p99, bool ok, int repetition = 0) {
  return json{{"format", "qsm-run-summary/1"},
              {"check", {{"ok", ok}}},
              {"throughput", {{"msgs_per_s", {{"min", throughput}}}}},
              {"latency", {{"p50_ms", 1.0}, {"p99_ms", p99}}},
              {"token_rtt", {{"region", {{"p50_ms", 2.0}, {"p99_ms", 4.0}}}}},
              {"peak_pending_ack", {{"bytes", 1000}}},
              {"repeat", repetition == 0 ? json(nullptr) : json{{"index", repetition}, {"of", 3}}}};
}

class CompareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("qsm-compare-test-" + std::to_string(::getpid()));
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  // Writes RESULTS/RUN/summary.json.
  std::string Write(const std::string& results, const std::string& run, const json& summary) {
    const fs::path dir = root_ / results / run;
    fs::create_directories(dir);
    std::ofstream(dir / "summary.json") << summary.dump();
    return (root_ / results).string();
  }
  ResultSet Load(const std::string& folder) {
    auto set = LoadResultSet(folder);
    EXPECT_TRUE(set) << set.error().ToString();
    return set ? *set : ResultSet{};
  }
  fs::path root_;
};

TEST_F(CompareTest, MatchesRunsByNameAndPrintsRatiosAgainstTheFirst) {
  const auto a = Write("a", "1-baseline", Summary(1000, 10, true));
  Write("a", "2-sleep", Summary(800, 50, true));
  const auto b = Write("b", "1-baseline", Summary(900, 12, true));
  Write("b", "2-sleep", Summary(880, 40, true));
  const Comparison c = Compare({Load(a), Load(b)}, {});
  EXPECT_TRUE(c.regressions.empty());
  EXPECT_NE(c.table.find("baseline\n"), std::string::npos) << c.table;
  EXPECT_NE(c.table.find("sleep\n"), std::string::npos) << c.table;
  EXPECT_NE(c.table.find("0.90"), std::string::npos) << c.table;  // baseline throughput 900/1000
  EXPECT_NE(c.table.find("1.10"), std::string::npos) << c.table;  // sleep throughput 880/800
  EXPECT_NE(c.table.find("1.20"), std::string::npos) << c.table;  // baseline p99 12/10
  EXPECT_LT(c.table.find("baseline"), c.table.find("sleep"));
  // One run's folder, named with a trailing slash, is a set of that one run.
  const ResultSet one = Load(a + "/2-sleep/");
  ASSERT_EQ(one.run_order, std::vector<std::string>{"sleep"});
}

TEST_F(CompareTest, RunsAreInTheirSuiteOrderPastNine) {
  for (int i = 1; i <= 11; ++i) Write("a", std::to_string(i) + "-run" + std::to_string(i), Summary(i, 1, true));
  const ResultSet set = Load((root_ / "a").string());
  ASSERT_EQ(set.run_order.size(), 11U);
  EXPECT_EQ(set.run_order[1], "run2");
  EXPECT_EQ(set.run_order[10], "run11");
}

TEST_F(CompareTest, ThresholdsMakeRegressionsInTheRightDirection) {
  const auto a = Write("a", "1-baseline", Summary(1000, 10, true));
  const auto b = Write("b", "1-baseline", Summary(850, 12, true));  // 15% slower, p99 20% worse
  CompareOptions options;
  ASSERT_TRUE(ParseMaxRegression("throughput=10%", options));
  ASSERT_TRUE(ParseMaxRegression("latency_p99=0.25", options));
  Comparison c = Compare({Load(a), Load(b)}, options);
  ASSERT_EQ(c.regressions.size(), 1U) << c.table;
  EXPECT_NE(c.regressions[0].find("throughput"), std::string::npos);
  EXPECT_NE(c.regressions[0].find("0.85"), std::string::npos) << c.regressions[0];
  // Better is never a regression: swap the sets.
  EXPECT_TRUE(Compare({Load(b), Load(a)}, options).regressions.empty());
  ASSERT_TRUE(ParseMaxRegression("latency_p99=19%", options));
  c = Compare({Load(a), Load(b)}, options);
  EXPECT_EQ(c.regressions.size(), 2U);
}

TEST_F(CompareTest, ACheckThatNewlyFailsIsAlwaysARegression) {
  const auto a = Write("a", "1-baseline", Summary(1000, 10, true));
  const auto b = Write("b", "1-baseline", Summary(1000, 10, false));
  const Comparison c = Compare({Load(a), Load(b)}, {});
  ASSERT_EQ(c.regressions.size(), 1U);
  EXPECT_NE(c.regressions[0].find("fails in B"), std::string::npos);
  EXPECT_NE(c.table.find("FAILED"), std::string::npos);
  EXPECT_TRUE(Compare({Load(b), Load(a)}, {}).regressions.empty());
}

TEST_F(CompareTest, RepetitionsArePooledAsMedianAndSpread) {
  const auto a = Write("a", "1-baseline-rep=1", Summary(1000, 10, true, 1));
  Write("a", "2-baseline-rep=2", Summary(1200, 10, true, 2));
  Write("a", "3-baseline-rep=3", Summary(900, 10, false, 3));
  const auto b = Write("b", "baseline", Summary(1100, 10, true));
  const ResultSet set = Load(a);
  ASSERT_EQ(set.run_order.size(), 1U);
  EXPECT_EQ(set.runs.at("baseline").size(), 3U);
  const Comparison c = Compare({set, Load(b)}, {});
  EXPECT_NE(c.table.find("1000 [900-1200]"), std::string::npos) << c.table;
  EXPECT_NE(c.table.find("2/3 OK"), std::string::npos) << c.table;
  EXPECT_NE(c.table.find("1.10"), std::string::npos) << c.table;  // 1100 / median 1000
}

TEST_F(CompareTest, ARunMissingFromASetIsShownNotCounted) {
  const auto a = Write("a", "1-baseline", Summary(1000, 10, true));
  Write("a", "2-sleep", Summary(800, 10, true));
  const auto b = Write("b", "1-baseline", Summary(1000, 10, true));
  CompareOptions options;
  ASSERT_TRUE(ParseMaxRegression("throughput=0", options));
  const Comparison c = Compare({Load(a), Load(b)}, options);
  EXPECT_TRUE(c.regressions.empty());
  EXPECT_NE(c.table.find("absent"), std::string::npos) << c.table;
}

TEST_F(CompareTest, SaysWhichBuildRanAndWarnsOfASanitizerOrDebugBuild) {
  json release = Summary(1000, 10, true);
  release["build"]["nodes"] = json::array({{{"revision", "abc123"}, {"build_type", "Release"}, {"sanitizers", "none"}}});
  json asan = Summary(300, 40, true);
  asan["build"]["nodes"] =
      json::array({{{"revision", "abc123"}, {"build_type", "Debug"}, {"sanitizers", "address,undefined"}}});
  const auto a = Write("a", "1-baseline", release);
  const auto b = Write("b", "1-baseline", asan);
  const auto c = Write("c", "1-baseline", Summary(1000, 10, true));
  const Comparison cmp = Compare({Load(a), Load(b), Load(c)}, {});
  const std::string& t = cmp.table;
  const size_t line_b = t.find("B: ");
  ASSERT_NE(line_b, std::string::npos) << t;
  EXPECT_NE(t.find("(nodes: Release, abc123)"), std::string::npos) << t;
  EXPECT_NE(t.find("(nodes: Debug with address,undefined, abc123)"), std::string::npos) << t;
  EXPECT_NE(t.find("warning", line_b), std::string::npos) << t;
  EXPECT_EQ(t.find("warning"), t.find("warning", line_b)) << "A is a release build: " << t;
  EXPECT_NE(t.find("(nodes' build not recorded)"), std::string::npos) << t;
}

TEST_F(CompareTest, RefusesWhatItCannotRead) {
  EXPECT_FALSE(LoadResultSet((root_ / "empty").string()));
  fs::create_directories(root_ / "empty");
  auto none = LoadResultSet((root_ / "empty").string());
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("no summary.json"), std::string::npos);
  json future = Summary(1, 1, true);
  future["format"] = "qsm-run-summary/2";
  auto newer = LoadResultSet(Write("future", "1-x", future));
  ASSERT_FALSE(newer);
  EXPECT_NE(newer.error().message.find("qsm-run-summary/2"), std::string::npos);
  json odd = Summary(1, 1, true);
  odd["format"] = 1;
  auto numbered = LoadResultSet(Write("odd", "1-x", odd));
  ASSERT_FALSE(numbered);
  EXPECT_NE(numbered.error().message.find("format ''"), std::string::npos) << numbered.error().message;
  // Well-formed but odd fields read as failed or unknown, never as a crash.
  json strange = Summary(1, 1, true);
  strange["check"] = "yes";
  strange["build"]["nodes"] = json::array({7, {{"build_type", 3}}});
  const Comparison c = Compare({Load(Write("s1", "1-x", strange)), Load(Write("s2", "1-x", strange))}, {});
  EXPECT_NE(c.table.find("FAILED"), std::string::npos) << c.table;
  EXPECT_NE(c.table.find("(nodes: ? with ?, ?)"), std::string::npos) << c.table;
  fs::create_directories(root_ / "bad" / "1-x");
  std::ofstream(root_ / "bad" / "1-x" / "summary.json") << "{not json";
  auto bad = LoadResultSet((root_ / "bad").string());
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("not valid JSON"), std::string::npos);

  CompareOptions options;
  EXPECT_FALSE(ParseMaxRegression("speed=10%", options));
  EXPECT_FALSE(ParseMaxRegression("throughput", options));
  EXPECT_FALSE(ParseMaxRegression("throughput=-1", options));
  EXPECT_FALSE(ParseMaxRegression("throughput=ten", options));
  EXPECT_TRUE(options.max_regression.empty());
}

}  // namespace
}  // namespace qsm::harness
