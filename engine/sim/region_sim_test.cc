// The QSM region protocol in deterministic simulation. Every run checks, for every surviving
// member, exactly-once in-order delivery of every message, and empty pending-ACK windows and caches
// at the end. A failing run prints its scenario and seed; RunRegionScenario with the same values
// replays it exactly. Seed ranges: QSM_SEEDS=first-last (default 1-200) for the randomized test.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/core/random.h"
#include "engine/sim/region_scenario.h"

namespace qsm::sim {
namespace {

RegionResult Expect(const RegionScenario& sc, const std::string& what) {
  RegionResult r = RunRegionScenario(sc);
  EXPECT_TRUE(r.ok) << what << " (seed " << sc.seed << "): " << r.Summary();
  std::printf("[ %s ] %s\n", what.c_str(), r.Summary().c_str());
  return r;
}

class RegionSizeTest : public ::testing::TestWithParam<size_t> {};

TEST_P(RegionSizeTest, EveryMemberDeliversEverythingOnceInOrder) {
  const size_t n = GetParam();
  RegionScenario sc{
      .nodes = n, .messages = n >= 50 ? 300u : 1000u, .seed = 100 + n, .link = LinkModel{.loss = 0.01}};
  RegionResult r = Expect(sc, std::to_string(n) + " nodes, 1% loss");
  EXPECT_GT(r.token_rounds, 0u);
}
INSTANTIATE_TEST_SUITE_P(Sizes, RegionSizeTest, ::testing::Values(1, 2, 5, 6, 11, 50, 200));

class RegionSendersTest : public ::testing::TestWithParam<size_t> {};

TEST_P(RegionSendersTest, ConcurrentSendersAreEachDeliveredInOrder) {
  const size_t senders = GetParam();
  RegionScenario sc{.nodes = 11,
                    .senders = senders,
                    .groups = 3,
                    .messages = 500,
                    .seed = 200 + senders,
                    .link = LinkModel{.loss = 0.02}};
  Expect(sc, std::to_string(senders) + " senders");
}
INSTANTIATE_TEST_SUITE_P(Senders, RegionSendersTest, ::testing::Values(1, 2, 3, 4));

class RegionGroupsTest : public ::testing::TestWithParam<size_t> {};

TEST_P(RegionGroupsTest, ManyGroupsShareOneRegion) {
  const size_t groups = GetParam();
  RegionScenario sc{.nodes = 6,
                    .senders = 2,
                    .groups = groups,
                    .messages = groups >= 10000 ? 20000u : 2000u,
                    .seed = 300,
                    .link = LinkModel{.loss = 0.01}};
  Expect(sc, std::to_string(groups) + " groups");
}
INSTANTIATE_TEST_SUITE_P(Groups, RegionGroupsTest, ::testing::Values(1, 100, 10000));

class RegionLossTest : public ::testing::TestWithParam<double> {};

TEST_P(RegionLossTest, RandomLossIsRepaired) {
  const double loss = GetParam();
  RegionScenario sc{.nodes = 11,
                    .senders = 2,
                    .messages = 1000,
                    .seed = 400 + static_cast<uint64_t>(loss * 1000),
                    .link = LinkModel{.loss = loss}};
  Expect(sc, std::to_string(static_cast<int>(loss * 100)) + "% loss");
}
INSTANTIATE_TEST_SUITE_P(Loss, RegionLossTest, ::testing::Values(0.0, 0.01, 0.05, 0.10));

class ScatteredLossTest : public ::testing::TestWithParam<double> {};

// One receiver loses a fraction of everything at random while the sender runs at 20,000 msgs/s:
// repair must keep up (repair capacity used to be about 20 ranges per token visit, ~100/s).
TEST_P(ScatteredLossTest, OneLossyReceiverKeepsUpWithTheSender) {
  const double loss = GetParam();
  RegionScenario sc{.nodes = 4, .messages = 40000, .seed = 700 + static_cast<uint64_t>(loss * 100)};
  sc.node.send_rate = 20000;  // 2 s of load
  sc.inbound_loss = {{3, loss}};
  RegionResult r = Expect(sc, std::to_string(static_cast<int>(loss * 100)) + "% loss at one receiver");
  EXPECT_LT(ToSeconds(r.completion_time), 2.5) << "the lossy receiver fell behind";
}
INSTANTIATE_TEST_SUITE_P(Loss, ScatteredLossTest, ::testing::Values(0.01, 0.05, 0.10));

// 200 nodes, 64 senders: the sender records outgrow one datagram (each costs 56 + 8 x 40
// partitions bytes before any range), so the token pages. Rounds must keep completing and every
// window must drain (before paging no round ever completed).
TEST(RegionBigTest, SixtyFourSendersInTwoHundredNodesKeepTheTokenTurning) {
  RegionScenario sc{.nodes = 200, .senders = 64, .messages = 20, .seed = 801, .link = LinkModel{.loss = 0.01}};
  sc.node.send_rate = 10;  // 2 s of load each
  RegionResult r = Expect(sc, "200 nodes, 64 senders");
  EXPECT_GT(r.token_rounds, 10u);
  EXPECT_GT(r.totals.counter(Counter::kTokenRecordsDeferred), 0u) << "the token never had to page";
  EXPECT_LT(ToSeconds(r.completion_time), 10.0);
}

TEST(RegionFaultTest, BurstyLossAtOneReceiverIsRepaired) {
  RegionScenario sc{.nodes = 11,
                    .messages = 20000,
                    .seed = 501,
                    .loss_bursts = {{.node = 4, .every = 1s, .duration = 10ms}}};
  sc.node.send_rate = 5000;
  RegionResult r = Expect(sc, "loss burst 10 ms every 1 s");
  EXPECT_GT(r.totals.counter(Counter::kDroppedFault), 0u);
}

TEST(RegionFaultTest, SleepingReceiverCatchesUp) {
  RegionScenario sc{
      .nodes = 11, .messages = 30000, .seed = 502, .sleeps = {{.node = 3, .every = 5s, .duration = 500ms}}};
  sc.node.send_rate = 5000;
  Expect(sc, "sleep 0.5 s every 5 s");
}

TEST(RegionFaultTest, SleepingRegionLeaderCatchesUp) {
  RegionScenario sc{
      .nodes = 6, .messages = 10000, .seed = 503, .sleeps = {{.node = 0, .every = 2s, .duration = 500ms}}};
  sc.node.send_rate = 5000;
  Expect(sc, "leader sleeps 0.5 s every 2 s");
}

// Runs `sc` with the ring skipping members that do not answer and without: the skips must happen,
// and node `lossy`'s latency p99 must stay under 700 ms and well below the run that waits.
void ExpectSkippingHelps(RegionScenario sc, size_t lossy, const char* what) {
  auto run = [&](Duration skip_after) {
    sc.node.region.ring_skip_after = skip_after;
    return Expect(sc, what);
  };
  const RegionResult skipping = run(200ms);
  const RegionResult waiting = run(Duration::zero());
  EXPECT_GT(skipping.totals.counter(Counter::kRingMembersSkipped), 0u);
  EXPECT_EQ(waiting.totals.counter(Counter::kRingMembersSkipped), 0u);
  const uint64_t p99_skipping = skipping.delivery_latency_ns[lossy].Quantile(0.99);
  const uint64_t p99_waiting = waiting.delivery_latency_ns[lossy].Quantile(0.99);
  std::printf("node %zu latency p99: %.0f ms skipping, %.0f ms waiting\n", lossy, p99_skipping / 1e6,
              p99_waiting / 1e6);
  EXPECT_LT(p99_skipping, uint64_t{700'000'000});
  EXPECT_GT(p99_waiting, 3 * p99_skipping / 2);
}

// A member that does not answer (asleep 1 s every 2 s) no longer stalls the others' repair: its
// ring predecessor skips it (ring_skip_after). Node 3, after the sleeper, loses 5% of its input;
// without skipping, its losses wait for the sleeper to wake. When written: 365 ms against 1,124.
TEST(RegionFaultTest, TheRingSkipsASleepingMemberSoTheOthersRepairMeanwhile) {
  RegionScenario sc{.nodes = 5,
                    .messages = 10000,
                    .seed = 504,
                    .sleeps = {{.node = 2, .every = 2s, .duration = 1s}},
                    .inbound_loss = {{.node = 3, .rate = 0.05}}};
  sc.node.send_rate = 2000;
  ExpectSkippingHelps(sc, 3, "a member sleeps 1 s every 2 s, the next one loses 5%");
}

// The same for a partition leader (issue 14): with R = 2, six members form partitions {0, 3},
// {1, 4} and {2, 5}. Node 1, partition 1's leader, sleeps 1 s every 2 s; node 4 leads its
// partition's rounds meanwhile, and it loses 5% of its input. When written: 398 ms against 1,124.
TEST(RegionFaultTest, TheRegionRingSkipsASleepingPartitionLeaderSoItsPartitionRepairsMeanwhile) {
  RegionScenario sc{.nodes = 6,
                    .messages = 10000,
                    .seed = 505,
                    .sleeps = {{.node = 1, .every = 2s, .duration = 1s}},
                    .inbound_loss = {{.node = 4, .rate = 0.05}}};
  sc.node.send_rate = 2000;
  sc.node.region.replication = 2;
  ExpectSkippingHelps(sc, 4, "a partition leader sleeps 1 s every 2 s, its partition's other member loses 5%");
}

TEST(RegionFaultTest, DuplicationAndReorderingChangeNothing) {
  RegionScenario sc{.nodes = 11,
                    .senders = 2,
                    .messages = 2000,
                    .seed = 504,
                    .link = LinkModel{.loss = 0.01, .duplicate = 0.05, .reorder = 0.1, .reorder_delay = 2ms}};
  RegionResult r = Expect(sc, "duplication and reordering");
  EXPECT_GT(r.totals.counter(Counter::kDuplicatesDropped), 0u);
}

// A member dropped by a new view mid-run: the survivors deliver everything once and in order.
struct DropCase {
  const char* what;
  size_t victim;
  size_t senders;
  size_t first_sender;
  Duration at;
};

class RegionDropTest : public ::testing::TestWithParam<DropCase> {};

TEST_P(RegionDropTest, SurvivorsDeliverEverythingAfterTheViewChange) {
  const DropCase& c = GetParam();
  RegionScenario sc{.nodes = 11,
                    .senders = c.senders,
                    .first_sender = c.first_sender,
                    .messages = 5000,
                    .seed = 505 + c.victim,
                    .link = LinkModel{.loss = 0.01},
                    .drop = DropMemberFault{.node = c.victim, .at = c.at}};
  sc.node.send_rate = 5000;
  Expect(sc, c.what);
}
INSTANTIATE_TEST_SUITE_P(Drops, RegionDropTest,
                         ::testing::Values(DropCase{"receiver 9 dropped at 0.4 s", 8, 2, 0, 400ms},
                                           DropCase{"region leader dropped at 0.4 s", 0, 2, 1, 400ms},
                                           DropCase{"partition 1 leader dropped at 0.3 s", 1, 1, 3, 300ms}));

TEST(RegionModeTest, UnorderedGroupsGetEveryMessageExactlyOnce) {
  RegionScenario sc{.nodes = 11,
                    .senders = 2,
                    .groups = 4,
                    .messages = 2000,
                    .unordered = true,
                    .seed = 701,
                    .link = LinkModel{.loss = 0.05, .reorder = 0.1, .reorder_delay = 2ms}};
  Expect(sc, "unordered delivery, 5% loss");
}

TEST(RegionModeTest, AdaptiveRateStillDeliversEverything) {
  RegionScenario sc{.nodes = 6, .messages = 20000, .seed = 702, .link = LinkModel{.loss = 0.02}};
  sc.node.send_rate = 2000;  // the initial cap; ACKs then move it to the slowest receiver's rate x 1.1
  sc.node.adaptive_rate = true;
  Expect(sc, "adaptive rate");
}

TEST(RegionQuiescenceTest, TokenGoesQuietWithoutSendersAndRestartsForTheNextMessage) {
  RegionScenario sc{.nodes = 6,
                    .messages = 2000,
                    .pause_after = 1000,
                    .resume_at = 4s,
                    .seed = 703,
                    .link = LinkModel{.loss = 0.01}};
  sc.node.send_rate = 5000;
  RegionResult r = Expect(sc, "pause and resume");
  // The sender leaves the token after idle_rounds_to_drop rounds, so the last second of the pause
  // has no round; it is re-added when it sends again (everything is delivered and released).
  EXPECT_EQ(r.rounds_during_pause, 0u);
  EXPECT_LE(r.rounds_after_idle, static_cast<uint64_t>(sc.node.region.idle_rounds_to_drop));
  EXPECT_GT(r.completion_time, 4s);
}

TEST(RegionDeterminismTest, SameSeedSameRun) {
  RegionScenario sc{
      .nodes = 6,
      .senders = 2,
      .messages = 500,
      .seed = 77,
      .link = LinkModel{.tail_probability = 0.05, .loss = 0.03, .duplicate = 0.01, .reorder = 0.05}};
  RegionResult a = RunRegionScenario(sc), b = RunRegionScenario(sc);
  sc.seed = 78;
  RegionResult c = RunRegionScenario(sc);
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  EXPECT_EQ(a.completion_time, b.completion_time);
  EXPECT_NE(a.trace_hash, c.trace_hash);
}

TEST(RegionTokenTest, RoundsPerSecondStayWithinTenPercentOfTheRateUnderLoad) {
  RegionScenario sc{.nodes = 11, .messages = 40000, .seed = 601};
  sc.node.send_rate = 5000;  // 8 s of load
  sc.node.region.token_rate = 5;
  RegionResult r = Expect(sc, "token rate under load");
  const double seconds = ToSeconds(r.completion_time);
  const double rate = static_cast<double>(r.rounds_at_completion) / seconds;
  EXPECT_NEAR(rate, 5.0, 0.5) << r.rounds_at_completion << " rounds in " << seconds << " s";
}

// Random scenarios over a seed range: QSM_SEEDS=first-last (default 1-200).
TEST(RegionRandomizedTest, RandomScenariosOverASeedRange) {
  uint64_t first = 1, last = 200;
  if (const char* env = std::getenv("QSM_SEEDS")) {
    if (std::sscanf(env, "%lu-%lu", &first, &last) != 2 || first > last) {
      FAIL() << "QSM_SEEDS must look like 1-200, not '" << env << "'";
    }
  }
  int failures = 0;
  for (uint64_t seed = first; seed <= last && failures < 5; ++seed) {
    Random r(seed);
    RegionScenario sc{.nodes = 1 + r.Uniform(14),
                      .groups = 1 + r.Uniform(5),
                      .messages = 100 + r.Uniform(300),
                      .payload_bytes = 16 + r.Uniform(1000),
                      .seed = seed};
    sc.senders = 1 + r.Uniform(std::min<size_t>(sc.nodes, 3));
    sc.link.loss = r.NextDouble() * 0.08;
    sc.link.duplicate = r.Bernoulli(0.3) ? r.NextDouble() * 0.05 : 0;
    sc.link.reorder = r.Bernoulli(0.3) ? r.NextDouble() * 0.1 : 0;
    sc.link.tail_probability = r.Bernoulli(0.3) ? 0.05 : 0;
    sc.node.region.replication = 1 + r.Uniform(5);
    if (r.Bernoulli(0.3)) sc.node.send_rate = 2000;
    RegionResult result = RunRegionScenario(sc);
    if (!result.ok) {
      ++failures;
      ADD_FAILURE() << "seed " << seed << " (nodes " << sc.nodes << ", senders " << sc.senders << ", groups "
                    << sc.groups << ", replication " << sc.node.region.replication << ", loss "
                    << sc.link.loss << "): " << result.Summary();
    }
  }
}

}  // namespace
}  // namespace qsm::sim
