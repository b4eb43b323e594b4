// Swarm simulation: every seed draws a whole configuration, not only a random schedule: region or
// membership (GMS) cluster, 1 to 300 nodes, 1 to 64 senders, 1 to 10,000 groups, replication 1 to
// 8, messages of 8 B to 8 KB, rates from a trickle to saturation, link loss 0 to 20%, duplication,
// reordering, latency tails, loss bursts, sleeps, one receiver with scattered loss, a member
// dropped from the view; with a GMS: joins and leaves that move nodes between regions, crashes,
// whole-region loss and GMS restarts.
//
// Each run checks safety (exactly once, FIFO per sender and group, nothing that was not sent) and
// liveness: within the run's bound every survivor delivered everything, every pending window and
// cache is empty, and the token completed rounds while there were senders. A failure prints the
// configuration and its seed; QSM_SWARM=N-N replays it exactly and shrinks it (Smaller, Shrink).
// QSM_SWARM=first-last runs any range (default 1-120 in CI; see engine/README.md for the ranges
// run by hand and what they found).
#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>
#include <utility>
#include <numeric>
#include <functional>

#include "engine/core/random.h"
#include "engine/sim/gms_scenario.h"
#include "engine/sim/region_scenario.h"

namespace qsm::sim {
namespace {

// A value in [lo, hi], log-uniform (small values as likely as large ones, per decade).
uint64_t LogUniform(Random& r, uint64_t lo, uint64_t hi) {
  const double x =
      std::log(static_cast<double>(lo)) +
      r.NextDouble() * (std::log(static_cast<double>(hi) + 1) - std::log(static_cast<double>(lo)));
  return std::clamp<uint64_t>(static_cast<uint64_t>(std::exp(x)), lo, hi);
}

LinkModel DrawLink(Random& r, double max_loss) {
  LinkModel link;
  link.loss = r.Bernoulli(0.2) ? 0.0 : r.NextDouble() * max_loss;
  link.duplicate = r.Bernoulli(0.3) ? r.NextDouble() * 0.05 : 0;
  link.reorder = r.Bernoulli(0.3) ? r.NextDouble() * 0.1 : 0;
  link.tail_probability = r.Bernoulli(0.2) ? 0.05 : 0;
  return link;
}

// Packing off, one Ethernet MTU, and the default (NodeConfig::datagram_bytes).
constexpr size_t kDatagramSizes[] = {0, 1472, 8972};

// Half the configurations run with a cluster key (every datagram sealed), half without.
std::shared_ptr<const ClusterKeys> DrawKeys(Random& r) {
  if (!r.Bernoulli(0.5)) return nullptr;
  ClusterKey key{.id = 1 + static_cast<uint32_t>(r.Uniform(1000))};
  for (auto& b : key.secret) b = static_cast<std::byte>(r.Next());
  return std::make_shared<const ClusterKeys>(std::vector{key});
}

// A region configuration. Deliveries (nodes x senders x messages) are kept near a budget so that
// a run takes about a second or less on the dev build, whatever was drawn.
RegionScenario DrawRegion(uint64_t seed) {
  Random r(seed * 7919 + 1);
  RegionScenario sc;
  sc.seed = seed;
  sc.nodes = r.Bernoulli(0.1) ? LogUniform(r, 50, 300) : LogUniform(r, 1, 30);
  sc.senders = std::min<size_t>(sc.nodes, r.Bernoulli(0.15) ? LogUniform(r, 8, 64) : LogUniform(r, 1, 4));
  sc.groups = r.Bernoulli(0.2) ? LogUniform(r, 100, 10000) : LogUniform(r, 1, 8);
  sc.payload_bytes = LogUniform(r, 8, 8192);
  sc.unordered = r.Bernoulli(0.15);
  const uint64_t budget = sc.nodes >= 50 ? 40000 : 120000;
  sc.messages = std::clamp<uint64_t>(budget / (sc.nodes * sc.senders), 5, 3000);
  sc.node.region.replication = 1 + r.Uniform(8);
  sc.node.region.token_rate = r.Bernoulli(0.2) ? 1 + r.Uniform(20) : 5;
  if (r.Bernoulli(0.6)) {  // paced, at most 20 s of load; else saturation
    sc.node.send_rate = static_cast<double>(LogUniform(r, 10, 20000));
    sc.messages =
        std::max<uint64_t>(1, std::min<uint64_t>(sc.messages, static_cast<uint64_t>(sc.node.send_rate * 20)));
  }
  const double max_loss = sc.nodes >= 50 ? 0.03 : 0.2;
  sc.link = DrawLink(r, max_loss);
  if (sc.nodes > 1 && r.Bernoulli(0.25))
    sc.inbound_loss.push_back({r.Uniform(sc.nodes), r.NextDouble() * 0.2});
  if (sc.nodes > 1 && r.Bernoulli(0.2))
    sc.loss_bursts.push_back({r.Uniform(sc.nodes), 1s, Duration(LogUniform(r, 1, 50) * 1ms)});
  if (sc.nodes > 1 && r.Bernoulli(0.2))
    sc.sleeps.push_back({r.Uniform(sc.nodes), 2s, Duration(LogUniform(r, 10, 500) * 1ms)});
  if (sc.nodes > sc.senders + 1 && sc.nodes < 50 && r.Bernoulli(0.15)) {
    // Not a sender: a dropped sender's messages are not all delivered by design.
    const size_t victim = sc.senders + r.Uniform(sc.nodes - sc.senders);
    sc.drop = DropMemberFault{victim, Duration(LogUniform(r, 10, 2000) * 1ms)};
  }
  sc.node.region.adaptive_rounds = !r.Bernoulli(0.25);  // drawn last: earlier seeds keep their draws
  sc.node.datagram_bytes = kDatagramSizes[r.Uniform(std::size(kDatagramSizes))];  // after it, likewise
  sc.keys = DrawKeys(r);  // after it, likewise
  sc.max_time = 120s;
  return sc;
}

std::string Describe(const RegionScenario& sc) {
  std::ostringstream t;
  t << "region: nodes " << sc.nodes << ", senders " << sc.senders << ", groups " << sc.groups << ", messages "
    << sc.messages << " x " << sc.payload_bytes << " B" << (sc.unordered ? " unordered" : "") << ", R "
    << sc.node.region.replication << ", datagram " << sc.node.datagram_bytes << " B, token rate "
    << sc.node.region.token_rate
    << (sc.node.region.adaptive_rounds ? " adaptive" : " fixed") << ", send rate "
    << (sc.node.send_rate > 0 ? std::to_string(static_cast<int>(sc.node.send_rate)) : "max") << ", loss "
    << sc.link.loss << " dup " << sc.link.duplicate << " reorder " << sc.link.reorder
    << (sc.keys ? ", cluster key" : "");
  for (const auto& f : sc.inbound_loss) t << ", node " << f.node << " loses " << f.rate;
  for (const auto& f : sc.loss_bursts)
    t << ", node " << f.node << " bursts " << ToSeconds(f.duration) * 1000 << " ms/s";
  for (const auto& f : sc.sleeps)
    t << ", node " << f.node << " sleeps " << ToSeconds(f.duration) * 1000 << " ms/2s";
  if (sc.drop) t << ", node " << sc.drop->node << " dropped at " << ToSeconds(sc.drop->at) << " s";
  return t.str();
}

// A membership configuration: nodes in a few groups (so in several regions), loads, and events.
GmsScenario DrawGms(uint64_t seed) {
  Random r(seed * 104729 + 3);
  GmsScenario sc;
  sc.seed = seed;
  sc.nodes = 3 + r.Uniform(10);
  const size_t groups = 1 + r.Uniform(3);
  sc.groups.resize(sc.nodes);
  for (auto& g : sc.groups) {
    g.push_back(1);
    for (wire::GroupId x = 2; x <= groups; ++x) {
      if (r.Bernoulli(0.4)) g.push_back(x);
    }
  }
  const size_t loads = 1 + r.Uniform(3);
  std::vector<wire::NodeId> senders;
  for (size_t i = 0; i < loads; ++i) {
    const auto node = static_cast<wire::NodeId>(1 + r.Uniform(sc.nodes));
    senders.push_back(node);
    sc.loads.push_back({.node = node,
                        .group = 1,  // every node starts in group 1 and stays (joins/leaves use others)
                        .messages = 500 + r.Uniform(3000),
                        .rate = static_cast<double>(200 + r.Uniform(1500)),
                        .start = 1s});
  }
  sc.node.region.replication = 1 + r.Uniform(5);
  sc.link = DrawLink(r, 0.03);
  const size_t events = r.Uniform(6);
  bool crashed = false;
  for (size_t i = 0; i < events; ++i) {
    GmsEvent e{.at = Duration(1500ms + Duration(r.Uniform(3000) * 1ms))};
    const auto node = static_cast<wire::NodeId>(1 + r.Uniform(sc.nodes));
    const double kind = r.NextDouble();
    if (kind < 0.35) {
      e = {.kind = GmsEvent::Kind::kJoin,
           .at = e.at,
           .node = node,
           .group = static_cast<wire::GroupId>(2 + r.Uniform(3))};
    } else if (kind < 0.6) {
      e = {.kind = GmsEvent::Kind::kLeave,
           .at = e.at,
           .node = node,
           .group = static_cast<wire::GroupId>(2 + r.Uniform(3))};
    } else if (kind < 0.72 && !crashed && std::find(senders.begin(), senders.end(), node) == senders.end()) {
      e = {.kind = GmsEvent::Kind::kCrash, .at = e.at, .node = node};
      crashed = true;
    } else if (kind < 0.86) {
      e = {.kind = GmsEvent::Kind::kRestartGms,
           .at = e.at,
           .duration = Duration(100ms + Duration(r.Uniform(400) * 1ms))};
    } else {
      e = {.kind = GmsEvent::Kind::kRegionLoss,
           .at = e.at,
           .duration = Duration(r.Uniform(100) * 1ms + 1ms),
           .nodes = {node}};
    }
    sc.events.push_back(e);
  }
  sc.node.datagram_bytes = kDatagramSizes[r.Uniform(std::size(kDatagramSizes))];  // drawn last
  sc.keys = DrawKeys(r);  // after it, likewise
  sc.max_time = 90s;
  return sc;
}

std::string Describe(const GmsScenario& sc) {
  const size_t groups = std::accumulate(sc.groups.begin(), sc.groups.end(), size_t{1}, [](size_t m, const auto& g) {
    return g.empty() ? m : std::max<size_t>(m, *std::max_element(g.begin(), g.end()));
  });
  std::ostringstream t;
  t << "gms: nodes " << sc.nodes << ", groups " << groups << ", loads " << sc.loads.size() << ", R "
    << sc.node.region.replication << ", datagram " << sc.node.datagram_bytes << " B, loss " << sc.link.loss
    << (sc.keys ? ", cluster key" : "") << ", events:";
  for (const auto& e : sc.events)
    t << " " << static_cast<int>(e.kind) << "@" << ToSeconds(e.at) << "s/n" << e.node;
  return t.str();
}

// One run of a configuration: whether it passed, and its summary with the violations.
struct Outcome {
  bool ok = false;
  std::string summary;
};

Outcome Run(const RegionScenario& sc) {
  RegionResult r = RunRegionScenario(sc);
  // Liveness beyond delivery: rounds completed while there were senders to acknowledge.
  if (r.ok && sc.nodes > 1 && sc.senders > 0 && r.token_rounds == 0) {
    r.ok = false;
    r.violations.emplace_back("no token round completed");
  }
  Outcome out{r.ok, r.Summary()};
  for (const auto& v : r.violations) out.summary += "\n  " + v;
  return out;
}

Outcome Run(const GmsScenario& sc) {
  GmsResult r = RunGmsScenario(sc);
  return {r.ok, r.Summary()};
}

// Variants of `sc` with one thing less (a fault, loss, half the nodes, senders, groups, messages
// or payload), the ones that remove most first. Every variant is a valid configuration.
std::vector<RegionScenario> Smaller(const RegionScenario& sc) {
  std::vector<RegionScenario> out;
  auto add = [&](const std::function<bool(RegionScenario&)>& change) {
    RegionScenario c = sc;
    if (change(c)) out.push_back(std::move(c));
  };
  auto with_nodes = [](RegionScenario& c, size_t n) {
    if (n == 0 || n >= c.nodes) return false;
    c.nodes = n;
    c.senders = std::min(c.senders, n);
    auto gone = [n](const auto& f) { return f.node >= n; };
    std::erase_if(c.sleeps, gone);
    std::erase_if(c.loss_bursts, gone);
    std::erase_if(c.inbound_loss, gone);
    if (c.drop && (c.drop->node >= n || c.drop->node < c.senders)) c.drop.reset();
    return true;
  };
  add([&](RegionScenario& c) { return with_nodes(c, c.nodes / 2); });
  add([](RegionScenario& c) { return std::exchange(c.messages, std::max<uint64_t>(1, c.messages / 2)) > 1; });
  add([](RegionScenario& c) { return std::exchange(c.senders, std::max<size_t>(1, c.senders / 2)) > 1; });
  add([](RegionScenario& c) { return std::exchange(c.groups, std::max<size_t>(1, c.groups / 2)) > 1; });
  add([](RegionScenario& c) { return std::exchange(c.keys, nullptr) != nullptr; });
  add([](RegionScenario& c) { return std::exchange(c.drop, std::nullopt).has_value(); });
  add([](RegionScenario& c) { return !std::exchange(c.sleeps, {}).empty(); });
  add([](RegionScenario& c) { return !std::exchange(c.loss_bursts, {}).empty(); });
  add([](RegionScenario& c) { return !std::exchange(c.inbound_loss, {}).empty(); });
  add([](RegionScenario& c) { return std::exchange(c.link.loss, 0.0) > 0; });
  add([](RegionScenario& c) { return std::exchange(c.link.duplicate, 0.0) > 0; });
  add([](RegionScenario& c) { return std::exchange(c.link.reorder, 0.0) > 0; });
  add([](RegionScenario& c) { return std::exchange(c.link.tail_probability, 0.0) > 0; });
  add([](RegionScenario& c) { return std::exchange(c.payload_bytes, std::max<size_t>(8, c.payload_bytes / 2)) > 8; });
  add([&](RegionScenario& c) { return with_nodes(c, c.nodes - 1); });
  add([](RegionScenario& c) { return std::exchange(c.unordered, false); });
  return out;
}

std::vector<GmsScenario> Smaller(const GmsScenario& sc) {
  std::vector<GmsScenario> out;
  for (size_t i = 0; i < sc.events.size(); ++i) {
    out.push_back(sc);
    out.back().events.erase(out.back().events.begin() + static_cast<std::ptrdiff_t>(i));
  }
  for (size_t i = 0; i < sc.loads.size() && sc.loads.size() > 1; ++i) {
    out.push_back(sc);
    out.back().loads.erase(out.back().loads.begin() + static_cast<std::ptrdiff_t>(i));
  }
  if (std::any_of(sc.loads.begin(), sc.loads.end(), [](const GmsLoad& l) { return l.messages > 1; })) {
    out.push_back(sc);
    for (GmsLoad& l : out.back().loads) l.messages = std::max<uint64_t>(1, l.messages / 2);
  }
  if (sc.link.loss > 0 || sc.link.duplicate > 0 || sc.link.reorder > 0 || sc.link.tail_probability > 0) {
    out.push_back(sc);
    out.back().link = LinkModel{};
  }
  // The highest node, if no load or event names it.
  const auto n = static_cast<wire::NodeId>(sc.nodes);
  const bool named = std::any_of(sc.loads.begin(), sc.loads.end(), [n](const GmsLoad& l) { return l.node == n; }) ||
                     std::any_of(sc.events.begin(), sc.events.end(), [n](const GmsEvent& e) {
                       return e.node == n || std::find(e.nodes.begin(), e.nodes.end(), n) != e.nodes.end();
                     });
  if (sc.nodes > 2 && !named) {
    out.push_back(sc);
    out.back().nodes = sc.nodes - 1;
    if (out.back().groups.size() > out.back().nodes) out.back().groups.resize(out.back().nodes);
  }
  return out;
}

// Reduces a configuration for which `fails` holds to a smaller one for which it still holds:
// takes the first smaller variant that fails, again and again, until none does or `budget`
// runs were made. Deterministic: a replay of the seed shrinks the same way.
template <typename Scenario>
Scenario Shrink(Scenario sc, const std::function<bool(const Scenario&)>& fails, int budget, int& runs) {
  for (bool smaller = true; smaller && runs < budget;) {
    smaller = false;
    for (Scenario& c : Smaller(sc)) {
      if (runs >= budget) break;
      ++runs;
      if (fails(c)) {
        sc = std::move(c);
        smaller = true;
        break;
      }
    }
  }
  return sc;
}

// Runs seed `seed`'s configuration; on failure, shrinks it if `shrink` and reports both.
template <typename Scenario>
bool RunSeed(uint64_t seed, const Scenario& sc, bool shrink) {
  const Outcome o = Run(sc);
  std::printf("[ swarm %lu ] %s: %s\n", static_cast<unsigned long>(seed), o.ok ? "OK" : "FAILED", Describe(sc).c_str());
  if (o.ok) return true;
  std::string report = "swarm seed " + std::to_string(seed) + " (replay: QSM_SWARM=" + std::to_string(seed) + "-" +
                       std::to_string(seed) + ")\n  " + Describe(sc) + "\n  " + o.summary;
  if (shrink) {
    int runs = 0;
    const auto small = Shrink<Scenario>(
        sc, [](const Scenario& c) { return !Run(c).ok; }, /*budget=*/300, runs);
    report += "\n  shrunk in " + std::to_string(runs) + " runs to: " + Describe(small) + "\n  " + Run(small).summary;
  }
  ADD_FAILURE() << report;
  return false;
}

std::pair<uint64_t, uint64_t> SeedRange() {
  uint64_t first = 1, last = 120;
  if (const char* env = std::getenv("QSM_SWARM")) {
    if (std::sscanf(env, "%lu-%lu", &first, &last) != 2 || first > last) {
      ADD_FAILURE() << "QSM_SWARM must look like 1-120, not '" << env << "'";
      return {1, 0};
    }
  }
  return {first, last};
}

TEST(SwarmTest, DrawnConfigurationsAreSafeAndLive) {
  const auto [first, last] = SeedRange();
  // Stops after 5 failures; QSM_SWARM_ALL=1 runs the whole range (to count what fails). A failing
  // seed is shrunk when it is replayed alone (QSM_SWARM=N-N) or with QSM_SWARM_SHRINK=1.
  const int max_failures = std::getenv("QSM_SWARM_ALL") != nullptr ? INT32_MAX : 5;
  const bool shrink = first == last || std::getenv("QSM_SWARM_SHRINK") != nullptr;
  int failures = 0;
  for (uint64_t seed = first; seed <= last && failures < max_failures; ++seed) {
    Random kind(seed);
    const bool ok = kind.Bernoulli(0.7) ? RunSeed(seed, DrawRegion(seed), shrink) : RunSeed(seed, DrawGms(seed), shrink);
    if (!ok) ++failures;
  }
}

// The shrinker, on a made-up failure ("fails with 3 or more nodes and some link loss"): it keeps
// what the failure needs and removes the rest.
TEST(SwarmTest, TheShrinkerKeepsOnlyWhatTheFailureNeeds) {
  RegionScenario sc;
  sc.nodes = 40;
  sc.senders = 6;
  sc.groups = 100;
  sc.messages = 500;
  sc.payload_bytes = 4000;
  sc.link = LinkModel{.loss = 0.05, .duplicate = 0.01};
  sc.sleeps.push_back({30, 2s, 100ms});
  sc.inbound_loss.push_back({2, 0.1});
  sc.drop = DropMemberFault{20, 1s};
  int runs = 0;
  const auto small = Shrink<RegionScenario>(
      sc, [](const RegionScenario& c) { return c.nodes >= 3 && c.link.loss > 0; }, 1000, runs);
  EXPECT_EQ(small.nodes, 3u);
  EXPECT_EQ(small.senders, 1u);
  EXPECT_EQ(small.groups, 1u);
  EXPECT_EQ(small.messages, 1u);
  EXPECT_EQ(small.payload_bytes, 8u);
  EXPECT_GT(small.link.loss, 0);
  EXPECT_EQ(small.link.duplicate, 0);
  EXPECT_TRUE(small.sleeps.empty() && small.inbound_loss.empty() && !small.drop);
  EXPECT_LT(runs, 200);

  GmsScenario g = DrawGms(715);
  ASSERT_GE(g.events.size(), 3u);
  runs = 0;
  const auto gsmall = Shrink<GmsScenario>(
      g, [](const GmsScenario& c) { return c.events.size() >= 2; }, 1000, runs);
  EXPECT_EQ(gsmall.events.size(), 2u);
  EXPECT_EQ(gsmall.loads.size(), 1u);
  EXPECT_EQ(gsmall.loads[0].messages, 1u);
}

}  // namespace
}  // namespace qsm::sim
