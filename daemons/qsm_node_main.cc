// qsm-node: one engine node as a process. Subcommands:
//   run     a QSM node: either a plan file from qsm-harness (--plan; writes a result file, prints
//           progress records, takes commands on stdin), or the membership and load from flags
//           (prints what it sent and delivered). The plan's engine (or --engine) may instead be
//           raw UDP multicast or NORM, under the same load (harness/workload/engine_driver.h). Membership is a static region view (--member
//           for every member) or comes from qsm-gms (--gms, with this node's --bind endpoint).
//   probe   the unreliable multicast probe (daemons/probe.h): what the network delivers.
#include <poll.h>
#include <prometheus/registry.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>

#include "engine/core/build_info.h"
#include "engine/node/node.h"
#include "engine/probe/probe.h"
#include "engine/runtime/dispatcher.h"
#include "engine/runtime/run_loop.h"
#include "engine/transport/asio/asio_transport.h"
#include "engine/transport/auth/authenticated_transport.h"
#include "engine/wire/packets.h"
#include "exporters/prometheus/exposer.h"
#include "exporters/prometheus/harness_metrics.h"
#include "exporters/prometheus/node_metrics.h"
#include "faults/inbound_loss.h"
#include "harness/drivers/norm_driver.h"
#include "harness/drivers/udp_driver.h"
#include "harness/workload/text.h"
#include "harness/workload/node_plan.h"
#include "harness/workload/workload.h"

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

// For an engine that does not use the transport (NORM): what arrives there is dropped.
class IgnorePackets final : public PacketHandler {
 public:
  void OnPacket(const wire::Packet&, std::span<const std::byte>, const Endpoint&, TimePoint) override {}
};

struct RunOptions {
  // Either a plan file written by qsm-harness...
  std::string plan_path;
  std::string result_path;
  bool control = false;  // read commands from stdin: "stop", "exclude ID..."
  bool ticks = false;    // print a progress record (JSON line) every plan tick
  std::string metrics;   // serve Prometheus metrics on this address:port ("" = none)
  std::vector<std::string> metrics_labels;  // KEY=VALUE labels on every series
  std::string key;       // the cluster key file ("" = packets are not authenticated)
  // ...or a static view and load from flags.
  std::string engine = "qsm";
  uint32_t node_id = 0;
  std::vector<std::string> members;  // id=address:port, in view order
  std::string gms;                   // or: membership from qsm-gms at address:port...
  std::string bind;                  // ...with this node at address:port
  double heartbeat_s = 1;
  std::string interface = "127.0.0.1";
  std::string region_group = "239.255.1.1:7400";
  uint32_t groups = 1;
  std::vector<uint32_t> join;  // or: exactly these groups
  uint64_t count = 0;          // messages to send (0: receive only)
  double send_seconds = 0;     // or: send for this long
  size_t size = 1000;
  double rate = 0;       // messages/s, 0: max
  double duration = 10;  // seconds the node runs in all
  double token_rate = 5;
  std::string rounds = "adaptive";
  size_t replication = 5;
  std::string window = "fixed";
  size_t window_mb = 20;
  size_t window_messages = 0;
  size_t datagram_bytes = 8972;
  int64_t start_at_ms = 0;
  bool json = false;
  bool allow_external = false;
};

Result<harness::NodePlan> PlanFromFlags(const RunOptions& o) {
  harness::NodePlan plan;
  plan.engine = o.engine;
  plan.node_id = o.node_id;
  if (!o.gms.empty()) {
    auto gms = Endpoint::Parse(o.gms);
    auto bind = Endpoint::Parse(o.bind);
    if (!gms || gms->port == 0)
      return MakeError(ErrorCode::kInvalidArgument, "--gms " + o.gms + ": give ADDRESS:PORT");
    if (!bind || bind->port == 0) {
      return MakeError(ErrorCode::kInvalidArgument, "--bind " + o.bind + ": give this node's ADDRESS:PORT");
    }
    plan.gms = *gms;
    plan.heartbeat = Duration(static_cast<int64_t>(o.heartbeat_s * 1e9));
    plan.members.push_back({o.node_id, *bind});
  }
  auto group = Endpoint::Parse(o.region_group);
  if (!group || !group->is_multicast()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--region-group " + o.region_group + " is not a multicast address:port");
  }
  plan.region_multicast = *group;
  auto iface = Endpoint::Parse(o.interface, 1);
  if (!iface) return std::unexpected(iface.error());
  plan.interface_address = iface->address;
  bool self = plan.gms.has_value();
  for (const auto& m : o.members) {
    const auto eq = m.find('=');
    uint32_t id = 0;
    auto ep = Endpoint::Parse(eq == std::string::npos ? "" : m.substr(eq + 1));
    if (eq == std::string::npos || std::sscanf(m.substr(0, eq).c_str(), "%u", &id) != 1 || id == 0 || !ep) {
      return MakeError(ErrorCode::kInvalidArgument, "--member '" + m + "' must look like 3=127.0.0.1:7003");
    }
    plan.members.push_back({id, *ep});
    self = self || id == o.node_id;
  }
  if (!self) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--node-id " + std::to_string(o.node_id) + " is not among the --member entries");
  }
  if (!o.join.empty()) {
    plan.joined = o.join;
  } else {
    for (uint32_t g = 1; g <= o.groups; ++g) plan.joined.push_back(g);
  }
  if (o.count > 0 || o.send_seconds > 0) plan.send_groups = plan.joined;
  plan.rate = o.rate;
  plan.message_size = o.size;
  plan.send_count = o.count;
  plan.send_for = o.send_seconds > 0 ? Duration(static_cast<int64_t>(o.send_seconds * 1e9))
                                     : Duration(static_cast<int64_t>(o.duration * 1e9));
  plan.token_rate = o.token_rate;
  plan.adaptive_rounds = o.rounds == "adaptive";
  plan.replication = o.replication;
  plan.adaptive_window = o.window == "adaptive";
  plan.window_bytes = o.window_mb << 20;
  plan.window_messages = o.window_messages;
  plan.datagram_bytes = o.datagram_bytes;
  plan.seed = o.node_id;
  plan.max_run = Duration(static_cast<int64_t>(o.duration * 1e9));
  return plan;
}

// --metrics-label KEY=VALUE..., as a label map. Keys follow Prometheus's label names and do not
// start with "__" (reserved).
Result<std::map<std::string, std::string>> MetricsLabels(const std::vector<std::string>& assignments) {
  std::map<std::string, std::string> labels;
  for (const std::string& a : assignments) {
    const auto eq = a.find('=');
    const std::string key = a.substr(0, eq);
    const bool valid = eq != std::string::npos && !key.empty() && key.rfind("__", 0) != 0 &&
                       (std::isalpha(static_cast<unsigned char>(key[0])) || key[0] == '_') &&
                       std::all_of(key.begin(), key.end(), [](char c) {
                         return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                       });
    if (!valid) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "--metrics-label '" + a + "' must be KEY=VALUE with KEY a Prometheus label name (e.g. role=sender)");
    }
    labels[key] = a.substr(eq + 1);
  }
  return labels;
}

// CPU seconds (user + system) and peak resident bytes of this process.
std::pair<double, int64_t> ResourceUsage() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                     static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  return {cpu, static_cast<int64_t>(usage.ru_maxrss) * 1024};
}

// Reads commands from stdin (one per line) until `done`: "stop" ends the run, "exclude ID..."
// installs the next view without those members. Unknown lines are reported on stderr and ignored.
void ReadCommands(const std::atomic<bool>& done, RunLoop& loop, Scheduler& scheduler,
                  harness::NodeWorkload& workload, std::atomic<const char*>& end) {
  std::string pending;
  char buffer[4096];
  while (!done.load()) {
    pollfd fd{.fd = 0, .events = POLLIN, .revents = 0};
    if (poll(&fd, 1, 100) <= 0) continue;
    const ssize_t n = read(0, buffer, sizeof buffer);
    if (n <= 0) return;  // stdin closed: nobody will send commands
    pending.append(buffer, static_cast<size_t>(n));
    for (size_t eol; (eol = pending.find('\n')) != std::string::npos; pending.erase(0, eol + 1)) {
      std::istringstream line(pending.substr(0, eol));
      std::string verb;
      line >> verb;
      if (verb == "stop") {
        end = "stopped";
        loop.Stop();
      } else if (verb == "exclude") {
        std::vector<uint32_t> ids;
        for (uint32_t id; line >> id;) ids.push_back(id);
        scheduler.requests().Post([&workload, ids] {
          if (auto s = workload.ExcludeMembers(ids); !s) {
            std::fprintf(stderr, "qsm-node: exclude: %s\n", s.error().ToString().c_str());
          }
        });
      } else if (!verb.empty()) {
        std::fprintf(stderr, "qsm-node: unknown command '%s' (known: stop, exclude ID...)\n", verb.c_str());
      }
    }
  }
}

// Ends the run on SIGINT or SIGTERM (blocked in every thread; taken here with sigtimedwait).
void WaitForSignals(const std::atomic<bool>& done, RunLoop& loop, std::atomic<const char*>& end) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  const timespec timeout{.tv_sec = 0, .tv_nsec = 100'000'000};
  while (!done.load()) {
    if (sigtimedwait(&set, nullptr, &timeout) > 0) {
      end = "interrupted";
      loop.Stop();
    }
  }
}

// Runs `plan` over real UDP: the node, its load and faults, until told to stop, a signal, or
// plan.max_run. Progress records go to stdout (if `o.ticks`), the result to `o.result_path` (if
// set). Returns the result.
Result<harness::NodeResult> RunPlan(const harness::NodePlan& plan, const RunOptions& o) {
  sigset_t signals_taken;  // before any thread starts, so every thread inherits the mask
  sigemptyset(&signals_taken);
  sigaddset(&signals_taken, SIGINT);
  sigaddset(&signals_taken, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals_taken, nullptr);
  Endpoint bind{};
  for (const auto& m : plan.members) {
    if (m.id == plan.node_id) bind = m.endpoint;
  }
  std::shared_ptr<const ClusterKeys> keys;
  if (!o.key.empty()) {
    auto loaded = ClusterKeys::Load(o.key);
    if (!loaded) return std::unexpected(loaded.error());
    keys = std::make_shared<const ClusterKeys>(std::move(*loaded));
  }
  const size_t trailer = keys ? kAuthTrailerBytes : 0;
  RealClock clock;
  Counters counters;
  auto udp = AsioTransport::Create(clock, counters,
                                   {.bind = bind,
                                    .multicast_interface = plan.interface_address,
                                    .max_datagram_bytes = AsioTransportConfig{}.max_datagram_bytes + trailer,
                                    .allow_external_networks = o.allow_external});
  if (!udp) return std::unexpected(udp.error());
  TimePoint start = clock.Now();
  if (o.start_at_ms > 0) {  // a wall-clock start shared by the run's nodes, mapped to this clock
    const auto wall_start = std::chrono::system_clock::time_point(std::chrono::milliseconds(o.start_at_ms));
    start += std::max(Duration::zero(),
                      std::chrono::duration_cast<Duration>(wall_start - std::chrono::system_clock::now()));
  }
  std::vector<faults::TimeWindow> bursts;
  for (const auto& w : plan.loss_bursts) bursts.push_back({start + w.start, start + w.end});
  const bool norm = plan.engine == "norm";
  if (norm && keys) return MakeError(ErrorCode::kInvalidArgument, "the norm engine does not take --key");
  std::optional<faults::InboundLoss> lossy;  // NORM applies its own (NormDriverConfig)
  Transport* transport = udp->get();
  if (!norm && (!bursts.empty() || plan.loss_rate > 0)) {
    lossy.emplace(**udp, counters, bursts, plan.loss_rate, plan.seed * 0x9E3779B97F4A7C15ULL + 1);
    transport = &*lossy;
  }
  std::optional<AuthenticatedTransport> sealed;  // above the faults: they act on the network's datagrams
  if (keys) {
    sealed.emplace(*transport, counters, keys);
    transport = &*sealed;
  }
  Scheduler scheduler(clock, counters);
  Random random(plan.seed * 7919ULL + 1);
  // The engine under test, behind its driver; the Dispatcher feeds it our transport's packets (a
  // NORM node has none: libnorm has its own sockets).
  std::unique_ptr<Node> node;
  std::unique_ptr<harness::EngineDriver> driver;
  IgnorePackets ignored;
  PacketHandler* packets = &ignored;
  if (plan.engine == "qsm") {
    NodeConfig config = harness::NodeConfigOf(plan);
    config.datagram_bytes =
        std::min(config.datagram_bytes, UnfragmentedUdpPayload(plan.interface_address).value_or(SIZE_MAX) - trailer);
    node = std::make_unique<Node>(config, scheduler, *transport, random);
    packets = node.get();
    driver = std::make_unique<harness::QsmDriver>(*node);
  } else if (plan.engine == "udp") {
    auto raw = std::make_unique<harness::UdpDriver>(plan.node_id, scheduler, *transport);
    packets = raw.get();
    driver = std::move(raw);
  } else {
    auto name = InterfaceName(plan.interface_address);
    if (!name) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "no interface here has the address " + Endpoint{plan.interface_address, 0}.AddressString());
    }
    const size_t by_bytes = plan.window_bytes / std::max<size_t>(plan.message_size, 1);
    const size_t window = plan.window_messages > 0 ? plan.window_messages : std::min<size_t>(by_bytes, 8192);
    auto created = harness::NormDriver::Create({.id = plan.node_id,
                                                .interface_name = *name,
                                                .message_size = plan.message_size,
                                                .sends = !plan.send_groups.empty(),
                                                .window = static_cast<uint32_t>(std::clamp<size_t>(window, 2, 32767)),
                                                .seed = plan.seed,
                                                .loss_rate = plan.loss_rate,
                                                .loss_bursts = bursts},
                                               scheduler);
    if (!created) return std::unexpected(created.error());
    driver = std::move(*created);
  }
  Dispatcher dispatcher(scheduler, *transport, *packets);
  RunLoop loop(scheduler, *transport);
  // Prometheus: the exposer serves from its own threads; the core thread updates the metrics from
  // a snapshot once a second. Series carry no labels but --metrics-label's: the scrape config
  // names the target (the harness's and the playbooks' set node, and role or host).
  std::unique_ptr<prometheus::Exposer> exposer;
  auto registry = std::make_shared<prometheus::Registry>();
  std::optional<exporters::NodeMetrics> metrics;
  std::optional<exporters::FaultMetrics> faults;  // this node's in-process fault windows
  std::function<void(TimePoint)> update_metrics;
  AlarmId metrics_alarm;
  std::vector<AlarmId> fault_alarms;
  size_t sleeps_started = 0, bursts_started = 0;
  if (!o.metrics.empty()) {
    auto labels = MetricsLabels(o.metrics_labels);
    if (!labels) return std::unexpected(labels.error());
    auto started = exporters::StartExposer(o.metrics, o.allow_external);
    if (!started) return std::unexpected(started.error());
    exposer = std::move(*started);
    metrics.emplace(*registry, *labels);
    static constexpr const char* kInProcessFaults[] = {"sleep", "loss-burst", "loss"};
    faults.emplace(*registry, "qsm_fault", kInProcessFaults);
    if (plan.loss_rate > 0) faults->SetFaults("loss", 1, 1);
    for (const auto& w : plan.loss_bursts) {
      fault_alarms.push_back(scheduler.alarms().Schedule(
          start + w.start, [&](TimePoint) { faults->SetFaults("loss-burst", 1, ++bursts_started); }));
      fault_alarms.push_back(scheduler.alarms().Schedule(
          start + w.end, [&](TimePoint) { faults->SetFaults("loss-burst", 0, bursts_started); }));
    }
    exporters::RegisterBuildInfo(*registry, "qsm-node");
    exposer->RegisterCollectable(registry);
    update_metrics = [&](TimePoint now) {
      metrics->Update(driver->Snapshot());
      metrics_alarm = scheduler.alarms().Schedule(now + 1s, update_metrics);
    };
    update_metrics(clock.Now());
  }
  harness::NodeWorkload workload(plan, *driver, scheduler, start,
                                 {.stop_core =
                                      [&](TimePoint until) {
                                        if (faults) faults->SetFaults("sleep", 1, ++sleeps_started);
                                        driver->Suspend();
                                        std::this_thread::sleep_until(until);
                                        driver->Resume();
                                        if (faults) faults->SetFaults("sleep", 0, sleeps_started);
                                      },
                                  .on_tick =
                                      [&o](const harness::Tick& t) {
                                        if (!o.ticks) return;
                                        std::fputs((harness::TickToJson(t) + "\n").c_str(), stdout);
                                        std::fflush(stdout);
                                      }});
  if (auto s = workload.Start(); !s) return std::unexpected(s.error());

  std::atomic<const char*> end{"completed"};
  std::atomic<bool> done{false};
  std::thread signals([&] { WaitForSignals(done, loop, end); });
  std::optional<std::thread> commands;
  if (o.control) commands.emplace([&] { ReadCommands(done, loop, scheduler, workload, end); });
  // The run lasts max_run, plus however long the load waited for its groups' members (with a GMS),
  // so that the wait does not eat the drain the scenario gives.
  for (TimePoint run_end = start + plan.max_run; !loop.stopped() && clock.Now() < run_end;
       run_end = start + plan.max_run + workload.load_delay()) {
    loop.RunUntil(run_end);
  }
  done = true;
  signals.join();
  if (commands) commands->join();

  scheduler.alarms().Cancel(metrics_alarm);
  for (AlarmId id : fault_alarms) scheduler.alarms().Cancel(id);
  driver->LeaveCluster();  // with a GMS: removed at once rather than after its failure timeout
  harness::NodeResult result = workload.Finish(clock.Now(), end.load());
  std::tie(result.cpu_seconds, result.max_rss_bytes) = ResourceUsage();
  if (!o.result_path.empty()) {
    if (auto s = harness::WriteFile(o.result_path, harness::ResultToJson(result)); !s)
      return std::unexpected(s.error());
  }
  return result;
}

void PrintSummary(const harness::NodePlan& plan, const harness::NodeResult& r, bool json) {
  const uint64_t delivered = r.delivered_total();
  std::set<uint32_t> senders;
  for (const auto& [key, stream] : r.delivered) senders.insert(key.first);
  const double span = r.last_delivery_s - r.first_delivery_s;
  const double rate = span > 0 ? static_cast<double>(delivered) / span : 0;
  const double us = 1000.0;
  const Histogram& rtt = r.region_rtt_ns;
  const uint64_t recovery =
      r.counters.at("recovery_push") + r.counters.at("recovery_pull") + r.counters.at("recovery_retransmit");
  if (json) {
    std::printf(
        "{\"node\":%u,\"sent\":%llu,\"delivered\":%llu,\"senders\":%zu,\"deliver_span_s\":%.6f,"
        "\"delivered_per_s\":%.0f,\"latency_p50_us\":%.1f,\"latency_p99_us\":%.1f,"
        "\"token_rtt_p50_us\":%.1f,\"token_rtt_p99_us\":%.1f,\"token_rounds\":%llu,\"peak_pending\":%zu,"
        "\"recovery\":%llu,\"cpu_s\":%.3f}\n",
        plan.node_id, static_cast<unsigned long long>(r.sent_total()),
        static_cast<unsigned long long>(delivered), senders.size(), std::max(span, 0.0), rate,
        r.latency_ns.Quantile(0.5) / us, r.latency_ns.Quantile(0.99) / us, rtt.Quantile(0.5) / us,
        rtt.Quantile(0.99) / us, static_cast<unsigned long long>(r.counters.at("token_rounds")),
        r.peak_pending_messages, static_cast<unsigned long long>(recovery), r.cpu_seconds);
    return;
  }
  std::printf(
      "node %u: sent %llu, delivered %llu from %zu sender(s) at %.0f msgs/s, latency p50 %.0f us p99 %.0f "
      "us\n",
      plan.node_id, static_cast<unsigned long long>(r.sent_total()),
      static_cast<unsigned long long>(delivered), senders.size(), rate, r.latency_ns.Quantile(0.5) / us,
      r.latency_ns.Quantile(0.99) / us);
  if (rtt.count() > 0) {
    std::printf("  region leader: %llu token rounds, RTT p50 %.0f us p99 %.0f us\n",
                static_cast<unsigned long long>(r.counters.at("token_rounds")), rtt.Quantile(0.5) / us,
                rtt.Quantile(0.99) / us);
  }
  std::printf("  peak pending ACK %zu messages; recovery push %llu pull %llu retransmit %llu; cpu %.2f s\n",
              r.peak_pending_messages, static_cast<unsigned long long>(r.counters.at("recovery_push")),
              static_cast<unsigned long long>(r.counters.at("recovery_pull")),
              static_cast<unsigned long long>(r.counters.at("recovery_retransmit")), r.cpu_seconds);
}

int RunNode(const RunOptions& o) {
  Result<harness::NodePlan> plan;
  if (!o.plan_path.empty()) {
    auto text = harness::ReadFile(o.plan_path);
    if (!text) {
      std::fprintf(stderr, "qsm-node: %s\n", text.error().message.c_str());
      return 2;
    }
    plan = harness::PlanFromJson(*text);
  } else {
    plan = PlanFromFlags(o);
  }
  if (!plan) {
    std::fprintf(stderr, "qsm-node: %s\n", plan.error().message.c_str());
    return 2;
  }
  auto result = RunPlan(*plan, o);
  if (!result) {
    std::fprintf(stderr, "qsm-node: %s\n", result.error().ToString().c_str());
    return 1;
  }
  if (o.plan_path.empty()) PrintSummary(*plan, *result, o.json);
  return 0;
}

}  // namespace
}  // namespace qsm

int main(int argc, char** argv) {
  CLI::App app{"qsm-node: one QSM engine node"};
  app.set_version_flag("--version", qsm::VersionText("qsm-node"));
  app.require_subcommand(1);
  std::string key_path;
  uint32_t key_id = 1;
  CLI::App* k = app.add_subcommand("keygen", "write a new cluster key file (mode 0600; never replaces a file)");
  k->add_option("file", key_path, "where to write it")->required();
  k->add_option("--id", key_id, "the key's id (a new id for each key of a rotation)")
      ->capture_default_str()
      ->check(CLI::Range(uint32_t{1}, UINT32_MAX));
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
  CLI::Option* plan = r->add_option("--plan", run.plan_path, "a plan file written by qsm-harness");
  r->add_option("--result", run.result_path, "write the result file here at the end (with --plan)")
      ->needs(plan);
  r->add_flag("--control", run.control, "take commands on stdin: stop, exclude ID... (with --plan)")
      ->needs(plan);
  r->add_flag("--ticks", run.ticks, "print a progress record (JSON) every plan tick (with --plan)")
      ->needs(plan);
  r->add_option("--key", run.key,
                 "the cluster key file: authenticate every packet (make one with: qsm-node keygen FILE)");
  r->add_option("--metrics", run.metrics,
                "serve Prometheus metrics at http://ADDRESS:PORT/metrics (PORT alone: on 127.0.0.1)");
  r->add_option("--metrics-label", run.metrics_labels,
                "KEY=VALUE: a label on every series (repeat); leave out what the scrape config sets as "
                "target labels")
      ->needs("--metrics");
  r->add_option("--node-id", run.node_id, "this node's id (one of the --member ids)")->excludes(plan);
  r->add_option("--engine", run.engine,
                "the engine: qsm; or for comparison udp (raw multicast, unreliable) or norm (NORM, libnorm)")
      ->capture_default_str()
      ->check(CLI::IsMember({"qsm", "udp", "norm"}))
      ->excludes(plan);
  CLI::Option* members = r->add_option("--member", run.members,
                                       "static view: every member, in view order: ID=ADDRESS:PORT (repeat)")
                             ->excludes(plan);
  CLI::Option* gms = r->add_option("--gms", run.gms, "membership from qsm-gms at ADDRESS:PORT")
                         ->excludes(plan)
                         ->excludes(members);
  r->add_option("--bind", run.bind, "this node's unicast ADDRESS:PORT (with --gms)")->needs(gms);
  r->add_option("--heartbeat", run.heartbeat_s, "seconds between heartbeats to qsm-gms (with --gms)")
      ->needs(gms)
      ->capture_default_str()
      ->check(CLI::Range(0.01, 60.0));
  r->add_option("--interface", run.interface, "IPv4 address of the multicast interface")
      ->capture_default_str();
  r->add_option("--region-group", run.region_group, "the region's multicast address:port")
      ->capture_default_str();
  r->add_option("--groups", run.groups, "join groups 1..N (and send to them)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1000000u));
  r->add_option("--join", run.join, "join exactly these groups (and send to them), e.g. 1,3")
      ->delimiter(',')
      ->check(CLI::Range(1u, 0xffffffffu));
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
  r->add_option("--token-rate", run.token_rate, "token rounds per second (adaptive rounds: when idle)")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 1000.0));
  r->add_option("--rounds", run.rounds,
                "adaptive: rounds come faster with what is pending; fixed: every round at --token-rate")
      ->capture_default_str()
      ->check(CLI::IsMember({"adaptive", "fixed"}));
  r->add_option("--replication", run.replication, "members per partition (R)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  r->add_option("--window", run.window,
                "fixed: the pending-ACK window is --window-mb; adaptive: sized by the path, up to it")
      ->capture_default_str()
      ->check(CLI::IsMember({"fixed", "adaptive"}));
  r->add_option("--window-mb", run.window_mb,
                "pending-ACK window, MiB held (payload + bookkeeping of each pending message)")
      ->capture_default_str()
      ->check(CLI::Range(1, 65536));
  r->add_option("--window-messages", run.window_messages, "also at most this many messages pending (0: no limit)")
      ->capture_default_str()
      ->check(CLI::Range(0, 10000000));
  r->add_option("--datagram-bytes", run.datagram_bytes,
                "pack small messages into datagrams of up to this many bytes, and no more than the "
                "interface's MTU carries unfragmented (0: one message per datagram)")
      ->capture_default_str()
      ->check(CLI::Range(size_t{0}, qsm::wire::kMaxDataBatchBytes));
  r->add_option("--start-at-ms", run.start_at_ms,
                "wall-clock start (ms since the Unix epoch), shared by the run's nodes");
  r->add_flag("--json", run.json, "print one JSON object");
  r->add_flag("--allow-external-network", run.allow_external,
              "allow addresses outside 127.0.0.0/8 and 198.18.0.0/15");
  CLI11_PARSE(app, argc, argv);
  if (r->parsed()) {
    if (run.plan_path.empty() && (run.node_id == 0 || (run.members.empty() && run.gms.empty()))) {
      std::fprintf(
          stderr,
          "qsm-node run: give --plan FILE, or --node-id with every --member, or --node-id with --gms "
          "and --bind\n");
      return 2;
    }
    if (!run.gms.empty() && run.bind.empty()) {
      std::fprintf(stderr, "qsm-node run: --gms needs --bind ADDRESS:PORT (where peers reach this node)\n");
      return 2;
    }
    return qsm::RunNode(run);
  }
  if (k->parsed()) {
    if (auto written = qsm::ClusterKeys::WriteNew(key_path, qsm::ClusterKeys::Generate(key_id)); !written) {
      std::fprintf(stderr, "qsm-node keygen: %s\n", written.error().message.c_str());
      return 1;
    }
    return 0;
  }
  if (probe.rate > 0 && probe.count == 0) {
    std::fprintf(stderr, "qsm-node: --count must be > 0 when --rate > 0\n");
    return 2;
  }
  return qsm::RunProbe(probe);
}
