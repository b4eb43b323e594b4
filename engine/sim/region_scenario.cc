#include "engine/sim/region_scenario.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

namespace qsm::sim {
namespace {

constexpr size_t kMaxViolations = 10;

// Sends `count` messages round robin over the groups, each payload starting with its index;
// optionally pausing after `pause_after` until `resume_at`.
class ScriptedFeed final : public MessageFeed {
 public:
  ScriptedFeed(const Clock& clock, const RegionScenario& sc)
      : clock_(clock), sc_(sc), payload_bytes_(std::max<size_t>(sc.payload_bytes, 8)) {}
  bool Next(OutgoingMessage& out) override {
    if (next_ >= sc_.messages || Paused()) return false;
    out.group = static_cast<wire::GroupId>(next_ % sc_.groups + 1);
    out.payload.assign(payload_bytes_, std::byte{0x5a});
    std::memcpy(out.payload.data(), &next_, 8);
    ++next_;
    return true;
  }
  std::optional<TimePoint> NextReady() const override {
    if (next_ < sc_.messages && Paused()) return TimePoint(sc_.resume_at);
    return std::nullopt;
  }

 private:
  bool Paused() const {
    return sc_.pause_after > 0 && next_ >= sc_.pause_after && clock_.Now() < TimePoint(sc_.resume_at);
  }
  const Clock& clock_;
  const RegionScenario& sc_;
  uint64_t next_ = 0;
  size_t payload_bytes_;
};

// Checks deliveries as they happen: per (receiver, sender, group) group seqs 1, 2, 3, ...
class DeliveryChecker {
 public:
  explicit DeliveryChecker(RegionResult& result) : result_(result) {}
  void OnDelivery(size_t receiver, const Delivery& d, bool unordered) {
    const std::tuple<size_t, wire::NodeId, wire::GroupId> key{receiver, d.sender, d.group};
    if (unordered) {
      if (!seen_[key].insert(d.group_seq).second) {
        Violation("node " + std::to_string(receiver + 1) + " got group " + std::to_string(d.group) + " seq " +
                  std::to_string(d.group_seq) + " from node " + std::to_string(d.sender) + " twice");
      }
    } else {
      uint64_t& last = last_[key];
      if (d.group_seq != last + 1) {
        Violation("node " + std::to_string(receiver + 1) + " got group " + std::to_string(d.group) + " seq " +
                  std::to_string(d.group_seq) + " from node " + std::to_string(d.sender) + " after seq " +
                  std::to_string(last) + (d.group_seq <= last ? " (duplicate)" : " (gap or reorder)"));
      }
      last = std::max(last, d.group_seq);
    }
    ++per_receiver_[receiver];
  }
  uint64_t delivered(size_t receiver) const {
    auto it = per_receiver_.find(receiver);
    return it == per_receiver_.end() ? 0 : it->second;
  }
  void Violation(std::string what) {
    if (result_.violations.size() < kMaxViolations) result_.violations.push_back(std::move(what));
  }

 private:
  RegionResult& result_;
  std::map<std::tuple<size_t, wire::NodeId, wire::GroupId>, uint64_t> last_;
  std::map<std::tuple<size_t, wire::NodeId, wire::GroupId>, std::set<uint64_t>> seen_;
  std::map<size_t, uint64_t> per_receiver_;
};

wire::RegionView ViewOf(const Cluster& cluster, const std::vector<size_t>& members, uint32_t view_number) {
  wire::RegionView view{.id = {1, view_number}, .multicast = Endpoint::FromOctets(239, 18, 0, 1, 7400)};
  for (size_t i : members) view.members.push_back({static_cast<wire::NodeId>(i + 1), cluster.endpoint(i)});
  return view;
}

}  // namespace

std::string RegionResult::Summary() const {
  std::ostringstream out;
  out << (ok ? "OK" : "FAILED") << ": delivered " << delivered << "/" << expected << " in "
      << ToSeconds(completion_time) << " s virtual, " << token_rounds << " token rounds, region RTT p50 "
      << region_rtt_ns.Quantile(0.5) / 1000 << " us p99 " << region_rtt_ns.Quantile(0.99) / 1000
      << " us, pending at end " << pending_messages_at_end << ", cached at end " << cached_messages_at_end
      << ", recovery push/pull/nak/retransmit " << totals.counter(Counter::kRecoveryPush) << "/"
      << totals.counter(Counter::kRecoveryPull) << "/" << totals.counter(Counter::kRecoveryNak) << "/"
      << totals.counter(Counter::kRecoveryRetransmit) << ", regenerated tokens "
      << totals.counter(Counter::kTokensRegenerated);
  for (const auto& v : violations) out << "\n  violation: " << v;
  return out.str();
}

RegionResult RunRegionScenario(const RegionScenario& sc) {
  RegionResult result;
  DeliveryChecker checker(result);
  std::vector<std::unique_ptr<ScriptedFeed>> feeds;
  std::vector<Node*> nodes(sc.nodes, nullptr);

  Cluster cluster(ClusterConfig{.nodes = sc.nodes, .seed = sc.seed, .link = sc.link, .host = sc.host},
                  [&](NodeContext& ctx) {
                    NodeConfig config = sc.node;
                    config.id = static_cast<wire::NodeId>(ctx.index + 1);
                    auto node = std::make_unique<Node>(config, ctx.scheduler, ctx.transport, ctx.random);
                    nodes[ctx.index] = node.get();
                    return node;
                  });
  std::vector<size_t> members(sc.nodes);
  for (size_t i = 0; i < sc.nodes; ++i) members[i] = i;
  const wire::RegionView view = ViewOf(cluster, members, 1);
  for (size_t i = 0; i < sc.nodes; ++i) {
    Node& node = *nodes[i];
    if (auto s = node.InstallView(view); !s) {
      checker.Violation("InstallView: " + s.error().ToString());
      return result;
    }
    for (size_t g = 1; g <= sc.groups; ++g) (void)node.Join(static_cast<wire::GroupId>(g), sc.unordered);
    node.SetDeliveryHandler(
        [&checker, i, &sc](const Delivery& d) { checker.OnDelivery(i, d, sc.unordered); });
  }
  const size_t senders = sc.first_sender < sc.nodes ? std::min(sc.senders, sc.nodes - sc.first_sender) : 0;
  for (size_t s = sc.first_sender; s < sc.first_sender + senders; ++s) {
    feeds.push_back(std::make_unique<ScriptedFeed>(cluster.clock(), sc));
    nodes[s]->SetFeed(feeds.back().get());
  }
  for (const auto& f : sc.loss_bursts) {
    for (Duration t = f.every; t < sc.max_time; t += f.every) {
      cluster.network().AddInboundLossWindow(cluster.endpoint(f.node), TimePoint(t),
                                             TimePoint(t + f.duration));
    }
  }

  std::vector<bool> alive(sc.nodes, true);
  bool dropped = false;
  auto all_delivered = [&] {
    for (size_t i = 0; i < sc.nodes; ++i) {
      if (alive[i] && checker.delivered(i) < senders * sc.messages) return false;
    }
    return true;
  };
  auto quiet = [&] {
    for (size_t i = 0; i < sc.nodes; ++i) {
      if (alive[i] && !nodes[i]->idle()) return false;
    }
    return true;
  };

  const Duration step = 10ms;
  bool complete = false;
  for (Duration t = step; t <= sc.max_time; t += step) {
    for (const auto& f : sc.sleeps) {
      if ((t - step) / f.every != t / f.every)
        cluster.Sleep(f.node, TimePoint(t + f.duration));  // crossed k x every
    }
    if (sc.drop && !dropped && t >= sc.drop->at) {
      dropped = true;
      alive[sc.drop->node] = false;
      cluster.network().SetHostDown(cluster.endpoint(sc.drop->node), true);
      std::vector<size_t> rest;
      for (size_t i = 0; i < sc.nodes; ++i) {
        if (alive[i]) rest.push_back(i);
      }
      const wire::RegionView next = ViewOf(cluster, rest, 2);
      for (size_t i : rest) (void)nodes[i]->InstallView(next);
    }
    const uint64_t rounds_before = cluster.counters(0).Get(Counter::kTokenRounds);
    cluster.RunUntil(TimePoint(t));
    if (sc.pause_after > 0 && t > sc.resume_at - 1s && t <= sc.resume_at) {  // the pause's last second
      result.rounds_during_pause += cluster.counters(0).Get(Counter::kTokenRounds) - rounds_before;
    }
    if (!complete && all_delivered()) {
      complete = true;
      result.completion_time = t;
      result.rounds_at_completion = cluster.counters(0).Get(Counter::kTokenRounds);
    }
    if (complete && quiet()) break;
  }
  if (complete && quiet()) {
    const uint64_t rounds = cluster.counters(0).Get(Counter::kTokenRounds);
    cluster.RunFor(3s);
    result.rounds_after_idle = cluster.counters(0).Get(Counter::kTokenRounds) - rounds;
  }

  const uint64_t sent_total = senders * sc.messages;
  for (size_t i = 0; i < sc.nodes; ++i) {
    NodeStats stats = nodes[i]->Snapshot();
    result.region_rtt_ns.Merge(stats.region_rtt_ns);
    for (size_t c = 0; c < kCounterCount; ++c) result.totals.counters[c] += stats.counters[c];
    if (!alive[i]) continue;
    result.expected += sent_total;
    result.delivered += checker.delivered(i);
    result.pending_messages_at_end += stats.pending_messages;
    result.cached_messages_at_end += stats.cached_messages;
    if (checker.delivered(i) != sent_total) {
      checker.Violation("node " + std::to_string(i + 1) + " delivered " +
                        std::to_string(checker.delivered(i)) + " of " + std::to_string(sent_total));
    }
  }
  result.token_rounds = result.totals.counter(Counter::kTokenRounds);
  if (result.pending_messages_at_end > 0) {
    checker.Violation(std::to_string(result.pending_messages_at_end) +
                      " messages still pending ACK at the end");
  }
  if (result.cached_messages_at_end > 0) {
    checker.Violation(std::to_string(result.cached_messages_at_end) + " messages still cached at the end");
  }
  if (result.totals.counter(Counter::kDeliveryGaps) > 0) checker.Violation("delivery gaps counted by a node");
  if (std::getenv("QSM_DEBUG") != nullptr) {
    for (size_t i = 0; i < sc.nodes; ++i) {
      std::fprintf(stderr, "node %zu:", i + 1);
      for (size_t s = sc.first_sender; s < sc.first_sender + senders; ++s) {
        if (auto w = nodes[i]->region().WindowOf(static_cast<wire::NodeId>(s + 1))) {
          std::fprintf(stderr, " from %zu [%llu..%llu]", s + 1, static_cast<unsigned long long>(w->first),
                       static_cast<unsigned long long>(w->second));
        }
      }
      NodeStats st = nodes[i]->Snapshot();
      std::fprintf(stderr, " pending %zu cached %zu\n", st.pending_messages, st.cached_messages);
    }
  }
  result.trace_hash = cluster.trace_hash();
  if (sc.on_finish) sc.on_finish();
  result.ok = result.violations.empty();
  // Protocols hold references to the feeds and checker: destroy the cluster first.
  return result;
}

}  // namespace qsm::sim
