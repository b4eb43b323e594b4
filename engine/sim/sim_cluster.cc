#include "engine/sim/sim_cluster.h"

#include <algorithm>
#include <string>

#include "engine/core/check.h"
#include "engine/core/hasher.h"

namespace qsm::sim {
namespace {

// A node that handles events forever without virtual time moving is a protocol bug (livelock).
constexpr int kMaxPassesAtOneInstant = 1'000'000;

}  // namespace

struct Cluster::Node {
  Node(const Clock& clock, SimNetwork& network, Endpoint ep, const HostModel& host, Random r,
       const std::shared_ptr<const ClusterKeys>& keys)
      : endpoint(ep), scheduler(clock, counters), transport(network.AddHost(ep, counters, host)), random(r) {
    if (keys) sealed.emplace(transport, counters, keys, /*salt=*/Random(r).Next());
  }
  // What the protocol sends and receives through.
  Transport& network() { return sealed ? static_cast<Transport&>(*sealed) : transport; }

  Endpoint endpoint;
  Counters counters;
  Scheduler scheduler;
  SimTransport& transport;
  std::optional<AuthenticatedTransport> sealed;
  Random random;
  std::unique_ptr<PacketHandler> protocol;
  std::unique_ptr<Dispatcher> dispatcher;
  TimePoint asleep_until{};
};

Cluster::Cluster(const ClusterConfig& config, const Factory& factory)
    : config_(config), network_(clock_, Random(config.seed).Next(), config.link) {
  Random seeds(config.seed ^ 0xc1a55e7ULL);
  for (size_t i = 0; i < config.nodes; ++i) {
    const auto offset = static_cast<uint32_t>(i + 1);
    const Endpoint ep{Endpoint::FromOctets(198, 18, 0, 0, 0).address + offset, config.port};
    HostModel host = config.host;
    if (config.keys) host.max_datagram_bytes += kAuthTrailerBytes;
    nodes_.push_back(std::make_unique<Node>(clock_, network_, ep, host, seeds.Fork(), config.keys));
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Node& n = *nodes_[i];
    NodeContext context{i, n.endpoint, n.scheduler, n.network(), n.random};
    n.protocol = factory(context);
    QSM_CHECK(n.protocol != nullptr, "Cluster factory returned no protocol");
    n.dispatcher = std::make_unique<Dispatcher>(n.scheduler, n.network(), *n.protocol);
  }
}

Cluster::~Cluster() {
  // Protocols may hold alarms and buffers: destroy them before the schedulers and transports.
  for (auto& n : nodes_) {
    n->dispatcher.reset();
    n->protocol.reset();
  }
}

Endpoint Cluster::endpoint(size_t i) const { return nodes_.at(i)->endpoint; }
Counters& Cluster::counters(size_t i) { return nodes_.at(i)->counters; }
Scheduler& Cluster::scheduler(size_t i) { return nodes_.at(i)->scheduler; }
PacketHandler& Cluster::protocol(size_t i) { return *nodes_.at(i)->protocol; }

void Cluster::Sleep(size_t i, TimePoint until) {
  Node& n = *nodes_.at(i);
  n.asleep_until = std::max(n.asleep_until, until);
}

bool Cluster::RunNodesNow() {
  bool any = false;
  const TimePoint now = clock_.Now();
  for (auto& n : nodes_) {
    if (n->asleep_until > now) continue;
    int passes = 0;
    while (n->scheduler.RunOnce()) {
      any = true;
      QSM_CHECK(++passes < kMaxPassesAtOneInstant,
                ("node livelocks at one virtual instant; seed " + std::to_string(config_.seed)).c_str());
    }
  }
  return any;
}

std::optional<TimePoint> Cluster::NextEventTime() {
  std::optional<TimePoint> next = network_.NextEventTime();
  auto consider = [&next](TimePoint t) { next = next ? std::min(*next, t) : t; };
  const TimePoint now = clock_.Now();
  for (auto& n : nodes_) {
    if (n->asleep_until > now) {
      consider(n->asleep_until);
      continue;
    }
    if (n->transport.pending_input() > 0) consider(now);
    if (auto t = n->scheduler.WakeupTime()) consider(std::max(*t, now));
  }
  return next;
}

void Cluster::RunUntil(TimePoint end) {
  int instants = 0;
  TimePoint last = clock_.Now();
  for (;;) {
    network_.RunDue();
    RunNodesNow();
    network_.RunDue();
    auto next = NextEventTime();
    if (!next || *next > end) {
      if (end > clock_.Now() && end != TimePoint::max()) clock_.AdvanceTo(end);
      return;
    }
    if (*next == last) {
      QSM_CHECK(++instants < kMaxPassesAtOneInstant,
                ("cluster livelocks at one virtual instant; seed " + std::to_string(config_.seed)).c_str());
    } else {
      instants = 0;
      last = *next;
    }
    clock_.AdvanceTo(*next);
  }
}

uint64_t Cluster::trace_hash() const {
  Hasher h;
  h.Add(network_.trace_hash());
  for (const auto& n : nodes_) {
    for (uint64_t v : n->counters.Snapshot()) h.Add(v);
  }
  return h.value();
}

}  // namespace qsm::sim
