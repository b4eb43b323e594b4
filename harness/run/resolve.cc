#include "harness/run/resolve.h"

#include <algorithm>
#include <set>

#include "engine/membership/group_sets.h"
#include "harness/workload/text.h"

namespace qsm::harness {

std::vector<std::vector<uint32_t>> GroupsOfNodes(const Scenario& sc) {
  std::vector<std::vector<uint32_t>> out(sc.nodes);
  if (sc.membership.pattern == "zipf") {
    const auto members = membership::MakeZipfMembership({.nodes = sc.nodes,
                                                         .groups = sc.groups,
                                                         .alpha = sc.membership.alpha,
                                                         .fraction = sc.membership.fraction,
                                                         .seed = sc.seed});
    for (const auto& [group, nodes] : members) {
      for (uint32_t n : nodes) out[n - 1].push_back(group);
    }
    return out;
  }
  for (auto& groups : out) {
    for (uint32_t g = 1; g <= sc.groups; ++g) groups.push_back(g);
  }
  return out;
}

Result<ResolvedRun> Resolve(const Scenario& sc, const Addressing& addressing) {
  if (sc.membership.pattern != "all" && !sc.gms) {
    return MakeError(ErrorCode::kInvalidArgument, sc.source + ": 'membership': pattern '" +
                                                      sc.membership.pattern + "' needs the GMS (gms: true)");
  }
  const std::vector<std::vector<uint32_t>> groups = GroupsOfNodes(sc);
  ResolvedRun run;
  run.scenario = sc;
  const Duration run_length = sc.duration + sc.drain;
  for (size_t i = 0; i < sc.faults.size(); ++i) {
    const FaultSpec& f = sc.faults[i];
    Random random(sc.seed * 0x9E3779B97F4A7C15ULL + i + 1);
    for (const faults::Window& w : faults::Expand(f.schedule, run_length, random)) {
      run.windows.push_back({f.type, f.nodes, w.start, w.end, f.rate, f.via_network});
    }
  }
  std::stable_sort(run.windows.begin(), run.windows.end(),
                   [](const FaultWindow& a, const FaultWindow& b) { return a.start < b.start; });
  for (uint32_t id = 1; id <= sc.nodes; ++id) {
    NodePlan p;
    p.node_id = id;
    for (uint32_t m = 1; m <= sc.nodes; ++m) p.members.push_back({m, addressing.endpoint(m)});
    p.region_multicast = addressing.region_multicast;
    if (sc.gms) {
      p.gms = addressing.gms;
      p.heartbeat = sc.gms->heartbeat;
    }
    p.interface_address = addressing.interface(id);
    p.joined = groups[id - 1];
    if (run.is_sender(id)) p.send_groups = p.joined;
    if (sc.gms) {
      for (uint32_t g : p.send_groups) {
        std::vector<uint32_t>& ids = p.group_members[g];
        for (uint32_t m = 1; m <= sc.nodes; ++m) {
          if (std::find(groups[m - 1].begin(), groups[m - 1].end(), g) != groups[m - 1].end()) ids.push_back(m);
        }
      }
    }
    p.engine = sc.engine.kind;
    p.rate = sc.rate;
    p.message_size = sc.message_size;
    p.send_for = sc.duration;
    p.token_rate = sc.engine.token_rate;
    p.adaptive_rounds = sc.engine.rounds == "adaptive";
    p.replication = sc.engine.replication;
    p.adaptive_window = sc.engine.window == "adaptive";
    p.window_bytes = sc.engine.window_mb << 20;
    p.window_messages = sc.engine.window_messages;
    p.datagram_bytes = sc.engine.datagram_bytes;
    p.seed = sc.seed * 1000003ULL + id;
    p.max_run = run_length + 60s;  // the harness stops it long before, unless the harness died
    for (const FaultWindow& w : run.windows) {
      if (std::find(w.nodes.begin(), w.nodes.end(), id) == w.nodes.end() || w.via_network) continue;
      switch (w.type) {
        case FaultType::kSleep:
          p.sleeps.push_back({w.start, w.end});
          break;
        case FaultType::kLossBurst:
          p.loss_bursts.push_back({w.start, w.end});
          break;
        case FaultType::kLoss:
          p.loss_rate = w.rate;
          break;
        default:
          break;  // process and network faults: the launcher applies them
      }
    }
    run.plans.push_back(std::move(p));
  }
  return run;
}

void TrimWindows(std::vector<FaultWindow>& windows, Duration ended) {
  std::erase_if(windows, [&](const FaultWindow& w) { return w.start >= ended; });
  for (FaultWindow& w : windows) w.end = std::min(w.end, ended);
}

const char* ViaOf(const FaultWindow& w) {
  if (w.via_network || w.type == FaultType::kPartition) return "network";
  if (w.type == FaultType::kPause || w.type == FaultType::kCrash) return "signal";
  return "process";
}

std::string ActiveFaults(const std::vector<FaultWindow>& windows, uint32_t node, Duration from, Duration to) {
  std::set<std::string> active;
  for (const FaultWindow& w : windows) {
    const bool on = w.start < to && (w.type == FaultType::kCrash || w.end > from);
    if (on && std::find(w.nodes.begin(), w.nodes.end(), node) != w.nodes.end())
      active.insert(FaultTypeName(w.type));
  }
  std::string out;
  for (const auto& a : active) Append(out, a, ";");
  return out;
}

}  // namespace qsm::harness
