// Engine memory per group: a 2-node region in simulation where node 1 sends one message to each of
// G groups that both nodes joined, run until everything is delivered and stable. Reports the heap
// bytes in use by the two nodes (glibc mallinfo2) and the growth per group over a 1-group run.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include "engine/sim/region_scenario.h"

namespace qsm::sim {
namespace {

// Heap in use while a finished scenario's cluster is still alive.
size_t HeapAfterRun(size_t groups) {
  RegionScenario sc{
      .nodes = 2, .senders = 1, .groups = groups, .messages = groups, .payload_bytes = 100, .seed = 1};
  size_t heap = 0;
  sc.on_finish = [&heap] { heap = mallinfo2().uordblks; };
  const size_t before = mallinfo2().uordblks;
  RegionResult r = RunRegionScenario(sc);
  if (!r.ok) return 0;
  return heap - before;
}

void BM_EngineMemoryPerGroup(benchmark::State& state) {
  const auto groups = static_cast<size_t>(state.range(0));
  size_t base = 0, heap = 0;
  for (auto _ : state) {
    HeapAfterRun(1);  // warm-up: allocations made once per process must not count as the base
    base = HeapAfterRun(1);
    heap = HeapAfterRun(groups);
  }
  if (heap == 0 || base == 0) {
    state.SkipWithError("the scenario failed its delivery check");
    return;
  }
  state.counters["heap_bytes_2_nodes"] = static_cast<double>(heap);
  state.counters["bytes_per_group_per_node"] =
      groups > 1 ? static_cast<double>(heap - std::min(heap, base)) / static_cast<double>(groups - 1) / 2 : 0;
}
BENCHMARK(BM_EngineMemoryPerGroup)
    ->Arg(100)
    ->Arg(1000)
    ->Arg(10000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace qsm::sim

BENCHMARK_MAIN();
