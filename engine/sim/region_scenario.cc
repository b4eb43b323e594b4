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
  bool Next(OutgoingMessage& out, const GroupReady& ready) override {
    const auto group = static_cast<wire::GroupId>(next_ % sc_.groups + 1);
    if (next_ >= sc_.messages || Paused() || !ready(group)) return false;  // strictly round robin
    out.group = group;
    out.payload.assign(payload_bytes_, std::byte{0x5a});
    std::memcpy(out.payload.data(), &next_, 8);
    ++next_;
    return true;
  }
  std::optional<TimePoint> NextReady(const GroupReady& /*ready*/) const override {
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

namespace {

// One run of a RegionScenario: one region view over every node, scripted senders and faults.
class RegionRun {
 public:
  explicit RegionRun(const RegionScenario& sc)
      : sc_(sc),
        checker_(result_),
        nodes_(sc.nodes, nullptr),
        alive_(sc.nodes, true),
        senders_(sc.first_sender < sc.nodes ? std::min(sc.senders, sc.nodes - sc.first_sender) : 0),
        cluster_(ClusterConfig{.nodes = sc.nodes, .seed = sc.seed, .link = sc.link, .host = sc.host, .keys = sc.keys},
                 [this](NodeContext& ctx) {
                   NodeConfig config = sc_.node;
                   config.id = static_cast<wire::NodeId>(ctx.index + 1);
                   auto node = std::make_unique<Node>(config, ctx.scheduler, ctx.transport, ctx.random);
                   nodes_[ctx.index] = node.get();
                   return node;
                 }) {}

  RegionResult Run() {
    if (Setup()) {
      RunScript();
      Collect();
      if (std::getenv("QSM_DEBUG") != nullptr) PrintWindows();
      result_.trace_hash = cluster_.trace_hash();
      if (sc_.on_finish) sc_.on_finish();
    }
    result_.ok = result_.violations.empty();
    return std::move(result_);
  }

 private:
  bool Setup() {
    std::vector<size_t> members(sc_.nodes);
    for (size_t i = 0; i < sc_.nodes; ++i) members[i] = i;
    const wire::RegionView view = ViewOf(cluster_, members, 1);
    for (size_t i = 0; i < sc_.nodes; ++i) {
      Node& node = *nodes_[i];
      if (auto s = node.InstallView(view); !s) {
        checker_.Violation("InstallView: " + s.error().ToString());
        return false;
      }
      for (size_t g = 1; g <= sc_.groups; ++g) (void)node.Join(static_cast<wire::GroupId>(g), sc_.unordered);
      node.SetDeliveryHandler([this, i](const Delivery& d) { checker_.OnDelivery(i, d, sc_.unordered); });
    }
    for (size_t s = sc_.first_sender; s < sc_.first_sender + senders_; ++s) {
      feeds_.push_back(std::make_unique<ScriptedFeed>(cluster_.clock(), sc_));
      nodes_[s]->SetFeed(feeds_.back().get());
    }
    for (const auto& f : sc_.inbound_loss) cluster_.network().SetInboundLoss(cluster_.endpoint(f.node), f.rate);
    for (const auto& f : sc_.loss_bursts) {
      for (Duration t = f.every; t < sc_.max_time; t += f.every) {
        cluster_.network().AddInboundLossWindow(cluster_.endpoint(f.node), TimePoint(t),
                                                TimePoint(t + f.duration));
      }
    }
    return true;
  }

  bool AllDelivered() const {
    for (size_t i = 0; i < sc_.nodes; ++i) {
      if (alive_[i] && checker_.delivered(i) < senders_ * sc_.messages) return false;
    }
    return true;
  }
  bool Quiet() const {
    for (size_t i = 0; i < sc_.nodes; ++i) {
      if (alive_[i] && !nodes_[i]->idle()) return false;
    }
    return true;
  }
  uint64_t Rounds() { return cluster_.counters(0).Get(Counter::kTokenRounds); }

  // Steps time in 10 ms slices, firing sleeps and the drop, until everything is delivered and
  // quiet (or max_time); then measures the token rounds of 3 s of idleness.
  void RunScript() {
    const Duration step = 10ms;
    bool complete = false;
    for (Duration t = step; t <= sc_.max_time; t += step) {
      for (const auto& f : sc_.sleeps) {
        if ((t - step) / f.every != t / f.every)
          cluster_.Sleep(f.node, TimePoint(t + f.duration));  // crossed k x every
      }
      if (sc_.drop && !dropped_ && t >= sc_.drop->at) Drop(sc_.drop->node);
      const uint64_t rounds_before = Rounds();
      cluster_.RunUntil(TimePoint(t));
      if (sc_.pause_after > 0 && t > sc_.resume_at - 1s && t <= sc_.resume_at)  // the pause's last second
        result_.rounds_during_pause += Rounds() - rounds_before;
      if (!complete && AllDelivered()) {
        complete = true;
        result_.completion_time = t;
        result_.rounds_at_completion = Rounds();
      }
      if (complete && Quiet()) break;
    }
    if (complete && Quiet()) {
      const uint64_t rounds = Rounds();
      cluster_.RunFor(3s);
      result_.rounds_after_idle = Rounds() - rounds;
    }
  }

  // Takes the node down and installs view 2 of the rest.
  void Drop(size_t victim) {
    dropped_ = true;
    alive_[victim] = false;
    cluster_.network().SetHostDown(cluster_.endpoint(victim), true);
    std::vector<size_t> rest;
    for (size_t i = 0; i < sc_.nodes; ++i) {
      if (alive_[i]) rest.push_back(i);
    }
    const wire::RegionView next = ViewOf(cluster_, rest, 2);
    for (size_t i : rest) (void)nodes_[i]->InstallView(next);
  }

  void Collect() {
    const uint64_t sent_total = senders_ * sc_.messages;
    for (size_t i = 0; i < sc_.nodes; ++i) {
      NodeStats stats = nodes_[i]->Snapshot();
      result_.region_rtt_ns.Merge(stats.region_rtt_ns);
      result_.delivery_latency_ns.push_back(stats.delivery_latency_ns);
      for (size_t c = 0; c < kCounterCount; ++c) result_.totals.counters[c] += stats.counters[c];
      if (!alive_[i]) continue;
      result_.expected += sent_total;
      result_.delivered += checker_.delivered(i);
      result_.pending_messages_at_end += stats.pending_messages;
      result_.cached_messages_at_end += stats.cached_messages;
      if (checker_.delivered(i) != sent_total) {
        checker_.Violation("node " + std::to_string(i + 1) + " delivered " +
                           std::to_string(checker_.delivered(i)) + " of " + std::to_string(sent_total));
      }
    }
    result_.token_rounds = result_.totals.counter(Counter::kTokenRounds);
    if (result_.pending_messages_at_end > 0)
      checker_.Violation(std::to_string(result_.pending_messages_at_end) +
                         " messages still pending ACK at the end");
    if (result_.cached_messages_at_end > 0)
      checker_.Violation(std::to_string(result_.cached_messages_at_end) +
                         " messages still cached at the end");
    if (result_.totals.counter(Counter::kDeliveryGaps) > 0)
      checker_.Violation("delivery gaps counted by a node");
    // Nothing here forges: every packet must pass the key and the view's source and round checks.
    for (Counter c : {Counter::kDroppedAuth, Counter::kDroppedSource, Counter::kDroppedTokenRound}) {
      if (result_.totals.counter(c) > 0) {
        checker_.Violation(std::to_string(result_.totals.counter(c)) + " packets counted as " +
                           std::string(CounterName(c)) + " with no forger");
      }
    }
  }

  void PrintWindows() const {
    for (size_t i = 0; i < sc_.nodes; ++i) {
      std::fprintf(stderr, "node %zu:", i + 1);
      for (size_t s = sc_.first_sender; s < sc_.first_sender + senders_; ++s) {
        if (auto w = nodes_[i]->region().WindowOf(static_cast<wire::NodeId>(s + 1))) {
          std::fprintf(stderr, " from %zu [%llu..%llu]", s + 1, static_cast<unsigned long long>(w->first),
                       static_cast<unsigned long long>(w->second));
        }
      }
      NodeStats st = nodes_[i]->Snapshot();
      std::fprintf(stderr, " pending %zu cached %zu\n", st.pending_messages, st.cached_messages);
    }
  }

  const RegionScenario& sc_;
  RegionResult result_;
  DeliveryChecker checker_;
  std::vector<std::unique_ptr<ScriptedFeed>> feeds_;
  std::vector<Node*> nodes_;
  std::vector<bool> alive_;
  bool dropped_ = false;
  const size_t senders_;
  Cluster cluster_;  // last, destroyed first: its protocols hold references to the feeds and checker
};

}  // namespace

RegionResult RunRegionScenario(const RegionScenario& sc) { return RegionRun(sc).Run(); }

}  // namespace qsm::sim
