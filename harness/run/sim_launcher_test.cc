#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "harness/run/launcher.h"
#include "harness/workload/text.h"

namespace qsm::harness {
namespace {

Scenario Make(uint32_t nodes, const std::string& faults, uint64_t seed = 7) {
  auto sc = ParseScenario("name: sim\nlauncher: sim\nnodes: " + std::to_string(nodes) +
                              "\nsenders: 2\nrate: 200\nduration: 2s\nwarmup: 500ms\nseed: " +
                              std::to_string(seed) + "\nfaults: " + faults + "\n",
                          "test.yaml");
  EXPECT_TRUE(sc.has_value()) << sc.error().message;
  return *sc;
}

// Every violation and incident of a run, one a line (what a failed expectation prints).
std::string Why(const RunRecord& record, const CheckReport& check) {
  std::string why;
  for (const auto& v : check.violations) why += v + "\n";
  for (const auto& i : record.incidents) why += i + "\n";
  return why;
}

nlohmann::json SummaryOf(const Scenario& sc) {
  auto record = RunSimulation(sc, LaunchOptions{.progress = false});
  EXPECT_TRUE(record.has_value()) << record.error().message;
  nlohmann::json s = BuildSummary(*record, CheckDeliveries(CheckInputOf(*record)));
  for (const char* wall_clock : {"started_at", "wall_seconds", "git_revision", "machine"})
    s.erase(wall_clock);
  return s;
}

TEST(SimLauncherTest, TwoHundredNodesWithFaultsPassTheCheck) {
  const Scenario sc =
      Make(200,
           "[{type: sleep, nodes: [7], every: 1s, for: 300ms}, {type: loss-burst, nodes: [50], every: "
           "500ms, for: 10ms}, {type: crash, nodes: [120], at: 1s}, {type: loss, nodes: [3], rate: 0.01}, "
           "{type: partition, nodes: [150, 151], at: 1200ms, for: 300ms}]");
  auto record = RunSimulation(sc, LaunchOptions{.progress = false});
  ASSERT_TRUE(record.has_value()) << record.error().message;
  const CheckReport check = CheckDeliveries(CheckInputOf(*record));
  EXPECT_TRUE(check.ok && record->incidents.empty()) << Why(*record, check);
  EXPECT_EQ(check.sent, 800u);
  EXPECT_EQ(check.receivers.size(), 199u);  // node 120 crashed
  EXPECT_EQ(check.delivered, 199u * 800u);
  EXPECT_EQ(record->crashed, (std::set<uint32_t>{120}));
}

TEST(SimLauncherTest, WithTheGmsZipfGroupsSpanRegionsAndACrashIsFound) {
  auto sc = ParseScenario(
      "name: sim\nlauncher: sim\nnodes: 30\ngroups: 20\nmembership: {pattern: zipf, fraction: 0.3}\n"
      "senders: 3\nrate: 200\nduration: 3s\nwarmup: 500ms\nseed: 4\ngms: {failure_timeout: 500ms}\n"
      "faults: [{type: crash, nodes: [20], at: 1500ms}, {type: loss-burst, nodes: [7], every: 500ms, for: "
      "10ms}]\n",
      "test.yaml");
  ASSERT_TRUE(sc.has_value()) << sc.error().message;
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("qsm-sim-gms-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto record = RunSimulation(*sc, LaunchOptions{.run_dir = dir.string(), .progress = false});
  ASSERT_TRUE(record.has_value()) << record.error().message;
  const CheckReport check = CheckDeliveries(CheckInputOf(*record));
  EXPECT_TRUE(check.ok && record->incidents.empty()) << Why(*record, check);
  EXPECT_EQ(record->crashed, (std::set<uint32_t>{20}));
  EXPECT_GT(check.expected, 0u);
  EXPECT_EQ(check.delivered, check.expected);
  auto log = ReadFile((dir / "gms.log").string());
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(log.has_value());
  EXPECT_NE(log->find("node 20 removed"), std::string::npos) << *log;
  // More than one region: some group's members differ in their other groups.
  EXPECT_NE(log->find("region 2 view 1"), std::string::npos) << *log;
}

TEST(SimLauncherTest, SameSeedSameSummaryOtherSeedOtherRun) {
  const std::string faults =
      "[{type: pause, nodes: [3], every: 500ms, for: 100ms, random: true}, {type: loss, nodes: all, rate: "
      "0.02}]";
  const nlohmann::json a = SummaryOf(Make(20, faults, 7));
  EXPECT_EQ(a, SummaryOf(Make(20, faults, 7)));
  EXPECT_NE(a, SummaryOf(Make(20, faults, 8)));
  EXPECT_TRUE(a["check"]["ok"].get<bool>());
}

}  // namespace
}  // namespace qsm::harness
