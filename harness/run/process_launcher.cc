#include <fcntl.h>
#include <poll.h>
#include <prometheus/exposer.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "exporters/prometheus/harness_metrics.h"
#include "harness/process.h"
#include "harness/run/launcher.h"
#include "harness/run/netns.h"
#include "harness/run/prometheus.h"
#include "harness/workload/text.h"

namespace qsm::harness {
namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

struct NodeProcess {
  uint32_t id = 0;
  pid_t pid = -1;
  int stdin_fd = -1;
  int stdout_fd = -1;
  std::string pending;  // partial stdout line
  bool running = false;
  bool crashed_by_harness = false;
  bool paused = false;
  std::optional<Tick> last_tick;
};

// A helper process (qsm-gms) that is stopped (SIGTERM, then waited for) when this goes out of
// scope, on every path out of the launcher.
struct StoppedOnExit {
  std::optional<pid_t> pid;
  ~StoppedOnExit() { Stop(); }
  void Stop() {
    if (!pid) return;
    kill(*pid, SIGTERM);
    waitpid(*pid, nullptr, 0);
    pid.reset();
  }
};

// An action the harness takes at an offset from the start.
struct Action {
  Duration at{};
  enum Kind { kPause, kResume, kCrash, kNetworkRules } kind;
  uint32_t node = 0;
};

Result<NodeProcess> Spawn(uint32_t id, const std::vector<std::string>& argv, const std::string& log_path) {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
    return MakeError(ErrorCode::kIo, std::string("pipe: ") + std::strerror(errno));
  }
  auto log = OpenLog(log_path);
  if (!log) return std::unexpected(log.error());
  auto pid = StartProcess(argv, ChildIo{.in = in[0], .out = out[1], .err = *log, .own_process_group = true});
  close(in[0]);
  close(out[1]);
  close(*log);
  if (!pid) {
    close(in[1]);
    close(out[0]);
    return std::unexpected(pid.error());
  }
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  return NodeProcess{.id = id, .pid = *pid, .stdin_fd = in[1], .stdout_fd = out[0], .running = true};
}

void Tell(NodeProcess& p, const std::string& command) {
  if (p.running && p.stdin_fd >= 0) (void)!write(p.stdin_fd, command.data(), command.size());
}

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + strsignal(WTERMSIG(status));
  return "ended";
}

// The nftables rules for host `node` at offset `t`.
std::string NetworkRules(const ResolvedRun& run, uint32_t node, Duration t) {
  std::string rules;
  for (const FaultWindow& w : run.windows) {
    if (!(t >= w.start && t < w.end)) continue;
    const bool member = std::find(w.nodes.begin(), w.nodes.end(), node) != w.nodes.end();
    if (w.type == FaultType::kPartition) {
      std::string others;
      for (uint32_t id = 1; id <= run.scenario.nodes; ++id) {
        const bool other_member = std::find(w.nodes.begin(), w.nodes.end(), id) != w.nodes.end();
        if (other_member != member) {
          Append(others, Endpoint{NetnsCluster::Address(id), 0}.AddressString(), ", ");
        }
      }
      if (!others.empty()) rules += "  ip saddr { " + others + " } drop\n";
    } else if (w.via_network && member && w.type == FaultType::kLossBurst) {
      rules += "  meta l4proto udp drop\n";
    } else if (w.via_network && member && w.type == FaultType::kLoss) {
      rules += "  meta l4proto udp numgen random mod 1000000 < " +
               std::to_string(static_cast<int>(w.rate * 1e6)) + " drop\n";
    }
  }
  return rules;
}

}  // namespace

std::string UtcNow() {
  const std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

ProgressLine::ProgressLine(std::string name, bool enabled)
    : name_(std::move(name)), enabled_(enabled), tty_(isatty(2) != 0) {}

ProgressLine::~ProgressLine() {
  if (enabled_ && tty_ && printed_) std::fputs("\n", stderr);
}

void ProgressLine::Update(const std::string& phase, double elapsed_s, double total_s, double msgs_per_s) {
  if (!enabled_ || (!tty_ && elapsed_s - last_print_s_ < 5.0)) return;
  last_print_s_ = elapsed_s;
  printed_ = true;
  std::fprintf(stderr, "%s[%s] %-6s %6.1f s of %.0f s, %5.1f s left, %9.0f msgs/s delivered per receiver%s",
               tty_ ? "\r" : "", name_.c_str(), phase.c_str(), elapsed_s, total_s,
               std::max(0.0, total_s - elapsed_s), msgs_per_s, tty_ ? "   " : "\n");
  std::fflush(stderr);
}

Result<RunRecord> RunProcesses(const Scenario& scenario, const LaunchOptions& o) {
  const bool netns = scenario.launcher == "netns";
  signal(SIGPIPE, SIG_IGN);  // a node that died must not kill the harness when it is written to
  std::unique_ptr<NetnsCluster> hosts;
  const std::string tag = std::to_string(getpid());
  for (const FaultSpec& f : scenario.faults) {
    if (!netns && (f.via_network || f.type == FaultType::kPartition)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       scenario.source + ":" + std::to_string(f.line) + ": fault '" + FaultTypeName(f.type) +
                           "' acts on the network (nftables): it needs launcher: netns");
    }
  }
  // Local port plan, per harness process: base+ID unicast, base+50+ID metrics, base+96..99 qsm-gms,
  // the harness's metrics, Prometheus and the region's multicast.
  if (!netns && scenario.nodes > 45) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        scenario.source + ": 'nodes': the local launcher takes at most 45 nodes (use sim for more)");
  }
  if (netns) {
    auto created = NetnsCluster::Create(scenario.nodes, tag);
    if (!created) {
      NetnsCluster::Cleanup(tag);
      return std::unexpected(created.error());
    }
    hosts = std::move(*created);
  }
  // Local: ports from a range derived from the process id, so concurrent runs do not collide.
  const uint16_t base_port = static_cast<uint16_t>(20000 + (getpid() % 400) * 100);
  const uint8_t group_octet = static_cast<uint8_t>(1 + getpid() % 250);
  Addressing addressing{
      .endpoint =
          [&](uint32_t id) {
            return netns ? Endpoint{NetnsCluster::Address(id), 7000}
                         : Endpoint::FromOctets(127, 0, 0, 1, static_cast<uint16_t>(base_port + id));
          },
      .interface =
          [&](uint32_t id) {
            return netns ? NetnsCluster::Address(id) : Endpoint::FromOctets(127, 0, 0, 1, 0).address;
          },
      .region_multicast =
          Endpoint::FromOctets(239, 255, 77, group_octet, static_cast<uint16_t>(base_port + 99)),
      .gms = netns ? Endpoint::FromOctets(198, 18, 0, 254, 7300)
                   : Endpoint::FromOctets(127, 0, 0, 1, static_cast<uint16_t>(base_port + 96)),
  };
  auto resolved = Resolve(scenario, addressing);
  if (!resolved) return std::unexpected(resolved.error());
  RunRecord record;
  record.run = std::move(*resolved);
  record.started_at = UtcNow();
  const ResolvedRun& run = record.run;
  const fs::path nodes_dir = fs::path(o.run_dir) / "nodes";
  fs::create_directories(nodes_dir);

  // Prometheus in the loop: node metrics on base+50+id (local) or HOST:9100 (netns), the
  // harness's own on base+97, the server on base+98.
  std::unique_ptr<prometheus::Exposer> harness_exposer;
  auto harness_registry = std::make_shared<prometheus::Registry>();
  std::optional<exporters::HarnessMetrics> harness_metrics;
  std::unique_ptr<PrometheusServer> prometheus;
  auto metrics_address = [&](uint32_t id) {
    return netns ? Endpoint{NetnsCluster::Address(id), 9100}.ToString()
                 : Endpoint::FromOctets(127, 0, 0, 1, static_cast<uint16_t>(base_port + 50 + id)).ToString();
  };
  if (netns && (o.prometheus || scenario.gms)) {
    if (auto s = hosts->AddUplink(); !s) return std::unexpected(s.error());
  }
  // qsm-gms for the run: up before any node registers; stopped after the last node.
  StoppedOnExit gms;
  if (scenario.gms) {
    const std::string binary = !o.gms_binary.empty() ? o.gms_binary
                               : fs::path(o.node_binary).has_parent_path()
                                   ? (fs::path(o.node_binary).parent_path() / "qsm-gms").string()
                                   : std::string("qsm-gms");
    const fs::path dir(o.run_dir);
    // Regions' addresses: a pool per harness process, so concurrent local runs do not collide.
    const Endpoint pool =
        Endpoint::FromOctets(239, 255, 78, group_octet, static_cast<uint16_t>(base_port + 99));
    auto log = OpenLog((dir / "gms.log").string());
    if (!log) return std::unexpected(log.error());
    auto pid = StartProcess({binary, "--listen", addressing.gms.ToString(), "--state",
                             (dir / "gms.state").string(), "--pool", pool.ToString(), "--pool-size", "64",
                             "--failure-timeout", std::to_string(ToSeconds(scenario.gms->failure_timeout))},
                            ChildIo{.out = *log, .err = *log, .own_process_group = true});
    close(*log);
    if (!pid) return std::unexpected(pid.error());
    gms.pid = *pid;
    // Nodes retry their registration, but a GMS listening first makes the start deterministic.
    for (int i = 0; i < 100; ++i) {
      auto text = ReadFile((dir / "gms.log").string());
      if (text && text->find("listening on") != std::string::npos) break;
      int status = 0;
      if (waitpid(*pid, &status, WNOHANG) == *pid) {
        gms.pid.reset();
        return MakeError(ErrorCode::kIo, "qsm-gms " + DescribeExit(status) +
                                             " at start (log: " + (dir / "gms.log").string() + ")");
      }
      usleep(20'000);
    }
  }
  if (o.prometheus) {
    const std::string harness_address =
        Endpoint::FromOctets(127, 0, 0, 1, static_cast<uint16_t>(base_port + 97)).ToString();
    try {
      harness_exposer = std::make_unique<prometheus::Exposer>(harness_address);
    } catch (const std::exception& e) {
      return MakeError(ErrorCode::kIo, "harness metrics on " + harness_address + ": " + e.what());
    }
    harness_metrics.emplace(*harness_registry);
    harness_exposer->RegisterCollectable(harness_registry);
    std::vector<ScrapeTarget> targets;
    for (const NodePlan& plan : run.plans) {
      targets.push_back({metrics_address(plan.node_id),
                         {{"node", std::to_string(plan.node_id)},
                          {"role", plan.send_groups.empty() ? "receiver" : "sender"}}});
    }
    fs::copy_file(o.rules_file, fs::path(o.run_dir) / "rules.yml", fs::copy_options::overwrite_existing);
    std::ofstream(fs::path(o.run_dir) / "prometheus.yml")
        << PrometheusConfig(targets, harness_address, "rules.yml");
    auto server = PrometheusServer::Start(
        (fs::path(o.run_dir) / "prometheus.yml").string(), (fs::path(o.run_dir) / "prometheus").string(),
        static_cast<uint16_t>(base_port + 98), (fs::path(o.run_dir) / "prometheus.log").string());
    if (!server) return std::unexpected(server.error());
    prometheus = std::move(*server);
    record.prometheus_url = prometheus->url();
    if (o.progress) {
      std::fprintf(stderr, "[%s] prometheus: %s (data kept in %s/prometheus)\n", scenario.name.c_str(),
                   prometheus->url().c_str(), o.run_dir.c_str());
    }
  }

  // Every node listens before anyone sends: a shared wall-clock start.
  const auto wall_start = std::chrono::system_clock::now() + std::chrono::milliseconds(netns ? 1500 : 1000);
  const int64_t start_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(wall_start.time_since_epoch()).count();
  const SteadyClock::time_point t0 = SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                                                              wall_start - std::chrono::system_clock::now());
  const auto wall_begin = SteadyClock::now();

  std::map<uint32_t, NodeProcess> procs;
  auto stop_all = [&](const char* command) {
    for (auto& [id, p] : procs) {
      if (!p.running) continue;
      if (p.paused) kill(p.pid, SIGCONT);
      p.paused = false;
      Tell(p, command);
    }
  };
  for (const NodePlan& plan : run.plans) {
    const std::string base = (nodes_dir / ("node-" + std::to_string(plan.node_id))).string();
    std::ofstream(base + ".plan.json") << PlanToJson(plan) << "\n";
    std::vector<std::string> argv = netns ? hosts->ExecPrefix(plan.node_id) : std::vector<std::string>{};
    for (const std::string& a :
         {o.node_binary, std::string("run"), std::string("--plan"), base + ".plan.json",
          std::string("--result"), base + ".json", std::string("--control"), std::string("--ticks"),
          std::string("--start-at-ms"), std::to_string(start_ms)}) {
      argv.push_back(a);
    }
    if (o.prometheus) {
      argv.push_back("--metrics");
      argv.push_back(metrics_address(plan.node_id));
    }
    auto p = Spawn(plan.node_id, argv, base + ".log");
    if (!p) {
      stop_all("stop\n");
      for (auto& [id, q] : procs) kill(q.pid, SIGKILL);
      for (auto& [id, q] : procs) waitpid(q.pid, nullptr, 0);
      return std::unexpected(p.error());
    }
    procs[plan.node_id] = *p;
  }

  std::vector<Action> actions;
  std::set<uint32_t> network_nodes;
  for (const FaultWindow& w : run.windows) {
    for (uint32_t n : w.nodes) {
      if (w.type == FaultType::kPause) {
        actions.push_back({w.start, Action::kPause, n});
        actions.push_back({w.end, Action::kResume, n});
      } else if (w.type == FaultType::kCrash) {
        actions.push_back({w.start, Action::kCrash, n});
      }
    }
    if (w.via_network || w.type == FaultType::kPartition) {
      const std::vector<uint32_t> affected = w.type == FaultType::kPartition
                                                 ? [&] {
                                                     std::vector<uint32_t> all;
                                                     for (uint32_t id = 1; id <= scenario.nodes; ++id) all.push_back(id);
                                                     return all;
                                                   }()
                                                 : w.nodes;
      for (uint32_t n : affected) {
        actions.push_back({w.start, Action::kNetworkRules, n});
        actions.push_back({w.end, Action::kNetworkRules, n});
      }
    }
  }
  std::stable_sort(actions.begin(), actions.end(),
                   [](const Action& a, const Action& b) { return a.at < b.at; });
  size_t next_action = 0;

  ProgressLine progress(scenario.name, o.progress);
  const double load_s = ToSeconds(scenario.duration);
  const double total_s = load_s + ToSeconds(scenario.drain);
  bool stopping = false;
  // When the nodes that are still running get SIGKILL; max: not stopping.
  SteadyClock::time_point stop_deadline = SteadyClock::time_point::max();
  double last_rate_t = 0;
  uint64_t last_rate_delivered = 0;
  double rate = 0;
  while (true) {
    std::vector<pollfd> fds;
    for (auto& [id, p] : procs) {
      if (p.stdout_fd >= 0) fds.push_back({.fd = p.stdout_fd, .events = POLLIN, .revents = 0});
    }
    poll(fds.data(), fds.size(), 50);
    for (auto& [id, p] : procs) {  // progress records
      if (p.stdout_fd < 0) continue;
      char buffer[8192];
      ssize_t n;
      while ((n = read(p.stdout_fd, buffer, sizeof buffer)) > 0)
        p.pending.append(buffer, static_cast<size_t>(n));
      if (n == 0) {
        close(p.stdout_fd);
        p.stdout_fd = -1;
      }
      for (size_t eol; (eol = p.pending.find('\n')) != std::string::npos; p.pending.erase(0, eol + 1)) {
        auto tick = TickFromJson(p.pending.substr(0, eol));
        if (!tick) continue;  // not a record: ignore
        record.ticks.push_back(*tick);
        p.last_tick = *tick;
      }
    }
    for (auto& [id, p] : procs) {  // exits
      if (!p.running) continue;
      int status = 0;
      if (waitpid(p.pid, &status, WNOHANG) != p.pid) continue;
      p.running = false;
      close(p.stdin_fd);
      p.stdin_fd = -1;
      if (!p.crashed_by_harness && !stopping) {
        record.incidents.push_back("node " + std::to_string(id) + " " + DescribeExit(status) +
                                   " during the run (log: nodes/node-" + std::to_string(id) + ".log)");
        stopping = true;
        stop_all("stop\n");
        stop_deadline = SteadyClock::now() + 10s;
      } else if (!p.crashed_by_harness && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        record.incidents.push_back("node " + std::to_string(id) + " " + DescribeExit(status) +
                                   " while stopping");
      }
    }
    if (std::none_of(procs.begin(), procs.end(), [](const auto& e) { return e.second.running; })) break;

    const double elapsed = std::chrono::duration<double>(SteadyClock::now() - t0).count();
    const Duration offset = std::chrono::duration_cast<Duration>(SteadyClock::now() - t0);
    while (!stopping && next_action < actions.size() && actions[next_action].at <= offset) {
      const Action& a = actions[next_action++];
      NodeProcess& p = procs[a.node];
      if (!p.running) continue;
      switch (a.kind) {
        case Action::kPause:
          if (kill(p.pid, SIGSTOP) == 0) p.paused = true;
          break;
        case Action::kResume:
          if (kill(p.pid, SIGCONT) == 0) p.paused = false;
          break;
        case Action::kCrash:
          p.crashed_by_harness = true;
          kill(p.pid, SIGKILL);
          record.crashed.insert(a.node);
          if (scenario.gms) break;  // its failure detector removes the node
          for (auto& [id, q] : procs) {
            if (id != a.node) Tell(q, "exclude " + std::to_string(a.node) + "\n");
          }
          break;
        case Action::kNetworkRules:
          if (auto s = hosts->SetInputRules(a.node, NetworkRules(run, a.node, a.at)); !s) {
            record.incidents.push_back("network fault on node " + std::to_string(a.node) + ": " +
                                       s.error().message);
          }
          break;
      }
    }

    // Live rate: deliveries per second per running receiver, over the last second.
    uint64_t delivered = 0;
    size_t receivers = 0;
    for (auto& [id, p] : procs) {
      if (p.running && p.last_tick) {
        delivered += p.last_tick->delivered;
        ++receivers;
      }
    }
    if (elapsed - last_rate_t >= 1.0) {
      rate = receivers > 0 ? static_cast<double>(delivered - std::min(delivered, last_rate_delivered)) /
                                 (elapsed - last_rate_t) / static_cast<double>(receivers)
                           : 0;
      last_rate_t = elapsed;
      last_rate_delivered = delivered;
    }
    const char* phase = elapsed < 0                            ? "start"
                        : elapsed < ToSeconds(scenario.warmup) ? "warmup"
                        : elapsed < load_s                     ? "load"
                                                               : "drain";
    progress.Update(stopping ? "stop" : phase, std::max(elapsed, 0.0), total_s, rate);
    if (harness_metrics) {
      harness_metrics->SetPhase(stopping ? "stop" : phase);
      for (const char* type : exporters::HarnessMetrics::kFaultTypes) {
        size_t active = 0, started = 0;
        for (const FaultWindow& w : run.windows) {
          if (std::string(FaultTypeName(w.type)) != type || offset < w.start) continue;
          ++started;
          if (w.type == FaultType::kCrash || offset < w.end) ++active;
        }
        harness_metrics->SetFaults(type, active, started);
      }
    }

    if (!stopping && o.interrupted != nullptr && o.interrupted->load()) {
      record.interrupted = true;
      stopping = true;
      stop_all("stop\n");
      stop_deadline = SteadyClock::now() + 10s;
    }
    if (!stopping && elapsed >= load_s + 0.5) {
      // Done when every running node has reported after the load ended, is idle, and has delivered
      // everything the running senders sent.
      uint64_t sent = 0;
      bool all_reported = true;
      for (auto& [id, p] : procs) {
        if (!p.running) continue;
        if (!p.last_tick || p.last_tick->sending || p.last_tick->t_s < load_s) all_reported = false;
        if (p.last_tick && run.is_sender(id)) sent += p.last_tick->sent;
      }
      // Idle everywhere means every sender's messages were acknowledged by every region, so
      // delivered; with every group joined by all, the count must also reach what was sent.
      const bool all_groups = scenario.membership.pattern == "all";
      bool complete = all_reported;
      for (auto& [id, p] : procs) {
        if (p.running && complete) {
          complete = p.last_tick->idle && (!all_groups || p.last_tick->delivered >= sent);
        }
      }
      if (complete || elapsed >= total_s) {
        if (!complete)
          record.incidents.push_back("the drain phase ended before every node had delivered everything");
        stopping = true;
        stop_all("stop\n");
        stop_deadline = SteadyClock::now() + 10s;
      }
    }
    if (SteadyClock::now() > stop_deadline) {
      for (auto& [id, p] : procs) {
        if (!p.running) continue;
        record.incidents.push_back("node " + std::to_string(id) + " did not stop within 10 s; killed");
        kill(p.pid, SIGKILL);
      }
      stop_deadline = SteadyClock::time_point::max();
    }
  }
  for (auto& [id, p] : procs) {
    if (p.stdout_fd >= 0) close(p.stdout_fd);
  }
  gms.Stop();
  record.wall_seconds = std::chrono::duration<double>(SteadyClock::now() - wall_begin).count();
  TrimWindows(record.run.windows, std::chrono::duration_cast<Duration>(SteadyClock::now() - t0));
  std::stable_sort(record.ticks.begin(), record.ticks.end(),
                   [](const Tick& a, const Tick& b) { return a.t_s < b.t_s; });
  for (const NodePlan& plan : run.plans) {
    const std::string path = (nodes_dir / ("node-" + std::to_string(plan.node_id) + ".json")).string();
    if (!fs::exists(path)) continue;  // the check reports a missing file
    auto result = ReadResultFile(path);
    if (!result) {
      record.incidents.push_back(result.error().message);
      continue;
    }
    record.results[plan.node_id] = std::move(*result);
  }
  return record;
}

}  // namespace qsm::harness
