// Round trip of one datagram between two transports: real UDP on loopback (busy-polling, and
// sleeping in the reactor between packets) and the simulated network (the stack's own cost).
#include <benchmark/benchmark.h>

#include <vector>

#include "engine/transport/asio/asio_transport.h"
#include "engine/transport/sim/sim_transport.h"

namespace qsm {
namespace {

class Echo : public TransportHandler {
 public:
  void OnReceive(const Endpoint& from, PooledBuffer d, TimePoint) override {
    if (reply_to != nullptr) reply_to->Send(from, d.bytes());
    ++received;
  }
  void OnWritable() override {}
  Transport* reply_to = nullptr;
  uint64_t received = 0;
};

void BM_AsioLoopbackRoundTrip(benchmark::State& state) {
  RealClock clock;
  Counters counters;
  AsioTransportConfig config{.bind = Endpoint::FromOctets(127, 0, 0, 1, 0),
                             .multicast_interface = 0x7f000001};
  auto a = AsioTransport::Create(clock, counters, config);
  auto b = AsioTransport::Create(clock, counters, config);
  if (!a || !b) {
    state.SkipWithError("cannot open loopback sockets");
    return;
  }
  Echo at_a, at_b;
  at_b.reply_to = b->get();
  (*a)->SetHandler(&at_a);
  (*b)->SetHandler(&at_b);
  const bool sleep = state.range(1) != 0;
  std::vector<std::byte> payload(static_cast<size_t>(state.range(0)), std::byte{1});
  for (auto _ : state) {
    const uint64_t want = at_a.received + 1;
    (*a)->Send((*b)->local_endpoint(), payload);
    while (at_a.received < want) {
      if (sleep) (*b)->WaitForInput(clock.Now() + 1s);
      (*b)->PollInput();
      if (sleep && at_a.received < want) (*a)->WaitForInput(clock.Now() + 1s);
      (*a)->PollInput();
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetLabel(sleep ? "sleeping in reactor" : "busy polling");
}
BENCHMARK(BM_AsioLoopbackRoundTrip)->Args({64, 0})->Args({1000, 0})->Args({1000, 1})->UseRealTime();

void BM_SimRoundTrip(benchmark::State& state) {
  VirtualClock clock;
  SimNetwork net(clock, 1, LinkModel{.latency = 10us, .jitter = Duration::zero()});
  Counters ca, cb;
  auto& a = net.AddHost(Endpoint::FromOctets(198, 18, 0, 1, 1), ca);
  auto& b = net.AddHost(Endpoint::FromOctets(198, 18, 0, 2, 1), cb);
  Echo at_a, at_b;
  at_b.reply_to = &b;
  a.SetHandler(&at_a);
  b.SetHandler(&at_b);
  std::vector<std::byte> payload(static_cast<size_t>(state.range(0)), std::byte{1});
  for (auto _ : state) {
    a.Send(b.local_endpoint(), payload);
    while (auto t = net.NextEventTime()) {
      clock.AdvanceTo(*t);
      net.RunDue();
      b.PollInput();
      a.PollInput();
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_SimRoundTrip)->Arg(64)->Arg(1000);

}  // namespace
}  // namespace qsm

BENCHMARK_MAIN();
