// Encode and decode cost per packet type.
#include <benchmark/benchmark.h>

#include <vector>

#include "engine/wire/packets.h"

namespace qsm::wire {
namespace {

std::vector<std::byte> g_payload(1000, std::byte{0x5a});

Packet MakePacket(PacketType type) {
  DataPacket data{.rvid = {1, 1},
                  .sender = 1,
                  .group = 1,
                  .region_seq = 12345,
                  .group_seq = 12345,
                  .send_time_ns = 1,
                  .payload = g_payload};
  SenderRecord rec{.sender = 1,
                   .highest_seen = 100,
                   .contiguous = 90,
                   .missing_all = {{91, 95}, {97, 99}},
                   .partition_contiguous = std::vector<uint64_t>(4, 90)};
  switch (type) {
    case PacketType::kData:
      return {type, 1, data};
    case PacketType::kPartitionToken:
      return {type, 1, TokenPacket{.rvid = {1, 1}, .round = 1, .records = {rec, rec, rec, rec}}};
    case PacketType::kAck:
      return {type, 1, AckPacket{{1, 1}, 1, 1, 90, 1, 2, 3}};
    case PacketType::kNak:
      return {type, 1, RecoveryRequest{{1, 1}, 1, {{91, 95}, {97, 99}}}};
    default:
      return {PacketType::kHeartbeat, 1, HeartbeatPacket{1, 1, 1}};
  }
}

void BM_Encode(benchmark::State& state) {
  const Packet p = MakePacket(static_cast<PacketType>(state.range(0)));
  std::vector<std::byte> out(kMaxPacketSize);
  for (auto _ : state) benchmark::DoNotOptimize(Encode(p, out));
  state.SetLabel(std::string(PacketTypeName(p.type)));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * EncodedSize(p)));
}

void BM_Decode(benchmark::State& state) {
  const Packet p = MakePacket(static_cast<PacketType>(state.range(0)));
  std::vector<std::byte> bytes(EncodedSize(p));
  (void)Encode(p, bytes);
  for (auto _ : state) benchmark::DoNotOptimize(Decode(bytes));
  state.SetLabel(std::string(PacketTypeName(p.type)));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes.size()));
}

void TypeArgs(benchmark::internal::Benchmark* b) {
  for (auto t : {PacketType::kData, PacketType::kPartitionToken, PacketType::kAck, PacketType::kNak,
                 PacketType::kHeartbeat}) {
    b->Arg(static_cast<int>(t));
  }
}
BENCHMARK(BM_Encode)->Apply(TypeArgs);
BENCHMARK(BM_Decode)->Apply(TypeArgs);

}  // namespace
}  // namespace qsm::wire

BENCHMARK_MAIN();
