// The sim launcher: every node a qsm::Node with its NodeWorkload on one simulated network
// (engine/sim), in virtual time. Faults map onto the simulator: sleep and pause stop a node's core
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
#include "harness/run/launcher.h"
#include "harness/workload/text.h"
#include "harness/workload/workload.h"

namespace qsm::harness {

Result<RunRecord> RunSimulation(const Scenario& scenario, const LaunchOptions& o) {
  const auto wall_begin = std::chrono::steady_clock::now();
  const Endpoint first = Endpoint::FromOctets(198, 18, 0, 0, 7000);  // sim::Cluster: node i at first + i + 1
  Addressing addressing{
      .endpoint =
          [&](uint32_t id) {
            return Endpoint{first.address + id, first.port};
          },
      .interface = [&](uint32_t id) { return first.address + id; },
      .region_multicast = Endpoint::FromOctets(239, 18, 0, 1, 7400),
      .gms = Endpoint{first.address + scenario.nodes + 1, first.port},
  };
  auto resolved = Resolve(scenario, addressing);
  if (!resolved) return std::unexpected(resolved.error());
  RunRecord record;
  record.run = std::move(*resolved);
  record.simulated = true;
  record.started_at = UtcNow();
  const ResolvedRun& run = record.run;

  std::vector<Node*> nodes(scenario.nodes, nullptr);
  membership::MemoryStore gms_state;
  std::string gms_log;  // written to RUN/gms.log, as qsm-gms prints it
  const uint32_t hosts = scenario.nodes + (scenario.gms ? 1 : 0);
  sim::Cluster cluster(sim::ClusterConfig{.nodes = hosts, .seed = scenario.seed, .port = first.port},
                       [&](sim::NodeContext& ctx) -> std::unique_ptr<PacketHandler> {
                         if (ctx.index == scenario.nodes) {
                           auto gms = std::make_unique<membership::Gms>(
                               membership::GmsConfig{.failure_timeout = scenario.gms->failure_timeout},
                               ctx.scheduler, ctx.transport, gms_state);
                           auto started = gms->Start();
                           QSM_CHECK(started.has_value(), "a GMS with no saved state does not start");
                           gms->SetCommitObserver([&, g = gms.get()](uint64_t epoch, const auto& changes) {
                             gms_log += membership::DescribeCommit(g->membership(), epoch, changes);
                           });
                           return gms;
                         }
                         const NodePlan& plan = run.plans[ctx.index];
                         NodeConfig config{.id = plan.node_id,
                                           .region = RegionConfig{.replication = plan.replication,
                                                                  .token_rate = plan.token_rate},
                                           .window = SenderWindow{.max_messages = plan.window_messages},
                                           .max_payload_bytes = std::max<size_t>(plan.message_size, 8)};
                         auto node = std::make_unique<Node>(config, ctx.scheduler, ctx.transport, ctx.random);
                         nodes[ctx.index] = node.get();
                         return node;
                       });
  if (!o.run_dir.empty()) {  // as the process launchers do: `check` reads each node's groups there
    const std::filesystem::path nodes_dir = std::filesystem::path(o.run_dir) / "nodes";
    std::filesystem::create_directories(nodes_dir);
    for (const NodePlan& plan : run.plans) {
      const auto path = nodes_dir / ("node-" + std::to_string(plan.node_id) + ".plan.json");
      if (auto s = WriteFile(path.string(), PlanToJson(plan) + "\n"); !s) return std::unexpected(s.error());
    }
  }
  const TimePoint start = cluster.now() + 100ms;
  std::vector<std::unique_ptr<NodeWorkload>> workloads;
  for (uint32_t i = 0; i < scenario.nodes; ++i) {
    workloads.push_back(std::make_unique<NodeWorkload>(
        run.plans[i], *nodes[i], cluster.scheduler(i), start,
        NodeWorkload::Hooks{.stop_core = [&cluster, i](TimePoint until) { cluster.Sleep(i, until); },
                            .on_tick = [&record](const Tick& t) { record.ticks.push_back(t); }}));
    if (auto s = workloads.back()->Start(); !s) return std::unexpected(s.error());
  }

  // Faults as timed actions on the cluster.
  struct Action {
    TimePoint at;
    std::function<void()> apply;
  };
  std::vector<Action> actions;
  std::vector<bool> alive(scenario.nodes, true);
  for (const FaultWindow& w : run.windows) {
    const TimePoint begin = start + w.start, end = start + w.end;
    switch (w.type) {
      case FaultType::kSleep:
        break;  // in the plans: the workload stops the core thread
      case FaultType::kPause:
        for (uint32_t n : w.nodes)
          actions.push_back({begin, [&cluster, n, end] { cluster.Sleep(n - 1, end); }});
        break;
      case FaultType::kLossBurst:
        for (uint32_t n : w.nodes)
          cluster.network().AddInboundLossWindow(cluster.endpoint(n - 1), begin, end);
        break;
      case FaultType::kLoss:
        for (uint32_t n : w.nodes) {
          const double rate = w.rate;
          actions.push_back({begin, [&cluster, n, rate] {
                               cluster.network().SetInboundLoss(cluster.endpoint(n - 1), rate);
                             }});
          actions.push_back(
              {end, [&cluster, n] { cluster.network().SetInboundLoss(cluster.endpoint(n - 1), 0); }});
        }
        break;
      case FaultType::kCrash:
        for (uint32_t n : w.nodes) {
          actions.push_back({begin, [&, n] {
                               if (!alive[n - 1]) return;
                               alive[n - 1] = false;
                               record.crashed.insert(n);
                               cluster.network().SetHostDown(cluster.endpoint(n - 1), true);
                               cluster.Sleep(n - 1, TimePoint::max());  // its core thread is gone too
                               if (scenario.gms) return;  // its failure detector removes the node
                               for (uint32_t i = 0; i < scenario.nodes; ++i) {
                                 if (alive[i]) (void)workloads[i]->ExcludeMembers({n});
                               }
                             }});
        }
        break;
      case FaultType::kPartition: {
        std::set<Endpoint> side;
        for (uint32_t n : w.nodes) side.insert(cluster.endpoint(n - 1));
        actions.push_back({begin, [&cluster, side] { cluster.network().Partition(side); }});
        actions.push_back({end, [&cluster] { cluster.network().Heal(); }});
        break;
      }
    }
  }
  std::stable_sort(actions.begin(), actions.end(),
                   [](const Action& a, const Action& b) { return a.at < b.at; });

  const TimePoint load_end = start + scenario.duration;
  const TimePoint deadline = load_end + scenario.drain;
  size_t next = 0;
  bool complete = false;
  for (TimePoint t = cluster.now() + 10ms; t <= deadline; t += 10ms) {
    while (next < actions.size() && actions[next].at <= t) {
      cluster.RunUntil(actions[next].at);
      actions[next++].apply();
    }
    cluster.RunUntil(t);
    if (o.interrupted != nullptr && o.interrupted->load()) {
      record.interrupted = true;
      break;
    }
    if (t < load_end) continue;
    uint64_t sent = 0;
    for (uint32_t i = 0; i < scenario.nodes; ++i) {
      if (alive[i] && run.is_sender(i + 1)) sent += workloads[i]->sent();
    }
    // Idle everywhere means every region acknowledged every message (see process_launcher.cc).
    const bool all_groups = scenario.membership.pattern == "all";
    complete = true;
    for (uint32_t i = 0; i < scenario.nodes && complete; ++i) {
      complete = !alive[i] || (nodes[i]->idle() && !workloads[i]->sending() &&
                               (!all_groups || workloads[i]->delivered() >= sent));
    }
    if (complete) break;
  }
  if (!complete && !record.interrupted) {
    record.incidents.push_back("the drain phase ended before every node had delivered everything");
  }
  TrimWindows(record.run.windows, cluster.now() - start);
  for (uint32_t i = 0; i < scenario.nodes; ++i) {
    if (!alive[i]) continue;
    record.results[i + 1] =
        workloads[i]->Finish(cluster.now(), record.interrupted ? "interrupted" : "completed");
  }
  std::stable_sort(record.ticks.begin(), record.ticks.end(), [](const Tick& a, const Tick& b) {
    return a.t_s < b.t_s || (a.t_s == b.t_s && a.node_id < b.node_id);
  });
  workloads.clear();  // they hold the nodes' feeds and handlers; the cluster goes after them
  if (scenario.gms && !o.run_dir.empty()) {
    if (auto s = WriteFile((std::filesystem::path(o.run_dir) / "gms.log").string(), gms_log); !s) {
      record.incidents.push_back(s.error().message);
    }
  }
  record.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_begin).count();
  return record;
}

}  // namespace qsm::harness
