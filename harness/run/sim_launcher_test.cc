#include <gtest/gtest.h>

#include <filesystem>

#include "harness/run/launcher.h"

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
  std::string why;
  for (const auto& v : check.violations) why += v + "\n";
  for (const auto& i : record->incidents) why += i + "\n";
  EXPECT_TRUE(check.ok && record->incidents.empty()) << why;
  EXPECT_EQ(check.sent, 800u);
  EXPECT_EQ(check.receivers.size(), 199u);  // node 120 crashed
  EXPECT_EQ(check.delivered, 199u * 800u);
  EXPECT_EQ(record->crashed, (std::set<uint32_t>{120}));
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
