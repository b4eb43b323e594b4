#include "engine/sim/gms_scenario.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include "engine/core/check.h"

namespace qsm::sim {
namespace {

constexpr size_t kMaxViolations = 12;
constexpr TimePoint kForever = TimePoint(Duration(std::numeric_limits<int64_t>::max() / 2));

// Host 0: the GMS, which can be stopped and started again from its store.
class GmsHost final : public PacketHandler {
 public:
  GmsHost(const membership::GmsConfig& config, NodeContext& ctx)
      : config_(config), scheduler_(ctx.scheduler), transport_(ctx.transport) {
    Start();
  }
  void OnPacket(const wire::Packet& packet, std::span<const std::byte> datagram, const Endpoint& from,
                TimePoint at) override {
    if (gms_) gms_->OnPacket(packet, datagram, from, at);
  }
  void Stop() { gms_.reset(); }
  void Start() {
    gms_ = std::make_unique<membership::Gms>(config_, scheduler_, transport_, store_);
    auto started = gms_->Start();
    QSM_CHECK(started.has_value(), "the GMS does not start from its own state");
  }
  membership::Gms* gms() { return gms_.get(); }

 private:
  membership::GmsConfig config_;
  Scheduler& scheduler_;  // the cluster's, which outlives this host
  Transport& transport_;
  membership::MemoryStore store_;
  std::unique_ptr<membership::Gms> gms_;
};

// A node's loads: message i of a load is due at start + i / rate; payloads carry i.
class LoadFeed final : public MessageFeed {
 public:
  LoadFeed(const Clock& clock, TimePoint zero) : clock_(clock), zero_(zero) {}
  void Add(const GmsLoad& load) { loads_.push_back({load, 0}); }
  bool Next(OutgoingMessage& out, const GroupReady& ready) override {
    const TimePoint now = clock_.Now();
    Entry* best = nullptr;
    for (Entry& e : loads_) {
      if (e.sent >= e.load.messages || Due(e) > now || !ready(e.load.group)) continue;
      if (best == nullptr || Due(e) < Due(*best)) best = &e;
    }
    if (best == nullptr) return false;
    out.group = best->load.group;
    out.intended = Due(*best);
    out.payload.assign(64, std::byte{0x5a});
    std::memcpy(out.payload.data(), &best->sent, 8);
    ++best->sent;
    return true;
  }
  std::optional<TimePoint> NextReady(const GroupReady& ready) const override {
    std::optional<TimePoint> next;
    for (const Entry& e : loads_) {
      if (e.sent < e.load.messages && ready(e.load.group)) next = next ? std::min(*next, Due(e)) : Due(e);
    }
    return next;
  }
  uint64_t sent(wire::GroupId group) const {
    uint64_t n = 0;
    for (const Entry& e : loads_) n += e.load.group == group ? e.sent : 0;
    return n;
  }
  bool done() const {
    return std::all_of(loads_.begin(), loads_.end(),
                       [](const Entry& e) { return e.sent >= e.load.messages; });
  }

 private:
  struct Entry {
    GmsLoad load;
    uint64_t sent;
  };
  TimePoint Due(const Entry& e) const {
    return zero_ + e.load.start +
           Duration(static_cast<int64_t>(static_cast<double>(e.sent) * 1e9 / std::max(e.load.rate, 1e-3)));
  }
  const Clock& clock_;
  TimePoint zero_;
  std::vector<Entry> loads_;
};

class Checker {
 public:
  explicit Checker(GmsResult& result) : result_(result) {}
  void Violation(const std::string& what) {
    if (result_.violations.size() < kMaxViolations) result_.violations.push_back(what);
  }
  // Rule 1, as deliveries happen.
  void OnDelivery(wire::NodeId receiver, const Delivery& d, uint64_t stretch) {
    Stream& s = streams_[{receiver, d.sender, d.group}];
    if (s.stretch != stretch || s.count == 0) {
      s = Stream{
          .stretch = stretch, .first = d.group_seq, .last = d.group_seq, .count = 1, .starts = s.starts + 1};
    } else if (d.group_seq != s.last + 1) {
      Violation("node " + std::to_string(receiver) + " delivered seq " + std::to_string(d.group_seq) +
                " of group " + std::to_string(d.group) + " from node " + std::to_string(d.sender) +
                " after seq " + std::to_string(s.last) + (d.group_seq <= s.last ? " (duplicate)" : " (gap)"));
    } else {
      s.last = d.group_seq;
      ++s.count;
    }
    ++result_.delivered;
  }
  struct Stream {
    uint64_t stretch = 0;
    uint64_t first = 0, last = 0, count = 0;
    uint64_t starts = 0;  // stretches seen
  };
  const Stream* stream(wire::NodeId r, wire::NodeId s, wire::GroupId g) const {
    auto it = streams_.find({r, s, g});
    return it == streams_.end() ? nullptr : &it->second;
  }

 private:
  GmsResult& result_;
  std::map<std::tuple<wire::NodeId, wire::NodeId, wire::GroupId>, Stream> streams_;
};

}  // namespace

std::string GmsResult::Summary() const {
  std::ostringstream out;
  out << (ok ? "OK" : "FAILED") << ": delivered " << delivered << ", view changes " << view_changes
      << ", GMS commits " << gms.commits << " failures " << gms.failures << " departures " << gms.departures
      << " snapshots " << gms.snapshots_sent << " restarts " << gms_restarts << ", retransmits "
      << retransmits << ", suspensions " << suspensions << ", held packets " << held_packets;
  for (const auto& v : violations) out << "\n  violation: " << v;
  return out.str();
}

namespace {

using NodeGroup = std::pair<wire::NodeId, wire::GroupId>;

// One run of a GmsScenario: builds the cluster, plays the events, runs to quiet, then checks.
class GmsRun {
 public:
  explicit GmsRun(const GmsScenario& sc)
      : sc_(sc),
        n_(sc.nodes),
        checker_(result_),
        nodes_(n_ + 1, nullptr),
        feeds_(n_ + 1),
        cluster_(ClusterConfig{.nodes = n_ + 1, .seed = sc.seed, .link = sc.link, .host = sc.host, .keys = sc.keys},
                 [this](NodeContext& ctx) { return MakeHost(ctx); }) {}

  GmsResult Run() {
    StartMembership();
    PlayEvents();
    RunUntilQuiet();
    CheckDeliveries();
    CheckRegions();
    CheckNothingForged();
    CollectStats();
    result_.ok = result_.violations.empty();
    return std::move(result_);
  }

 private:
  std::vector<wire::GroupId> GroupsOf(size_t id) const {
    return sc_.groups.size() >= id ? sc_.groups[id - 1] : std::vector<wire::GroupId>{1};
  }
  bool Crashed(wire::NodeId id) const { return crashed_.contains(id); }

  std::unique_ptr<PacketHandler> MakeHost(NodeContext& ctx) {
    if (ctx.index == 0) {
      auto gms = std::make_unique<GmsHost>(sc_.gms, ctx);
      host_ = gms.get();
      return gms;
    }
    const auto id = static_cast<wire::NodeId>(ctx.index);
    NodeConfig config = sc_.node;
    config.id = id;
    auto node = std::make_unique<Node>(config, ctx.scheduler, ctx.transport, ctx.random);
    nodes_[id] = node.get();
    feeds_[id] = std::make_unique<LoadFeed>(ctx.scheduler.clock(), kZero);
    for (const GmsLoad& load : sc_.loads) {
      if (load.node == id) feeds_[id]->Add(load);
    }
    node->SetFeed(feeds_[id].get());
    node->SetDeliveryHandler([this, id](const Delivery& d) {
      checker_.OnDelivery(id, d, stretch_[{id, d.group}]);
    });
    for (wire::GroupId g : GroupsOf(id)) {
      (void)node->Join(g);
      stretch_[{id, g}] = next_stretch_++;
      since_start_.insert({id, g});
    }
    return node;
  }

  void StartMembership() {
    for (wire::NodeId id = 1; id <= n_; ++id) {
      auto started = nodes_[id]->StartMembership(
          membership::GmsClientConfig{.node = id,
                                      .incarnation = 1,
                                      .gms = cluster_.endpoint(0),
                                      .heartbeat_interval = sc_.heartbeat_interval});
      QSM_CHECK(started.has_value(), "membership does not start");
    }
  }

  // Plays the events in time order; last_activity_ becomes the end of the last load or event.
  void PlayEvents() {
    std::vector<GmsEvent> events = sc_.events;
    std::stable_sort(events.begin(), events.end(), [](const auto& a, const auto& b) { return a.at < b.at; });
    for (const GmsLoad& load : sc_.loads) {
      last_activity_ = std::max(
          last_activity_,
          load.start + Duration(static_cast<int64_t>(static_cast<double>(load.messages) * 1e9 / load.rate)));
    }
    for (const GmsEvent& e : events) {
      cluster_.RunUntil(kZero + e.at);
      last_activity_ = std::max(last_activity_, e.at + e.duration);
      Play(e);
    }
  }

  void Play(const GmsEvent& e) {
    switch (e.kind) {
      case GmsEvent::Kind::kJoin:
        (void)nodes_[e.node]->Join(e.group);
        stretch_[{e.node, e.group}] = next_stretch_++;
        break;
      case GmsEvent::Kind::kLeave:
        nodes_[e.node]->Leave(e.group);
        stretch_[{e.node, e.group}] = 0;
        since_start_.erase({e.node, e.group});
        break;
      case GmsEvent::Kind::kCrash:
        for (const auto& [key, value] : stretch_) {
          if (key.first == e.node && value != 0)
            acked_at_crash_[key] = nodes_[e.node]->AcknowledgedThrough(key.second);
        }
        crashed_.insert(e.node);
        cluster_.network().SetHostDown(cluster_.endpoint(e.node), true);
        cluster_.Sleep(e.node, kForever);
        break;
      case GmsEvent::Kind::kRestartGms:
        host_->Stop();
        cluster_.network().SetHostDown(cluster_.endpoint(0), true);
        cluster_.RunUntil(kZero + e.at + e.duration);
        cluster_.network().SetHostDown(cluster_.endpoint(0), false);
        host_->Start();
        ++result_.gms_restarts;
        break;
      case GmsEvent::Kind::kRegionLoss:
        for (wire::NodeId id : e.nodes) {
          cluster_.network().AddInboundLossWindow(cluster_.endpoint(id), kZero + e.at,
                                                  kZero + e.at + e.duration);
        }
        break;
    }
  }

  // Runs until every live sender's load is out and acknowledged, then settles.
  void RunUntilQuiet() {
    const TimePoint give_up = kZero + sc_.max_time;
    cluster_.RunUntil(kZero + last_activity_);
    while (cluster_.now() < give_up) {
      bool busy = false;
      for (wire::NodeId id = 1; id <= n_; ++id) {
        if (Crashed(id)) continue;
        busy |= !feeds_[id]->done() || nodes_[id]->MemoryUse().pending_messages > 0;
      }
      if (!busy) break;
      cluster_.RunFor(100ms);
    }
    cluster_.RunFor(sc_.settle);
    if (cluster_.now() >= give_up)
      checker_.Violation("did not finish within " + std::to_string(ToSeconds(sc_.max_time)) + " s");
  }

  // Nothing here forges: no host (the GMS included) may drop a packet as unauthenticated or as
  // from a source its view does not allow.
  void CheckNothingForged() {
    for (Counter c : {Counter::kDroppedAuth, Counter::kDroppedSource, Counter::kDroppedTokenRound}) {
      uint64_t total = 0;
      for (size_t i = 0; i <= n_; ++i) total += cluster_.counters(i).Get(c);
      if (total > 0) {
        checker_.Violation(std::to_string(total) + " packets counted as " + std::string(CounterName(c)) +
                           " with no forger");
      }
    }
  }

  // Rules 2-4, per live receiver and load.
  void CheckDeliveries() {
    for (wire::NodeId r = 1; r <= n_; ++r) {
      if (Crashed(r)) continue;
      for (const GmsLoad& load : sc_.loads) {
        if (load.node != r) CheckStream(r, load);
      }
    }
  }

  void CheckStream(wire::NodeId r, const GmsLoad& load) {
    const wire::NodeId s = load.node;
    const bool member_now = stretch_[{r, load.group}] != 0;
    const bool stayer = member_now && since_start_.contains({r, load.group});
    const Checker::Stream* st = checker_.stream(r, s, load.group);
    const uint64_t last = st ? st->last : 0;
    const std::string who = "node " + std::to_string(r) + ", sender " + std::to_string(s) + ", group " +
                            std::to_string(load.group) + ": ";
    if (stayer && (st == nullptr || st->first != 1 || st->starts != 1))
      checker_.Violation(who + "a stayer's deliveries do not start at 1 in one stretch");
    if (!Crashed(s) && member_now) {
      const uint64_t sent = feeds_[s]->sent(load.group);
      if (last != sent)
        checker_.Violation(who + "delivered up to " + std::to_string(last) + " of " + std::to_string(sent));
    }
    if (Crashed(s) && stayer) {
      const uint64_t floor = acked_at_crash_[{s, load.group}];
      if (last < floor) {
        checker_.Violation(who + "delivered up to " + std::to_string(last) +
                           " of the crashed sender's, below the " + std::to_string(floor) +
                           " it had acknowledged");
      }
    }
  }

  // Rule 5 and agreement: the GMS's regions hold exactly the live nodes with groups, and each
  // live node has installed its region's current view.
  void CheckRegions() {
    const membership::Membership& m = host_->gms()->membership();
    for (wire::NodeId id = 1; id <= n_; ++id) {
      const membership::NodeInfo* info = m.node(id);
      if (Crashed(id)) {
        if (info != nullptr) checker_.Violation("crashed node " + std::to_string(id) + " is still a member");
        continue;
      }
      CheckRegionOf(m, id, info);
    }
    for (const auto& [id, region] : m.regions()) {
      for (wire::GroupId g : region.signature) result_.regions_of_group[g].push_back(id);
    }
  }

  void CheckRegionOf(const membership::Membership& m, wire::NodeId id, const membership::NodeInfo* info) {
    const auto regions = m.RegionsOf(id);
    const bool has_groups = std::any_of(stretch_.begin(), stretch_.end(),
                                        [&](const auto& e) { return e.first.first == id && e.second != 0; });
    if (has_groups && (info == nullptr || regions.size() != 1)) {
      checker_.Violation("node " + std::to_string(id) + " is in " + std::to_string(regions.size()) +
                         " regions");
      return;
    }
    result_.region_of[id] = regions.empty() ? 0 : regions[0];
    if (regions.empty()) {
      if (nodes_[id]->region().has_view())
        checker_.Violation("node " + std::to_string(id) + " kept a region");
      return;
    }
    const membership::Region& region = *m.region(regions[0]);
    if (!nodes_[id]->region().has_view() || nodes_[id]->region().layout().view() != m.ViewOf(region)) {
      checker_.Violation("node " + std::to_string(id) + " has not installed region " +
                         std::to_string(region.id) + " view " + std::to_string(region.view));
    }
    for (wire::NodeId member : region.members) {
      if (Crashed(member))
        checker_.Violation("a region view still holds crashed node " + std::to_string(member));
    }
    if (nodes_[id]->MemoryUse().pending_messages > 0)
      checker_.Violation("node " + std::to_string(id) + " still has messages pending ACK");
  }

  void CollectStats() {
    for (wire::NodeId id = 1; id <= n_; ++id) {
      const NodeStats st = nodes_[id]->Snapshot();
      result_.view_changes += st.counter(Counter::kViewChanges);
      result_.retransmits += st.counter(Counter::kRecoveryRetransmit);
      result_.suspensions += st.counter(Counter::kSendSuspended);
      result_.held_packets += st.counter(Counter::kHeldFutureView);
      result_.catch_up_skipped += st.counter(Counter::kCatchUpSkipped);
      if (st.counter(Counter::kDeliveryGaps) > 0)
        checker_.Violation("node " + std::to_string(id) + " counted delivery gaps");
    }
    result_.gms = host_->gms()->stats();
    result_.trace_hash = cluster_.trace_hash();
  }

  static constexpr TimePoint kZero{};
  const GmsScenario& sc_;
  const size_t n_;
  GmsResult result_;
  Checker checker_;
  GmsHost* host_ = nullptr;
  std::vector<Node*> nodes_;  // by node id
  std::vector<std::unique_ptr<LoadFeed>> feeds_;
  // Per (node, group): the current stretch of membership (0: not a member), and whether the node
  // has been in the group since the start.
  std::map<NodeGroup, uint64_t> stretch_;
  std::set<NodeGroup> since_start_;
  uint64_t next_stretch_ = 1;
  std::set<wire::NodeId> crashed_;
  std::map<NodeGroup, uint64_t> acked_at_crash_;
  Duration last_activity_{};
  Cluster cluster_;  // last: its hosts hold callbacks into the members above
};

}  // namespace

GmsResult RunGmsScenario(const GmsScenario& sc) { return GmsRun(sc).Run(); }

}  // namespace qsm::sim
