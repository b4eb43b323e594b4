// qsm-node: one engine node as a process. Subcommands:
//   run     a QSM node in a static region view (every member listed on the command line): joins
//           the groups, sends the load it is given, and prints what it sent and delivered.
//   probe   the unreliable multicast probe (engine/node/probe.h): what the network delivers.
// Membership from qsm-gms arrives with the membership service.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include "engine/node/node.h"
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

struct RunOptions {
  uint32_t node_id = 0;
  std::vector<std::string> members;  // id=address:port, in view order
  std::string interface = "127.0.0.1";
  std::string region_group = "239.255.1.1:7400";
  uint32_t groups = 1;
  uint64_t count = 0;       // messages to send (0: receive only)
  double send_seconds = 0;  // or: send for this long
  size_t size = 1000;
  double rate = 0;       // messages/s, 0: max
  double duration = 10;  // seconds the node runs in all
  double token_rate = 5;
  size_t replication = 5;
  size_t window = 20000;
  int64_t start_at_ms = 0;
  bool json = false;
  bool allow_external = false;
};

// Sends `count` messages (or for `seconds`), round robin over groups 1..groups, paced by the node.
class LoadFeed final : public MessageFeed {
 public:
  LoadFeed(const Clock& clock, const RunOptions& o) : clock_(clock), o_(o), start_(clock.Now()) {}
  bool Next(OutgoingMessage& out) override {
    if (o_.count > 0 && sent_ >= o_.count) return false;
    const TimePoint now = clock_.Now();
    if (o_.send_seconds > 0 && now - start_ >= Duration(static_cast<int64_t>(o_.send_seconds * 1e9)))
      return false;
    if (o_.rate > 0 && Due(sent_) > now) return false;  // paced: not yet
    out.group = static_cast<wire::GroupId>(sent_ % o_.groups + 1);
    out.payload.assign(o_.size, std::byte{0x51});
    std::memcpy(out.payload.data(), &sent_, std::min<size_t>(8, o_.size));
    if (o_.rate > 0) out.intended = Due(sent_);
    ++sent_;
    return true;
  }
  // Wake for a batch of up to 32 due messages rather than for each, but never hold the first of
  // them more than 200 us.
  std::optional<TimePoint> NextReady() const override {
    if (o_.rate <= 0 || (o_.count > 0 && sent_ >= o_.count)) return std::nullopt;
    return std::min(Due(sent_ + 31), Due(sent_) + 200us);
  }
  uint64_t sent() const { return sent_; }

 private:
  // The intended send time of message i, which latency is measured from.
  TimePoint Due(uint64_t i) const {
    return start_ + Duration(static_cast<int64_t>(static_cast<double>(i) * 1e9 / o_.rate));
  }

  const Clock& clock_;
  const RunOptions& o_;
  TimePoint start_;
  uint64_t sent_ = 0;
};

int RunNode(const RunOptions& o) {
  auto group = Endpoint::Parse(o.region_group);
  auto iface = Endpoint::Parse(o.interface, 1);
  if (!group || !group->is_multicast()) {
    std::fprintf(stderr, "qsm-node: --region-group %s is not a multicast address:port\n",
                 o.region_group.c_str());
    return 2;
  }
  if (!iface) {
    std::fprintf(stderr, "qsm-node: %s\n", iface.error().ToString().c_str());
    return 2;
  }
  wire::RegionView view{.id = {1, 1}, .multicast = *group};
  Endpoint bind{};
  for (const auto& m : o.members) {
    const auto eq = m.find('=');
    uint32_t id = 0;
    auto ep = Endpoint::Parse(eq == std::string::npos ? "" : m.substr(eq + 1));
    if (eq == std::string::npos || std::sscanf(m.substr(0, eq).c_str(), "%u", &id) != 1 || id == 0 || !ep) {
      std::fprintf(stderr, "qsm-node: --member '%s' must look like 3=127.0.0.1:7003\n", m.c_str());
      return 2;
    }
    view.members.push_back({id, *ep});
    if (id == o.node_id) bind = *ep;
  }
  if (bind.port == 0) {
    std::fprintf(stderr, "qsm-node: --node-id %u is not among the --member entries\n", o.node_id);
    return 2;
  }
  RealClock clock;
  Counters counters;
  auto transport = AsioTransport::Create(
      clock, counters,
      {.bind = bind, .multicast_interface = iface->address, .allow_external_networks = o.allow_external});
  if (!transport) {
    std::fprintf(stderr, "qsm-node: %s\n", transport.error().ToString().c_str());
    return 1;
  }
  Scheduler scheduler(clock, counters);
  Random random(o.node_id * 7919ULL + 1);
  NodeConfig config{.id = o.node_id,
                    .region = RegionConfig{.replication = o.replication, .token_rate = o.token_rate},
                    .window = SenderWindow{.max_messages = o.window},
                    .send_rate = 0,  // the load feed paces itself, so the node can catch up after a stall
                    .max_payload_bytes = std::max<size_t>(o.size, 8)};
  Node node(config, scheduler, **transport, random);
  Dispatcher dispatcher(scheduler, **transport, node);
  RunLoop loop(scheduler, **transport);
  if (auto s = node.InstallView(view); !s) {
    std::fprintf(stderr, "qsm-node: %s\n", s.error().ToString().c_str());
    return 1;
  }
  for (uint32_t g = 1; g <= o.groups; ++g) (void)node.Join(g);
  std::map<wire::NodeId, uint64_t> delivered;
  TimePoint first{}, last{};
  node.SetDeliveryHandler([&](const Delivery& d) {
    ++delivered[d.sender];
    if (first == TimePoint{}) first = d.delivered_at;
    last = d.delivered_at;
  });
  if (o.start_at_ms > 0) {
    std::this_thread::sleep_until(
        std::chrono::system_clock::time_point(std::chrono::milliseconds(o.start_at_ms)));
  }
  const TimePoint start = clock.Now();
  std::optional<LoadFeed> feed;
  if (o.count > 0 || o.send_seconds > 0) {
    feed.emplace(clock, o);
    node.SetFeed(&*feed);
  }
  loop.RunUntil(start + Duration(static_cast<int64_t>(o.duration * 1e9)));

  const NodeStats st = node.Snapshot();
  uint64_t total = 0;
  for (const auto& [sender, n] : delivered) total += n;
  const double span = ToSeconds(last - first);
  const double rate = span > 0 ? static_cast<double>(total) / span : 0;
  const double us = 1000.0;
  if (o.json) {
    std::printf(
        "{\"node\":%u,\"sent\":%llu,\"delivered\":%llu,\"senders\":%zu,\"deliver_span_s\":%.6f,"
        "\"delivered_per_s\":%.0f,\"latency_p50_us\":%.1f,\"latency_p99_us\":%.1f,"
        "\"token_rtt_p50_us\":%.1f,\"token_rtt_p99_us\":%.1f,\"token_rounds\":%llu,\"pending_at_end\":%zu,"
        "\"cached_at_end\":%zu,\"recovery\":%llu}\n",
        o.node_id, static_cast<unsigned long long>(feed ? feed->sent() : 0),
        static_cast<unsigned long long>(total), delivered.size(), span, rate,
        st.delivery_latency_ns.Quantile(0.5) / us, st.delivery_latency_ns.Quantile(0.99) / us,
        st.region_rtt_ns.Quantile(0.5) / us, st.region_rtt_ns.Quantile(0.99) / us,
        static_cast<unsigned long long>(st.counter(Counter::kTokenRounds)), st.pending_messages,
        st.cached_messages,
        static_cast<unsigned long long>(st.counter(Counter::kRecoveryPush) +
                                        st.counter(Counter::kRecoveryPull) +
                                        st.counter(Counter::kRecoveryRetransmit)));
    return 0;
  }
  std::printf(
      "node %u at %s: sent %llu, delivered %llu from %zu sender(s) at %.0f msgs/s, latency p50 %.0f us p99 "
      "%.0f us\n",
      o.node_id, bind.ToString().c_str(), static_cast<unsigned long long>(feed ? feed->sent() : 0),
      static_cast<unsigned long long>(total), delivered.size(), rate,
      st.delivery_latency_ns.Quantile(0.5) / us, st.delivery_latency_ns.Quantile(0.99) / us);
  if (st.region_rtt_ns.count() > 0) {
    std::printf("  region leader: %llu token rounds, RTT p50 %.0f us p99 %.0f us\n",
                static_cast<unsigned long long>(st.counter(Counter::kTokenRounds)),
                st.region_rtt_ns.Quantile(0.5) / us, st.region_rtt_ns.Quantile(0.99) / us);
  }
  std::printf("  at the end: %zu pending ACK, %zu cached; recovery push %llu pull %llu retransmit %llu\n",
              st.pending_messages, st.cached_messages,
              static_cast<unsigned long long>(st.counter(Counter::kRecoveryPush)),
              static_cast<unsigned long long>(st.counter(Counter::kRecoveryPull)),
              static_cast<unsigned long long>(st.counter(Counter::kRecoveryRetransmit)));
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
  qsm::RunOptions run;
  CLI::App* r = app.add_subcommand("run", "a QSM node in a static region view: send and deliver reliably");
  r->add_option("--node-id", run.node_id, "this node's id (one of the --member ids)")->required();
  r->add_option("--member", run.members, "every member, in view order: ID=ADDRESS:PORT (repeat)")->required();
  r->add_option("--interface", run.interface, "IPv4 address of the multicast interface")
      ->capture_default_str();
  r->add_option("--region-group", run.region_group, "the region's multicast address:port")
      ->capture_default_str();
  r->add_option("--groups", run.groups, "groups 1..N, all mapped to this region")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1000000u));
  r->add_option("--count", run.count, "messages to send (0 with --send-seconds 0: receive only)")
      ->capture_default_str();
  r->add_option("--send-seconds", run.send_seconds, "send for this long instead of a count")
      ->capture_default_str();
  r->add_option("--size", run.size, "payload bytes")->capture_default_str()->check(CLI::Range(8, 8192));
  r->add_option("--rate", run.rate, "messages/s (0: as fast as the window and socket allow)")
      ->capture_default_str();
  r->add_option("--duration", run.duration, "seconds the node runs in all")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 86400.0));
  r->add_option("--token-rate", run.token_rate, "token rounds per second")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 1000.0));
  r->add_option("--replication", run.replication, "members per partition (R)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  r->add_option("--window", run.window, "pending-ACK window, messages")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000000));
  r->add_option("--start-at-ms", run.start_at_ms,
                "wall-clock start (ms since the Unix epoch), shared by the run's nodes");
  r->add_flag("--json", run.json, "print one JSON object");
  r->add_flag("--allow-external-network", run.allow_external,
              "allow addresses outside 127.0.0.0/8 and 198.18.0.0/15");
  CLI11_PARSE(app, argc, argv);
  if (r->parsed()) return qsm::RunNode(run);
  if (probe.rate > 0 && probe.count == 0) {
    std::fprintf(stderr, "qsm-node: --count must be > 0 when --rate > 0\n");
    return 2;
  }
  return qsm::RunProbe(probe);
}
