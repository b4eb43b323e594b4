#include "harness/scenario/scenario.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace qsm::harness {
namespace {

const char* const kFull = R"(name: sleep-one-receiver
launcher: local
nodes: 8
groups: 3
membership: {pattern: all}
senders: 2
message_size: 500
rate: 2000
duration: 30s
warmup: 5s
seed: 42
engine: {token_rate: 10, replication: 3, window: adaptive, window_mb: 16, window_messages: 5000, datagram_bytes: 1472}
faults:
  - {type: sleep, nodes: [3], every: 5s, for: 500ms}
  - {type: loss-burst, nodes: [4], every: 1s, for: 10ms}
  - {type: loss, nodes: all, rate: 0.01}
  - {type: pause, nodes: [2], every: 5s, for: 500ms, random: true}
  - {type: crash, nodes: [5], at: 12s}
sweep: {nodes: [6, 8]}
)";

// The error message for `text`, which must fail to parse.
std::string ErrorOf(const std::string& text, const Overrides& overrides = {}) {
  auto sc = ParseScenario(text, "test.yaml", overrides);
  EXPECT_FALSE(sc.has_value()) << "parsed: " << text;
  return sc ? "" : sc.error().message;
}

TEST(ScenarioTest, EveryDesignKeyParsesWithItsMeaning) {
  auto sc = ParseScenario(kFull, "test.yaml");
  ASSERT_TRUE(sc.has_value()) << sc.error().message;
  EXPECT_EQ(sc->name, "sleep-one-receiver");
  EXPECT_EQ(sc->nodes, 8u);
  EXPECT_EQ(sc->groups, 3u);
  EXPECT_EQ(sc->senders, 2u);
  EXPECT_EQ(sc->message_size, 500u);
  EXPECT_DOUBLE_EQ(sc->rate, 2000);
  EXPECT_EQ(sc->duration, 30s);
  EXPECT_EQ(sc->warmup, 5s);
  EXPECT_EQ(sc->seed, 42u);
  EXPECT_DOUBLE_EQ(sc->engine.token_rate, 10);
  EXPECT_EQ(sc->engine.replication, 3u);
  EXPECT_EQ(sc->engine.window, "adaptive");
  EXPECT_EQ(sc->engine.window_messages, 5000u);
  EXPECT_EQ(sc->engine.window_mb, 16u);
  EXPECT_EQ(sc->engine.datagram_bytes, 1472u);
  ASSERT_EQ(sc->faults.size(), 5u);
  EXPECT_EQ(sc->faults[0].type, FaultType::kSleep);
  EXPECT_EQ(sc->faults[0].schedule.kind, faults::Schedule::Kind::kPeriodic);
  EXPECT_EQ(sc->faults[0].schedule.length, 500ms);
  EXPECT_EQ(sc->faults[2].nodes.size(), 8u);  // all
  EXPECT_EQ(sc->faults[2].schedule.kind, faults::Schedule::Kind::kAlways);
  EXPECT_EQ(sc->faults[3].schedule.kind, faults::Schedule::Kind::kPoisson);
  EXPECT_EQ(sc->faults[4].schedule.kind, faults::Schedule::Kind::kAt);
  EXPECT_EQ(sc->faults[4].line, 18);
  EXPECT_EQ(sc->sweep.at("nodes"), (std::vector<std::string>{"6", "8"}));
}

TEST(ScenarioTest, RateMaxMeansUnpaced) {
  auto sc = ParseScenario("name: x\nrate: max\n", "t.yaml");
  ASSERT_TRUE(sc.has_value());
  EXPECT_EQ(sc->rate, 0);
}

TEST(ScenarioTest, TheDefaultWindowIsFixedInBytesAndItsKeysAreChecked) {
  auto sc = ParseScenario("name: a\nnodes: 2\nengine: {token_rate: 5}\n", "test.yaml");
  ASSERT_TRUE(sc.has_value()) << sc.error().message;
  EXPECT_EQ(sc->engine.window, "fixed");
  EXPECT_EQ(sc->engine.window_messages, 0u);
  EXPECT_EQ(sc->engine.window_mb, 20u);
  EXPECT_EQ(sc->engine.datagram_bytes, 8972u);
  EXPECT_NE(ErrorOf("name: a\nnodes: 2\nengine: {datagram_bytes: 65000}\n").find("engine.datagram_bytes"),
            std::string::npos);
  EXPECT_NE(ErrorOf("name: a\nnodes: 2\nengine: {window_mb: 0}\n").find("engine.window_mb"), std::string::npos);
  EXPECT_NE(ErrorOf("name: a\nnodes: 2\nengine: {window: bdp}\n").find("engine.window"), std::string::npos);
}

TEST(ScenarioTest, AuthenticationIsOnUnlessTheScenarioTurnsItOff) {
  auto on = ParseScenario("name: a\nnodes: 2\n", "test.yaml");
  ASSERT_TRUE(on.has_value());
  EXPECT_TRUE(on->engine.auth);
  auto off = ParseScenario("name: a\nnodes: 2\nengine: {auth: false}\n", "test.yaml");
  ASSERT_TRUE(off.has_value()) << off.error().message;
  EXPECT_FALSE(off->engine.auth);
  const std::string error = ErrorOf("name: a\nnodes: 2\nengine: {auth: maybe}\n");
  EXPECT_NE(error.find("engine.auth"), std::string::npos) << error;
  EXPECT_NE(error.find("must be true or false"), std::string::npos) << error;
}

TEST(ScenarioTest, TheEngineIsQsmUnlessTheScenarioNamesAnotherThatCanRunIt) {
  auto qsm = ParseScenario("name: a\nnodes: 2\n", "test.yaml");
  ASSERT_TRUE(qsm.has_value());
  EXPECT_EQ(qsm->engine.kind, "qsm");
  auto udp = ParseScenario("name: a\nnodes: 2\nengine: {kind: udp}\n", "test.yaml");
  ASSERT_TRUE(udp.has_value()) << udp.error().message;
  EXPECT_EQ(udp->engine.kind, "udp");
  EXPECT_TRUE(udp->engine.auth) << "raw UDP datagrams carry the MAC like QSM's";
  auto norm = ParseScenario("name: a\nnodes: 2\n", "test.yaml", {{"engine.kind", "norm"}});
  ASSERT_TRUE(norm.has_value()) << norm.error().message;
  EXPECT_EQ(norm->engine.kind, "norm");
  EXPECT_FALSE(norm->engine.auth) << "NORM does not take the cluster key";
  auto sim_udp = ParseScenario("name: a\nnodes: 2\nlauncher: sim\nengine: {kind: udp}\n", "test.yaml");
  EXPECT_TRUE(sim_udp.has_value());
  for (const auto& [text, expected] : std::vector<std::pair<std::string, std::string>>{
           {"engine: {kind: tcp}", "test.yaml:3: 'engine.kind': must be one of qsm | norm | udp, not 'tcp'"},
           {"engine: {kind: udp}\ngms: true", "'engine.kind': 'udp' has no group membership service: remove gms"},
           {"engine: {kind: norm}\nlauncher: sim", "'engine.kind': 'norm' runs on real sockets (libnorm)"},
           {"engine: {kind: norm, auth: true}", "'engine.auth': the norm engine does not take the cluster key"},
       }) {
    const std::string error = ErrorOf("name: a\nnodes: 2\n" + text + "\n");
    EXPECT_NE(error.find(expected), std::string::npos) << error;
  }
}

TEST(ScenarioTest, ErrorsNameTheFileTheLineAndTheKey) {
  EXPECT_EQ(ErrorOf("name: x\nnodes: 4\nnodez: 5\n").rfind("test.yaml:3: 'nodez': unknown key", 0), 0u);
  EXPECT_EQ(ErrorOf("name: x\nnodes: four\n"),
            "test.yaml:2: 'nodes': must be a number in [1, 1000], not 'four'");
  EXPECT_EQ(ErrorOf("name: x\nduration: 30\n").rfind("test.yaml:2: 'duration': must be a duration", 0), 0u);
  EXPECT_EQ(ErrorOf("name: x\nrate: fast\n").rfind("test.yaml:2: 'rate': must be 'max'", 0), 0u);
  EXPECT_EQ(
      ErrorOf("name: x\nlauncher: cloud\n").rfind("test.yaml:2: 'launcher': must be one of local | netns", 0),
      0u);
  EXPECT_EQ(
      ErrorOf("name: x\nengine: {token_rat: 5}\n").rfind("test.yaml:2: 'engine.token_rat': unknown key", 0),
      0u);
  EXPECT_EQ(ErrorOf("nodes: 3\n"), "test.yaml:1: 'name': is missing");
  EXPECT_EQ(ErrorOf("name: x\nnodes: [1\n").rfind("test.yaml:", 0), 0u);  // YAML syntax error, with a line
}

TEST(ScenarioTest, FaultErrorsNameTheFaultAndItsKey) {
  const std::string head = "name: x\nnodes: 4\nfaults:\n";
  EXPECT_EQ(ErrorOf(head + "  - {type: nap, nodes: [1], every: 1s, for: 1ms}\n")
                .rfind("test.yaml:4: 'faults[0].type': must be one of sleep", 0),
            0u);
  EXPECT_EQ(ErrorOf(head + "  - {type: sleep, nodes: [9], every: 1s, for: 1ms}\n"),
            "test.yaml:4: 'faults[0].nodes': node '9' is not an id in 1..4");
  EXPECT_EQ(ErrorOf(head + "  - {type: sleep, nodes: [1], every: 1s}\n"),
            "test.yaml:4: 'faults[0].for': needs a length > 0");
  EXPECT_EQ(ErrorOf(head + "  - {type: sleep, nodes: [1], every: 1s, for: 2s}\n"),
            "test.yaml:4: 'faults[0].for': must be shorter than 'every'");
  EXPECT_EQ(ErrorOf(head + "  - {type: loss, nodes: [1]}\n"),
            "test.yaml:4: 'faults[0].rate': loss needs 'rate' in (0, 1]");
  EXPECT_NE(ErrorOf(head + "  - {type: crash, nodes: [1], at: 1s, for: 2s}\n")
                .find("number its messages from 1 again"),
            std::string::npos);
  EXPECT_EQ(ErrorOf(head + "  - {type: sleep, nodes: [1], every: 1s, for: 1ms, colour: red}\n")
                .rfind("test.yaml:4: 'faults[0].colour': unknown key", 0),
            0u);
  EXPECT_NE(ErrorOf(head + "  - {type: partition, nodes: all, at: 1s, for: 1s}\n").find("leave some out"),
            std::string::npos);
}

TEST(ScenarioTest, TheGmsKeyTakesDefaultsOrTimesAndZipfNeedsIt) {
  const std::string head = "name: t\nnodes: 4\n";
  auto on = ParseScenario(head + "gms: true\n", "test.yaml");
  ASSERT_TRUE(on.has_value()) << on.error().message;
  ASSERT_TRUE(on->gms.has_value());
  EXPECT_EQ(on->gms->failure_timeout, 2s);
  EXPECT_EQ(on->gms->heartbeat, 200ms);
  auto timed = ParseScenario(head + "gms: {failure_timeout: 1s, heartbeat: 100ms}\n", "test.yaml");
  ASSERT_TRUE(timed.has_value()) << timed.error().message;
  EXPECT_EQ(timed->gms->failure_timeout, 1s);
  EXPECT_FALSE(ParseScenario(head, "test.yaml")->gms.has_value());
  EXPECT_EQ(ErrorOf(head + "gms: {failure_timeout: 100ms, heartbeat: 100ms}\n"),
            "test.yaml:3: 'gms.failure_timeout': must be at least two heartbeats (and heartbeat > 0)");
  EXPECT_EQ(ErrorOf(head + "gms: {timeout: 1s}\n").rfind("test.yaml:3: 'gms.timeout': unknown key", 0), 0u);
  EXPECT_EQ(ErrorOf(head + "gms: maybe\n"),
            "test.yaml:3: 'gms': must be true or a map such as {failure_timeout: 2s}");
  EXPECT_NE(ErrorOf(head + "membership: {pattern: zipf}\n").find("add gms: true"), std::string::npos);
  EXPECT_TRUE(ParseScenario(head + "membership: {pattern: zipf}\ngms: true\n", "test.yaml").has_value());
}

TEST(ScenarioTest, OverridesReplaceValuesAndNameThemselvesInErrors) {
  auto sc = ParseScenario(kFull, "test.yaml", {{"nodes", "6"}, {"engine.token_rate", "20"}, {"rate", "max"}});
  ASSERT_TRUE(sc.has_value()) << sc.error().message;
  EXPECT_EQ(sc->nodes, 6u);
  EXPECT_DOUBLE_EQ(sc->engine.token_rate, 20);
  EXPECT_EQ(sc->rate, 0);
  EXPECT_EQ(ErrorOf(kFull, {{"nodes", "many"}}), "--set nodes: must be a number in [1, 1000], not 'many'");
  EXPECT_EQ(ErrorOf(kFull, {{"colour", "red"}}).rfind("--set colour: unknown key", 0), 0u);
  EXPECT_FALSE(ParseOverrides({"nodes"}).has_value());
  auto parsed = ParseOverrides({"nodes=6", "engine.replication=3"});
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->at(1), (std::pair<std::string, std::string>{"engine.replication", "3"}));
}

TEST(ScenarioTest, SweepsExpandIntoOneRunPerCombination) {
  auto sc = ParseScenario("name: s\nnodes: 4\nsweep: {nodes: [2, 4], rate: [100, max]}\n", "t.yaml");
  ASSERT_TRUE(sc.has_value());
  auto runs = ExpandRuns(*sc);
  ASSERT_TRUE(runs.has_value()) << runs.error().message;
  ASSERT_EQ(runs->size(), 4u);
  EXPECT_EQ((*runs)[0].name, "s-nodes=2-rate=100");
  EXPECT_EQ((*runs)[0].nodes, 2u);
  EXPECT_DOUBLE_EQ((*runs)[0].rate, 100);
  EXPECT_EQ((*runs)[3].nodes, 4u);
  EXPECT_EQ((*runs)[3].rate, 0);
  EXPECT_TRUE((*runs)[3].sweep.empty());
  auto bad = ParseScenario("name: s\nsweep: {nodes: [2, zero]}\n", "t.yaml");
  ASSERT_TRUE(bad.has_value());
  EXPECT_FALSE(ExpandRuns(*bad).has_value());
}

TEST(ScenarioTest, RepeatRunsEachPointThatManyTimesWithSuccessiveSeeds) {
  auto sc = ParseScenario("name: s\nseed: 7\nrepeat: 3\nsweep: {nodes: [2, 4]}\n", "t.yaml");
  ASSERT_TRUE(sc.has_value()) << sc.error().message;
  auto runs = ExpandRuns(*sc);
  ASSERT_TRUE(runs.has_value()) << runs.error().message;
  ASSERT_EQ(runs->size(), 6u);
  EXPECT_EQ((*runs)[0].name, "s-nodes=2-rep=1");
  EXPECT_EQ((*runs)[2].name, "s-nodes=2-rep=3");
  EXPECT_EQ((*runs)[3].name, "s-nodes=4-rep=1");
  for (size_t i = 0; i < runs->size(); ++i) {
    EXPECT_EQ((*runs)[i].repetition, i % 3 + 1);
    EXPECT_EQ((*runs)[i].seed, 7 + i % 3);
  }
  auto once = ParseScenario("name: s\n", "t.yaml");
  ASSERT_TRUE(once.has_value());
  auto single = ExpandRuns(*once);
  ASSERT_TRUE(single.has_value());
  ASSERT_EQ(single->size(), 1u);
  EXPECT_EQ((*single)[0].name, "s");
  EXPECT_EQ((*single)[0].repetition, 0u);
  EXPECT_EQ(ErrorOf("name: s\nrepeat: 0\n"), "test.yaml:2: 'repeat': must be a number in [1, 100], not '0'");
}

TEST(ScenarioTest, BundledScenariosAndSuitesAllLoad) {
  const std::string dir = QSM_SOURCE_DIR "/harness/scenarios";
  size_t count = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".yaml") continue;
    auto sc = LoadScenario(e.path().string());
    ASSERT_TRUE(sc.has_value()) << sc.error().message;
    auto runs = ExpandRuns(*sc);
    ASSERT_TRUE(runs.has_value()) << runs.error().message;
    ++count;
  }
  EXPECT_GE(count, 3u);
  for (const auto& e : std::filesystem::directory_iterator(dir + "/suites")) {
    auto suite = LoadSuite(e.path().string());
    ASSERT_TRUE(suite.has_value()) << suite.error().message;
    for (const auto& run : suite->runs) {
      EXPECT_TRUE(LoadScenario(run.path, run.overrides).has_value()) << run.path;
    }
  }
  auto suite = LoadSuite(dir + "/suites/default.yaml");
  ASSERT_TRUE(suite.has_value());
  EXPECT_EQ(suite->runs.size(), 3u);
}

TEST(ScenarioTest, SuiteErrorsNameTheMissingFile) {
  const auto dir = std::filesystem::temp_directory_path() / ("qsm-suite-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "s.yaml") << "suite: s\nruns:\n  - missing.yaml\n";
  auto suite = LoadSuite((dir / "s.yaml").string());
  ASSERT_FALSE(suite.has_value());
  EXPECT_NE(suite.error().message.find(":3: 'runs[0]': no such scenario file"), std::string::npos)
      << suite.error().message;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace qsm::harness
