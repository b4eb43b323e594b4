// qsm-node: one engine node as a process. Subcommands:
//   probe   run the multicast probe (engine/node/probe.h) over real UDP and print what arrived.
// The QSM protocol subcommands arrive with the region protocol.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "engine/node/probe.h"
#include "engine/node/run_loop.h"
#include "engine/transport/asio/asio_transport.h"

namespace qsm {
namespace {

struct ProbeOptions {
  uint32_t node_id = 0;
  std::string bind = "127.0.0.1:0";
  std::string interface = "127.0.0.1";
  std::string group = "239.255.0.1:7500";
  double rate = 1000;
  uint64_t count = 5000;
  size_t payload = 100;
  double linger_s = 1.0;
  int64_t start_at_ms = 0;
  bool allow_external = false;
};

double Us(uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

int RunProbe(const ProbeOptions& o) {
  auto bind = Endpoint::Parse(o.bind);
  auto iface = Endpoint::Parse(o.interface, 1);
  auto group = Endpoint::Parse(o.group);
  for (const auto* parsed : {&bind, &iface, &group}) {
    if (!*parsed) {
      std::fprintf(stderr, "qsm-node: %s\n", parsed->error().ToString().c_str());
      return 2;
    }
  }
  if (!group->is_multicast()) {
    std::fprintf(stderr, "qsm-node: --group %s is not a multicast address (224.0.0.0/4)\n", o.group.c_str());
    return 2;
  }
  RealClock clock;
  Counters counters;
  auto transport = AsioTransport::Create(
      clock, counters,
      {.bind = *bind, .multicast_interface = iface->address, .allow_external_networks = o.allow_external});
  if (!transport) {
    std::fprintf(stderr, "qsm-node: %s\n", transport.error().ToString().c_str());
    return 1;
  }
  Scheduler scheduler(clock, counters);
  MulticastProbe probe(
      {.node = o.node_id, .group = *group, .rate = o.rate, .count = o.count, .payload_bytes = o.payload},
      scheduler, **transport);
  Dispatcher dispatcher(scheduler, **transport, probe);
  RunLoop loop(scheduler, **transport);
  if (auto joined = (*transport)->JoinGroup(*group); !joined) {
    std::fprintf(stderr, "qsm-node: %s\n", joined.error().ToString().c_str());
    return 1;
  }
  if (o.start_at_ms > 0) {  // a shared wall-clock start, so that every node is listening first
    std::this_thread::sleep_until(
        std::chrono::system_clock::time_point(std::chrono::milliseconds(o.start_at_ms)));
  }
  if (auto started = probe.Start(); !started) {
    std::fprintf(stderr, "qsm-node: %s\n", started.error().ToString().c_str());
    return 1;
  }
  const auto send_time = Duration(static_cast<int64_t>(static_cast<double>(o.count) / o.rate * 1e9));
  loop.RunUntil(clock.Now() + send_time + Duration(static_cast<int64_t>(o.linger_s * 1e9)));

  std::printf("node %u at %s: sent %llu (%llu failed)\n", o.node_id,
              (*transport)->local_endpoint().ToString().c_str(),
              static_cast<unsigned long long>(probe.sent()),
              static_cast<unsigned long long>(probe.send_failures()));
  for (const auto& [sender, s] : probe.peers()) {
    const uint64_t expected = std::max(o.count, s.highest);
    std::printf(
        "  from node %u: %llu/%llu received, %llu lost, %llu duplicate, %llu reordered, "
        "latency p50 %.0f us, p99 %.0f us, max %.0f us\n",
        sender, static_cast<unsigned long long>(s.distinct), static_cast<unsigned long long>(expected),
        static_cast<unsigned long long>(expected - s.distinct), static_cast<unsigned long long>(s.duplicates),
        static_cast<unsigned long long>(s.reordered), Us(s.latency_ns.Quantile(0.5)),
        Us(s.latency_ns.Quantile(0.99)), Us(s.latency_ns.max()));
  }
  const uint64_t dropped = counters.Get(Counter::kDroppedMalformed) +
                           counters.Get(Counter::kDroppedChecksum) + counters.Get(Counter::kDroppedVersion) +
                           counters.Get(Counter::kDroppedTruncated);
  if (dropped > 0)
    std::printf("  dropped %llu malformed datagrams\n", static_cast<unsigned long long>(dropped));
  return 0;
}

}  // namespace
}  // namespace qsm

int main(int argc, char** argv) {
  CLI::App app{"qsm-node: one QSM engine node"};
  app.require_subcommand(1);
  qsm::ProbeOptions probe;
  CLI::App* p = app.add_subcommand(
      "probe", "multicast numbered packets to a group and report what arrives from the other probes");
  p->add_option("--node-id", probe.node_id, "this node's id (non-zero, unique)")
      ->required()
      ->check(CLI::Range(1u, 0xffffffffu));
  p->add_option("--bind", probe.bind, "unicast address:port (port 0: any)")->capture_default_str();
  p->add_option("--interface", probe.interface, "IPv4 address of the multicast interface")
      ->capture_default_str();
  p->add_option("--group", probe.group, "multicast group address:port")->capture_default_str();
  p->add_option("--rate", probe.rate, "packets/s to send (0: receive only)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e7));
  p->add_option("--count", probe.count, "packets to send (every probe of a run should send the same count)")
      ->capture_default_str();
  p->add_option("--payload", probe.payload, "payload bytes per packet")
      ->capture_default_str()
      ->check(CLI::Range(0, 8000));
  p->add_option("--linger", probe.linger_s, "seconds to keep receiving after sending")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  p->add_option("--start-at-ms", probe.start_at_ms,
                "wall-clock start (ms since the Unix epoch), shared by all probes of a run");
  p->add_flag("--allow-external-network", probe.allow_external,
              "allow addresses outside 127.0.0.0/8 and 198.18.0.0/15 (real clusters only)");
  CLI11_PARSE(app, argc, argv);
  if (probe.rate > 0 && probe.count == 0) {
    std::fprintf(stderr, "qsm-node: --count must be > 0 when --rate > 0\n");
    return 2;
  }
  return qsm::RunProbe(probe);
}
