// The cluster key's cost per datagram: Authenticator::Seal and Open of 64, 1000 and 9000-byte
// packets (bytes_per_second is the MAC's speed). engine/README.md, "Trust model", compares it
// with the other MACs considered.
#include <benchmark/benchmark.h>

#include <array>
#include <memory>
#include <vector>

#include "engine/transport/auth/cluster_key.h"

namespace qsm {
namespace {

std::shared_ptr<const ClusterKeys> BenchKeys() {
  return std::make_shared<const ClusterKeys>(std::vector{ClusterKeys::Generate(1)});
}

void BM_Seal(benchmark::State& state) {
  Authenticator auth(BenchKeys());
  const std::vector<std::byte> packet(static_cast<size_t>(state.range(0)), std::byte{7});
  std::array<std::byte, kAuthTrailerBytes> trailer{};
  for (auto _ : state) {
    auth.Seal(packet, trailer);
    benchmark::DoNotOptimize(trailer);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Seal)->Arg(64)->Arg(1000)->Arg(9000);

void BM_Open(benchmark::State& state) {
  Authenticator auth(BenchKeys());
  const auto n = static_cast<size_t>(state.range(0));
  std::vector<std::byte> datagram(n + kAuthTrailerBytes, std::byte{7});
  auth.Seal(std::span(datagram).first(n), std::span(datagram).last<kAuthTrailerBytes>());
  for (auto _ : state) {
    auto opened = auth.Open(datagram);
    benchmark::DoNotOptimize(opened);
    if (!opened) state.SkipWithError("a sealed datagram failed to open");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Open)->Arg(64)->Arg(1000)->Arg(9000);

}  // namespace
}  // namespace qsm

BENCHMARK_MAIN();
