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
  bool Next(OutgoingMessage& out) override {
    const TimePoint now = clock_.Now();
    Entry* best = nullptr;
    for (Entry& e : loads_) {
      if (e.sent >= e.load.messages || Due(e) > now) continue;
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
  std::optional<TimePoint> NextReady() const override {
    std::optional<TimePoint> next;
    for (const Entry& e : loads_) {
      if (e.sent < e.load.messages) next = next ? std::min(*next, Due(e)) : Due(e);
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

GmsResult RunGmsScenario(const GmsScenario& sc) {
  GmsResult result;
  Checker checker(result);
  const size_t n = sc.nodes;
  GmsHost* host = nullptr;
  std::vector<Node*> nodes(n + 1, nullptr);  // by node id
  std::vector<std::unique_ptr<LoadFeed>> feeds(n + 1);
  // Per (node, group): the current stretch of membership (0: not a member), and whether the node
  // has been in the group since the start.
  std::map<std::pair<wire::NodeId, wire::GroupId>, uint64_t> stretch;
  std::set<std::pair<wire::NodeId, wire::GroupId>> since_start;
  std::set<wire::NodeId> crashed;
  std::map<std::pair<wire::NodeId, wire::GroupId>, uint64_t> acked_at_crash;
  uint64_t next_stretch = 1;
  const TimePoint zero{};

  auto groups_of = [&](size_t id) {
    return sc.groups.size() >= id ? sc.groups[id - 1] : std::vector<wire::GroupId>{1};
  };
  Cluster cluster(ClusterConfig{.nodes = n + 1, .seed = sc.seed, .link = sc.link, .host = sc.host},
                  [&](NodeContext& ctx) -> std::unique_ptr<PacketHandler> {
                    if (ctx.index == 0) {
                      auto gms = std::make_unique<GmsHost>(sc.gms, ctx);
                      host = gms.get();
                      return gms;
                    }
                    const auto id = static_cast<wire::NodeId>(ctx.index);
                    NodeConfig config = sc.node;
                    config.id = id;
                    auto node = std::make_unique<Node>(config, ctx.scheduler, ctx.transport, ctx.random);
                    nodes[id] = node.get();
                    feeds[id] = std::make_unique<LoadFeed>(ctx.scheduler.clock(), zero);
                    for (const GmsLoad& load : sc.loads) {
                      if (load.node == id) feeds[id]->Add(load);
                    }
                    node->SetFeed(feeds[id].get());
                    node->SetDeliveryHandler([&, id](const Delivery& d) {
                      checker.OnDelivery(id, d, stretch[{id, d.group}]);
                    });
                    for (wire::GroupId g : groups_of(id)) {
                      (void)node->Join(g);
                      stretch[{id, g}] = next_stretch++;
                      since_start.insert({id, g});
                    }
                    return node;
                  });
  for (wire::NodeId id = 1; id <= n; ++id) {
    auto started =
        nodes[id]->StartMembership(membership::GmsClientConfig{.node = id,
                                                               .incarnation = 1,
                                                               .gms = cluster.endpoint(0),
                                                               .heartbeat_interval = sc.heartbeat_interval});
    QSM_CHECK(started.has_value(), "membership does not start");
  }

  // Events, in time order.
  std::vector<GmsEvent> events = sc.events;
  std::stable_sort(events.begin(), events.end(), [](const auto& a, const auto& b) { return a.at < b.at; });
  Duration last_activity{};
  for (const GmsLoad& load : sc.loads) {
    last_activity = std::max(
        last_activity,
        load.start + Duration(static_cast<int64_t>(static_cast<double>(load.messages) * 1e9 / load.rate)));
  }
  for (const GmsEvent& e : events) {
    cluster.RunUntil(zero + e.at);
    last_activity = std::max(last_activity, e.at + e.duration);
    switch (e.kind) {
      case GmsEvent::Kind::kJoin:
        (void)nodes[e.node]->Join(e.group);
        stretch[{e.node, e.group}] = next_stretch++;
        break;
      case GmsEvent::Kind::kLeave:
        nodes[e.node]->Leave(e.group);
        stretch[{e.node, e.group}] = 0;
        since_start.erase({e.node, e.group});
        break;
      case GmsEvent::Kind::kCrash:
        for (const auto& [key, value] : stretch) {
          if (key.first == e.node && value != 0)
            acked_at_crash[key] = nodes[e.node]->AcknowledgedThrough(key.second);
        }
        crashed.insert(e.node);
        cluster.network().SetHostDown(cluster.endpoint(e.node), true);
        cluster.Sleep(e.node, kForever);
        break;
      case GmsEvent::Kind::kRestartGms:
        host->Stop();
        cluster.network().SetHostDown(cluster.endpoint(0), true);
        cluster.RunUntil(zero + e.at + e.duration);
        cluster.network().SetHostDown(cluster.endpoint(0), false);
        host->Start();
        ++result.gms_restarts;
        break;
      case GmsEvent::Kind::kRegionLoss:
        for (wire::NodeId id : e.nodes) {
          cluster.network().AddInboundLossWindow(cluster.endpoint(id), zero + e.at, zero + e.at + e.duration);
        }
        break;
    }
  }
  // Run until every live sender's load is out and acknowledged, then settle.
  const TimePoint give_up = zero + sc.max_time;
  cluster.RunUntil(zero + last_activity);
  while (cluster.now() < give_up) {
    bool busy = false;
    for (wire::NodeId id = 1; id <= n; ++id) {
      if (crashed.contains(id)) continue;
      busy |= !feeds[id]->done() || nodes[id]->MemoryUse().pending_messages > 0;
    }
    if (!busy) break;
    cluster.RunFor(100ms);
  }
  cluster.RunFor(sc.settle);
  if (cluster.now() >= give_up)
    checker.Violation("did not finish within " + std::to_string(ToSeconds(sc.max_time)) + " s");

  // Rules 2-4, per live receiver and load.
  for (wire::NodeId r = 1; r <= n; ++r) {
    if (crashed.contains(r)) continue;
    for (const GmsLoad& load : sc.loads) {
      const wire::NodeId s = load.node;
      if (s == r) continue;
      const bool member_now = stretch[{r, load.group}] != 0;
      const bool stayer = member_now && since_start.contains({r, load.group});
      const Checker::Stream* st = checker.stream(r, s, load.group);
      const std::string who = "node " + std::to_string(r) + ", sender " + std::to_string(s) + ", group " +
                              std::to_string(load.group) + ": ";
      if (stayer && (st == nullptr || st->first != 1 || st->starts != 1)) {
        checker.Violation(who + "a stayer's deliveries do not start at 1 in one stretch");
      }
      if (!crashed.contains(s) && member_now) {
        const uint64_t sent = feeds[s]->sent(load.group);
        if (st == nullptr || st->last != sent) {
          checker.Violation(who + "delivered up to " + std::to_string(st ? st->last : 0) + " of " +
                            std::to_string(sent));
        }
      }
      if (crashed.contains(s) && stayer) {
        const uint64_t floor = acked_at_crash[{s, load.group}];
        if ((st ? st->last : 0) < floor) {
          checker.Violation(who + "delivered up to " + std::to_string(st ? st->last : 0) +
                            " of the crashed sender's, below the " + std::to_string(floor) +
                            " it had acknowledged");
        }
      }
    }
  }
  // Rule 5 and agreement: the GMS's regions hold exactly the live nodes with groups, and each
  // live node has installed its region's current view.
  const membership::Membership& m = host->gms()->membership();
  for (wire::NodeId id = 1; id <= n; ++id) {
    const bool live = !crashed.contains(id);
    const membership::NodeInfo* info = m.node(id);
    if (!live && info != nullptr)
      checker.Violation("crashed node " + std::to_string(id) + " is still a member");
    if (!live) continue;
    const auto regions = m.RegionsOf(id);
    const bool has_groups = std::any_of(stretch.begin(), stretch.end(),
                                        [&](const auto& e) { return e.first.first == id && e.second != 0; });
    if (has_groups && (info == nullptr || regions.size() != 1)) {
      checker.Violation("node " + std::to_string(id) + " is in " + std::to_string(regions.size()) +
                        " regions");
      continue;
    }
    result.region_of[id] = regions.empty() ? 0 : regions[0];
    if (regions.empty()) {
      if (nodes[id]->region().has_view()) checker.Violation("node " + std::to_string(id) + " kept a region");
      continue;
    }
    const membership::Region& region = *m.region(regions[0]);
    if (!nodes[id]->region().has_view() || nodes[id]->region().layout().view() != m.ViewOf(region)) {
      checker.Violation("node " + std::to_string(id) + " has not installed region " +
                        std::to_string(region.id) + " view " + std::to_string(region.view));
    }
    for (wire::NodeId member : region.members) {
      if (crashed.contains(member))
        checker.Violation("a region view still holds crashed node " + std::to_string(member));
    }
    if (nodes[id]->MemoryUse().pending_messages > 0) {
      checker.Violation("node " + std::to_string(id) + " still has messages pending ACK");
    }
  }
  for (const auto& [id, region] : m.regions()) {
    for (wire::GroupId g : region.signature) result.regions_of_group[g].push_back(id);
  }
  for (wire::NodeId id = 1; id <= n; ++id) {
    const NodeStats st = nodes[id]->Snapshot();
    result.view_changes += st.counter(Counter::kViewChanges);
    result.retransmits += st.counter(Counter::kRecoveryRetransmit);
    result.suspensions += st.counter(Counter::kSendSuspended);
    result.held_packets += st.counter(Counter::kHeldFutureView);
    if (st.counter(Counter::kDeliveryGaps) > 0)
      checker.Violation("node " + std::to_string(id) + " counted delivery gaps");
  }
  result.gms = host->gms()->stats();
  result.trace_hash = cluster.trace_hash();
  result.ok = result.violations.empty();
  return result;
}

}  // namespace qsm::sim
