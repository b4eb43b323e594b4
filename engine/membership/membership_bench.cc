// View computation at the paper's scale (PROTOCOL.md §7): 2000 nodes, 10,000 groups, each node in
// about 10% of them with Zipf popularity (alpha 1.5). Prints the time to partition the groups into
// sets, to compute every region and group view from scratch, and to recompute after one node
// changes its groups (what a GMS commit costs in steady state).
#include <benchmark/benchmark.h>

#include "engine/membership/group_sets.h"

namespace qsm::membership {
namespace {

const Endpoint kPool = Endpoint::FromOctets(239, 255, 0, 1, 7400);

const std::map<GroupId, std::vector<NodeId>>& Workload(size_t nodes, size_t groups) {
  static std::map<std::pair<size_t, size_t>, std::map<GroupId, std::vector<NodeId>>> cache;
  auto& w = cache[{nodes, groups}];
  if (w.empty()) w = MakeZipfMembership({.nodes = nodes, .groups = groups, .seed = 1});
  return w;
}

std::map<NodeId, std::vector<GroupId>> ByNode(const std::map<GroupId, std::vector<NodeId>>& groups) {
  std::map<NodeId, std::vector<GroupId>> out;
  for (const auto& [g, members] : groups) {
    for (NodeId n : members) out[n].push_back(g);
  }
  return out;
}

void Populate(Membership& m, const std::map<NodeId, std::vector<GroupId>>& by_node) {
  for (const auto& [n, g] : by_node) {
    m.Upsert(NodeInfo{
        n, 1, Endpoint::FromOctets(198, 18, static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n), 7000), g,
        1});
  }
}

void BM_PartitionGroupSets(benchmark::State& state) {
  const auto& w = Workload(static_cast<size_t>(state.range(0)), static_cast<size_t>(state.range(1)));
  size_t sets = 0;
  for (auto _ : state) {
    auto s = PartitionGroupSets(w);
    sets = 0;
    for (const auto& [g, set] : s) sets = std::max<size_t>(sets, set + 1);
  }
  state.counters["sets"] = static_cast<double>(sets);
}
BENCHMARK(BM_PartitionGroupSets)->Args({2000, 10000})->Unit(benchmark::kMillisecond);

void BM_ComputeAllViews(benchmark::State& state) {
  const auto& w = Workload(static_cast<size_t>(state.range(0)), static_cast<size_t>(state.range(1)));
  const auto sets = PartitionGroupSets(w);
  const auto by_node = ByNode(w);
  RegionStatistics stats;
  for (auto _ : state) {
    Membership m{AddressPool(kPool, 65536)};
    (void)m.SetGroupSets(sets);
    Populate(m, by_node);
    m.Commit();
    state.PauseTiming();
    stats = ComputeRegionStatistics(m);
    state.ResumeTiming();
  }
  state.counters["regions"] = static_cast<double>(stats.regions);
  state.counters["regions_per_node"] = stats.regions_per_node_mean;
}
BENCHMARK(BM_ComputeAllViews)->Args({2000, 10000})->Unit(benchmark::kMillisecond);

void BM_CommitOneNodeChange(benchmark::State& state) {
  const auto& w = Workload(static_cast<size_t>(state.range(0)), static_cast<size_t>(state.range(1)));
  const auto sets = PartitionGroupSets(w);
  auto by_node = ByNode(w);
  Membership m{AddressPool(kPool, 65536)};
  (void)m.SetGroupSets(sets);
  Populate(m, by_node);
  m.Commit();
  NodeId n = 1;
  for (auto _ : state) {
    // Node n leaves its last group, then joins it again: two commits.
    auto groups = by_node[n];
    const GroupId last = groups.back();
    groups.pop_back();
    m.Upsert(NodeInfo{n, 1, m.node(n)->endpoint, groups, 2});
    m.Commit();
    groups.push_back(last);
    m.Upsert(NodeInfo{n, 1, m.node(n)->endpoint, groups, 3});
    m.Commit();
    n = n % static_cast<NodeId>(by_node.size()) + 1;
  }
}
BENCHMARK(BM_CommitOneNodeChange)->Args({2000, 10000})->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace qsm::membership

BENCHMARK_MAIN();
