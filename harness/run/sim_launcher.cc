// The sim launcher: every node an engine (a qsm::Node, or with engine.kind udp a UdpDriver) with
// its NodeWorkload on one simulated network (engine/sim), in virtual time. Faults map onto the simulator: sleep and pause stop a node's core
// thread; loss-burst and loss drop at the host's inbound side; crash takes the host down and the
// survivors install a view without it (or with gms, the GMS's failure detector removes it);
// partition splits the network until its window ends. With gms, one more host (after the nodes)
// runs the GMS, with its state in memory.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <set>

#include "engine/core/check.h"
#include "engine/membership/gms.h"
#include "engine/sim/sim_cluster.h"
#include "harness/drivers/udp_driver.h"
#include "harness/run/launcher.h"
#include "harness/workload/text.h"
#include "harness/workload/workload.h"

namespace qsm::harness {

namespace {

// sim::Cluster puts node i at kFirst + i + 1.
const Endpoint kFirst = Endpoint::FromOctets(198, 18, 0, 0, 7000);

// One simulated run: the cluster, a workload per node, the faults as timed actions, then the
// drain until every node is idle (or the deadline).
class SimRun {
 public:
  SimRun(const Scenario& scenario, const LaunchOptions& o, RunRecord record)
      : scenario_(scenario),
        o_(o),
        record_(std::move(record)),
        engines_(scenario.nodes, nullptr),
        alive_(scenario.nodes, true),
        cluster_(sim::ClusterConfig{.nodes = scenario.nodes + (scenario.gms ? 1u : 0u),
                                    .seed = scenario.seed,
                                    .port = kFirst.port,
                                    .keys = scenario.engine.auth ? SimKeys(scenario.seed) : nullptr},
                 [this](sim::NodeContext& ctx) { return MakeHost(ctx); }),
        start_(cluster_.now() + 100ms) {}

  // A key drawn from the seed, so a simulated run repeats byte for byte.
  static std::shared_ptr<const ClusterKeys> SimKeys(uint64_t seed) {
    Random random(seed ^ 0x6b6579ULL);
    ClusterKey key{.id = 1};
    for (auto& b : key.secret) b = static_cast<std::byte>(random.Next());
    return std::make_shared<const ClusterKeys>(std::vector{key});
  }

  Result<RunRecord> Run() {
    if (auto s = WritePlans(); !s) return std::unexpected(s.error());
    if (auto s = StartWorkloads(); !s) return std::unexpected(s.error());
    PlanFaults();
    if (!Drain() && !record_.interrupted)
      record_.incidents.push_back("the drain phase ended before every node had delivered everything");
    Finish();
    return std::move(record_);
  }

 private:
  struct Action {
    TimePoint at;
    std::function<void()> apply;
  };
  const ResolvedRun& run() const { return record_.run; }

  std::unique_ptr<PacketHandler> MakeHost(sim::NodeContext& ctx) {
    if (ctx.index == scenario_.nodes) {
      auto gms = std::make_unique<membership::Gms>(
          membership::GmsConfig{.failure_timeout = scenario_.gms->failure_timeout}, ctx.scheduler,
          ctx.transport, gms_state_);
      auto started = gms->Start();
      QSM_CHECK(started.has_value(), "a GMS with no saved state does not start");
      gms->SetCommitObserver([this, g = gms.get()](uint64_t epoch, const auto& changes) {
        gms_log_ += membership::DescribeCommit(g->membership(), epoch, changes);
      });
      return gms;
    }
    const NodePlan& plan = run().plans[ctx.index];
    if (plan.engine == "udp") {
      auto udp = std::make_unique<UdpDriver>(plan.node_id, ctx.scheduler, ctx.transport);
      engines_[ctx.index] = udp.get();
      return udp;
    }
    QSM_CHECK(plan.engine == "qsm", "the scenario parser admits only qsm and udp to the simulator");
    auto node = std::make_unique<Node>(NodeConfigOf(plan), ctx.scheduler, ctx.transport, ctx.random);
    qsm_drivers_.push_back(std::make_unique<QsmDriver>(*node));
    engines_[ctx.index] = qsm_drivers_.back().get();
    return node;
  }

  // As the process launchers do: `check` reads each node's groups in RUN/nodes.
  Status WritePlans() const {
    if (o_.run_dir.empty()) return {};
    const std::filesystem::path nodes_dir = std::filesystem::path(o_.run_dir) / "nodes";
    std::filesystem::create_directories(nodes_dir);
    for (const NodePlan& plan : run().plans) {
      const auto path = nodes_dir / ("node-" + std::to_string(plan.node_id) + ".plan.json");
      if (auto s = WriteFile(path.string(), PlanToJson(plan) + "\n"); !s) return s;
    }
    return {};
  }

  Status StartWorkloads() {
    for (uint32_t i = 0; i < scenario_.nodes; ++i) {
      workloads_.push_back(std::make_unique<NodeWorkload>(
          run().plans[i], *engines_[i], cluster_.scheduler(i), start_,
          NodeWorkload::Hooks{.stop_core = [this, i](TimePoint until) { cluster_.Sleep(i, until); },
                              .on_tick = [this](const Tick& t) { record_.ticks.push_back(t); }}));
      if (auto s = workloads_.back()->Start(); !s) return s;
    }
    return {};
  }

  // Faults as timed actions on the cluster, in time order.
  void PlanFaults() {
    SimNetwork& net = cluster_.network();
    for (const FaultWindow& w : run().windows) {
      const TimePoint begin = start_ + w.start, end = start_ + w.end;
      switch (w.type) {
        case FaultType::kSleep:
          break;  // in the plans: the workload stops the core thread
        case FaultType::kPause:
          for (uint32_t n : w.nodes)
            actions_.push_back({begin, [this, n, end] { cluster_.Sleep(n - 1, end); }});
          break;
        case FaultType::kLossBurst:
          for (uint32_t n : w.nodes) net.AddInboundLossWindow(cluster_.endpoint(n - 1), begin, end);
          break;
        case FaultType::kLoss:
          for (uint32_t n : w.nodes) {
            const Endpoint host = cluster_.endpoint(n - 1);
            actions_.push_back({begin, [&net, host, rate = w.rate] { net.SetInboundLoss(host, rate); }});
            actions_.push_back({end, [&net, host] { net.SetInboundLoss(host, 0); }});
          }
          break;
        case FaultType::kCrash:
          for (uint32_t n : w.nodes) actions_.push_back({begin, [this, n] { Crash(n); }});
          break;
        case FaultType::kPartition: {
          std::set<Endpoint> side;
          for (uint32_t n : w.nodes) side.insert(cluster_.endpoint(n - 1));
          actions_.push_back({begin, [&net, side] { net.Partition(side); }});
          actions_.push_back({end, [&net] { net.Heal(); }});
          break;
        }
      }
    }
    std::stable_sort(actions_.begin(), actions_.end(),
                     [](const Action& a, const Action& b) { return a.at < b.at; });
  }

  void Crash(uint32_t n) {
    if (!alive_[n - 1]) return;
    alive_[n - 1] = false;
    record_.crashed.insert(n);
    cluster_.network().SetHostDown(cluster_.endpoint(n - 1), true);
    cluster_.Sleep(n - 1, TimePoint::max());  // its core thread is gone too
    if (scenario_.gms) return;                // its failure detector removes the node
    for (uint32_t i = 0; i < scenario_.nodes; ++i) {
      if (alive_[i]) (void)workloads_[i]->ExcludeMembers({n});
    }
  }

  // Runs in 10 ms steps, firing the actions, until the load is over and every node is done, or
  // the drain deadline, or an interrupt. Returns whether every node is done.
  bool Drain() {
    const TimePoint load_end = start_ + scenario_.duration;
    const TimePoint deadline = load_end + scenario_.drain;
    size_t next = 0;
    for (TimePoint t = cluster_.now() + 10ms; t <= deadline; t += 10ms) {
      while (next < actions_.size() && actions_[next].at <= t) {
        cluster_.RunUntil(actions_[next].at);
        actions_[next++].apply();
      }
      cluster_.RunUntil(t);
      if (o_.interrupted != nullptr && o_.interrupted->load()) {
        record_.interrupted = true;
        return false;
      }
      if (t >= load_end && AllDone()) return true;
    }
    return false;
  }

  // Idle everywhere means every region acknowledged every message (see process_launcher.cc). An
  // unreliable engine is done once idle and 100 ms past the load, for what was in flight.
  bool AllDone() const {
    if (!GuaranteesOf(scenario_.engine.kind).reliable) {
      if (cluster_.now() < start_ + scenario_.duration + 100ms) return false;
      for (uint32_t i = 0; i < scenario_.nodes; ++i) {
        if (alive_[i] && (!engines_[i]->idle() || workloads_[i]->sending())) return false;
      }
      return true;
    }
    uint64_t sent = 0;
    for (uint32_t i = 0; i < scenario_.nodes; ++i) {
      if (alive_[i] && run().is_sender(i + 1)) sent += workloads_[i]->sent();
    }
    const bool all_groups = scenario_.membership.pattern == "all";
    for (uint32_t i = 0; i < scenario_.nodes; ++i) {
      if (!alive_[i]) continue;
      if (!engines_[i]->idle() || workloads_[i]->sending() || (all_groups && workloads_[i]->delivered() < sent))
        return false;
    }
    return true;
  }

  void Finish() {
    TrimWindows(record_.run.windows, cluster_.now() - start_);
    for (uint32_t i = 0; i < scenario_.nodes; ++i) {
      if (!alive_[i]) continue;
      record_.results[i + 1] =
          workloads_[i]->Finish(cluster_.now(), record_.interrupted ? "interrupted" : "completed");
    }
    std::stable_sort(record_.ticks.begin(), record_.ticks.end(), [](const Tick& a, const Tick& b) {
      return a.t_s < b.t_s || (a.t_s == b.t_s && a.node_id < b.node_id);
    });
    workloads_.clear();  // they hold the nodes' feeds and handlers; the cluster goes after them
    if (scenario_.gms && !o_.run_dir.empty()) {
      if (auto s = WriteFile((std::filesystem::path(o_.run_dir) / "gms.log").string(), gms_log_); !s)
        record_.incidents.push_back(s.error().message);
    }
  }

  const Scenario& scenario_;
  const LaunchOptions& o_;
  RunRecord record_;
  std::vector<EngineDriver*> engines_;                  // owned by the cluster, or qsm_drivers_
  std::vector<std::unique_ptr<QsmDriver>> qsm_drivers_;  // over the cluster's nodes
  std::vector<bool> alive_;
  membership::MemoryStore gms_state_;
  std::string gms_log_;  // written to RUN/gms.log, as qsm-gms prints it
  sim::Cluster cluster_;
  const TimePoint start_;
  std::vector<std::unique_ptr<NodeWorkload>> workloads_;  // after the cluster: destroyed before it
  std::vector<Action> actions_;
};

}  // namespace

Result<RunRecord> RunSimulation(const Scenario& scenario, const LaunchOptions& o) {
  const auto wall_begin = std::chrono::steady_clock::now();
  Addressing addressing{
      .endpoint =
          [](uint32_t id) {
            return Endpoint{kFirst.address + id, kFirst.port};
          },
      .interface = [](uint32_t id) { return kFirst.address + id; },
      .region_multicast = Endpoint::FromOctets(239, 18, 0, 1, 7400),
      .gms = Endpoint{kFirst.address + scenario.nodes + 1, kFirst.port},
  };
  auto resolved = Resolve(scenario, addressing);
  if (!resolved) return std::unexpected(resolved.error());
  RunRecord record;
  record.run = std::move(*resolved);
  record.simulated = true;
  record.started_at = UtcNow();
  auto result = SimRun(scenario, o, std::move(record)).Run();
  if (result)
    result->wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_begin).count();
  return result;
}

}  // namespace qsm::harness
