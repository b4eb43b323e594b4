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
#include <memory>
#include <optional>
#include <sstream>

#include "engine/transport/auth/cluster_key.h"
#include "exporters/prometheus/harness_metrics.h"
#include "harness/process.h"
#include "harness/run/launcher.h"
#include "harness/run/netns.h"
#include "harness/run/prometheus.h"
#include "harness/workload/engine_driver.h"
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

// A file removed when this goes out of scope (empty path: none).
struct RemovedOnExit {
  fs::path path;
  ~RemovedOnExit() {
    std::error_code ignored;
    if (!path.empty()) fs::remove(path, ignored);
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

namespace {

// Every port and address a local or netns run uses. Local runs take a port range and multicast
// addresses derived from the harness's process id, so concurrent runs do not collide:
// base+ID node unicast, base+49 qsm-gms's metrics, base+50+ID node metrics, base+96 qsm-gms,
// base+97 the harness's metrics, base+98 Prometheus, base+99 the regions' multicast port.
class PortPlan {
 public:
  static constexpr uint32_t kMaxLocalNodes = 45;

  PortPlan(bool netns, pid_t pid)
      : netns_(netns),
        base_(static_cast<uint16_t>(20000 + (pid % 400) * 100)),
        group_octet_(static_cast<uint8_t>(1 + pid % 250)) {}

  Endpoint node(uint32_t id) const {
    return netns_ ? Endpoint{NetnsCluster::Address(id), 7000} : Local(static_cast<uint16_t>(base_ + id));
  }
  uint32_t interface(uint32_t id) const {
    return netns_ ? NetnsCluster::Address(id) : Endpoint::FromOctets(127, 0, 0, 1, 0).address;
  }
  std::string metrics(uint32_t id) const {
    return netns_ ? Endpoint{NetnsCluster::Address(id), 7090}.ToString()
                  : Local(static_cast<uint16_t>(base_ + 50 + id)).ToString();
  }
  Endpoint region_multicast() const { return Endpoint::FromOctets(239, 255, 77, group_octet_, MulticastPort()); }
  // The pool qsm-gms gives regions their addresses from.
  Endpoint gms_pool() const { return Endpoint::FromOctets(239, 255, 78, group_octet_, MulticastPort()); }
  Endpoint gms() const {
    return netns_ ? Endpoint::FromOctets(198, 18, 0, 254, 7300) : Local(static_cast<uint16_t>(base_ + 96));
  }
  std::string gms_metrics() const {
    return netns_ ? Endpoint::FromOctets(198, 18, 0, 254, 7390).ToString()
                  : Local(static_cast<uint16_t>(base_ + 49)).ToString();
  }
  std::string harness_metrics() const { return Local(static_cast<uint16_t>(base_ + 97)).ToString(); }
  uint16_t prometheus_port() const { return static_cast<uint16_t>(base_ + 98); }

  Addressing addressing() const {
    return Addressing{.endpoint = [this](uint32_t id) { return node(id); },
                      .interface = [this](uint32_t id) { return interface(id); },
                      .region_multicast = region_multicast(),
                      .gms = gms()};
  }

 private:
  static Endpoint Local(uint16_t port) { return Endpoint::FromOctets(127, 0, 0, 1, port); }
  uint16_t MulticastPort() const { return static_cast<uint16_t>(base_ + 99); }

  bool netns_;
  uint16_t base_;
  uint8_t group_octet_;
};

// Runs one scenario as qsm-node processes (local or in netns hosts): starts the helpers, spawns
// the nodes, applies process and network faults on schedule, follows progress, decides when the
// run is done, stops everything, and collects the results. Run() reads as its steps.
class Supervisor {
 public:
  Supervisor(const Scenario& scenario, const LaunchOptions& options)
      : scenario_(scenario),
        o_(options),
        netns_(scenario.launcher == "netns"),
        tag_(std::to_string(getpid())),
        ports_(netns_, getpid()),
        nodes_dir_(fs::path(options.run_dir) / "nodes"),
        progress_(scenario.name, options.progress) {}

  Result<RunRecord> Run();

 private:
  Status Refuse() const;
  Status CreateHosts();
  Status MakeClusterKey();
  Status StartGms();
  Status StartPrometheus();
  void AgreeOnStart();
  Status SpawnNodes();
  void PlanActions();
  void ReadTicks();
  void ReapExits();
  void FireFaults(Duration offset);
  void ReportProgress(double elapsed, Duration offset);
  void StopWhenDone(double elapsed);
  void KillStragglers();
  void CollectResults();

  bool AnyRunning() const {
    return std::any_of(procs_.begin(), procs_.end(), [](const auto& e) { return e.second.running; });
  }
  const ResolvedRun& run() const { return record_.run; }
  // Tells every running node to stop; the ones still running 10 s later are killed.
  void StopAll();
  void KillAll();

  const Scenario& scenario_;
  const LaunchOptions& o_;
  const bool netns_;
  const std::string tag_;
  const PortPlan ports_;
  const fs::path nodes_dir_;
  RunRecord record_;
  std::unique_ptr<NetnsCluster> hosts_;
  RemovedOnExit key_file_;  // the run's cluster key (engine.auth): never outlives the run
  StoppedOnExit gms_;
  std::unique_ptr<prometheus::Exposer> harness_exposer_;
  std::shared_ptr<prometheus::Registry> harness_registry_ = std::make_shared<prometheus::Registry>();
  std::optional<exporters::HarnessMetrics> harness_metrics_;
  std::unique_ptr<PrometheusServer> prometheus_;
  int64_t start_ms_ = 0;  // the wall-clock start every node waits for
  SteadyClock::time_point t0_, wall_begin_;
  std::map<uint32_t, NodeProcess> procs_;
  std::vector<Action> actions_;
  size_t next_action_ = 0;
  ProgressLine progress_;
  bool stopping_ = false;
  SteadyClock::time_point stop_deadline_ = SteadyClock::time_point::max();  // max: not stopping
  double last_rate_t_ = 0;
  uint64_t last_rate_delivered_ = 0;
  double rate_ = 0;
};

Result<RunRecord> Supervisor::Run() {
  signal(SIGPIPE, SIG_IGN);  // a node that died must not kill the harness when it is written to
  if (auto s = Refuse(); !s) return std::unexpected(s.error());
  if (auto s = CreateHosts(); !s) return std::unexpected(s.error());
  auto resolved = Resolve(scenario_, ports_.addressing());
  if (!resolved) return std::unexpected(resolved.error());
  record_.run = std::move(*resolved);
  record_.started_at = UtcNow();
  fs::create_directories(nodes_dir_);
  if (auto s = MakeClusterKey(); !s) return std::unexpected(s.error());
  if (auto s = StartGms(); !s) return std::unexpected(s.error());
  if (auto s = StartPrometheus(); !s) return std::unexpected(s.error());
  AgreeOnStart();
  if (auto s = SpawnNodes(); !s) return std::unexpected(s.error());
  PlanActions();
  while (true) {
    ReadTicks();
    ReapExits();
    if (!AnyRunning()) break;
    const Duration offset = std::chrono::duration_cast<Duration>(SteadyClock::now() - t0_);
    const double elapsed = ToSeconds(offset);
    FireFaults(offset);
    ReportProgress(elapsed, offset);
    if (!stopping_ && o_.interrupted != nullptr && o_.interrupted->load()) {
      record_.interrupted = true;
      StopAll();
    }
    StopWhenDone(elapsed);
    KillStragglers();
  }
  gms_.Stop();
  record_.wall_seconds = std::chrono::duration<double>(SteadyClock::now() - wall_begin_).count();
  TrimWindows(record_.run.windows, std::chrono::duration_cast<Duration>(SteadyClock::now() - t0_));
  CollectResults();
  return std::move(record_);
}

// Refuses, before anything starts, what this launcher cannot run.
Status Supervisor::Refuse() const {
  for (const FaultSpec& f : scenario_.faults) {
    if (!netns_ && (f.via_network || f.type == FaultType::kPartition)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       scenario_.source + ":" + std::to_string(f.line) + ": fault '" + FaultTypeName(f.type) +
                           "' acts on the network (nftables): it needs launcher: netns");
    }
  }
  if (!netns_ && scenario_.nodes > PortPlan::kMaxLocalNodes) {
    return MakeError(ErrorCode::kInvalidArgument, scenario_.source + ": 'nodes': the local launcher takes at most " +
                                                      std::to_string(PortPlan::kMaxLocalNodes) +
                                                      " nodes (use sim for more)");
  }
  return {};
}

// netns: one namespace per node on a bridge, and an uplink when the harness must reach them.
Status Supervisor::CreateHosts() {
  if (!netns_) return {};
  auto created = NetnsCluster::Create(scenario_.nodes, tag_);
  if (!created) {
    NetnsCluster::Cleanup(tag_);
    return std::unexpected(created.error());
  }
  hosts_ = std::move(*created);
  if (o_.prometheus || scenario_.gms) return hosts_->AddUplink();
  return {};
}

// A fresh cluster key for the run's processes (engine.auth), removed when the run ends.
Status Supervisor::MakeClusterKey() {
  if (!scenario_.engine.auth) return {};
  const fs::path path = fs::path(o_.run_dir) / "cluster.key";
  std::error_code ignored;
  fs::remove(path, ignored);  // a previous run's, left by a crash
  if (auto s = ClusterKeys::WriteNew(path, ClusterKeys::Generate(1)); !s) return s;
  key_file_.path = path;
  return {};
}

// The --key flag for the run's processes (none without engine.auth).
std::vector<std::string> KeyFlag(const fs::path& key) {
  if (key.empty()) return {};
  return {"--key", key.string()};
}

// qsm-gms for the run: listening before any node registers; stopped after the last node.
Status Supervisor::StartGms() {
  if (!scenario_.gms) return {};
  const std::string binary = !o_.gms_binary.empty() ? o_.gms_binary
                             : fs::path(o_.node_binary).has_parent_path()
                                 ? (fs::path(o_.node_binary).parent_path() / "qsm-gms").string()
                                 : std::string("qsm-gms");
  const fs::path dir(o_.run_dir);
  auto log = OpenLog((dir / "gms.log").string());
  if (!log) return std::unexpected(log.error());
  std::vector<std::string> argv{binary, "--listen", ports_.gms().ToString(), "--state", (dir / "gms.state").string(),
                                "--pool", ports_.gms_pool().ToString(), "--pool-size", "64", "--failure-timeout",
                                std::to_string(ToSeconds(scenario_.gms->failure_timeout))};
  if (o_.prometheus) {
    argv.push_back("--metrics");
    argv.push_back(ports_.gms_metrics());
  }
  for (const std::string& a : KeyFlag(key_file_.path)) argv.push_back(a);
  auto pid = StartProcess(argv, ChildIo{.out = *log, .err = *log, .own_process_group = true});
  close(*log);
  if (!pid) return std::unexpected(pid.error());
  gms_.pid = *pid;
  // Nodes retry their registration, but a GMS listening first makes the start deterministic.
  for (int i = 0; i < 100; ++i) {
    auto text = ReadFile((dir / "gms.log").string());
    if (text && text->find("listening on") != std::string::npos) break;
    int status = 0;
    if (waitpid(*pid, &status, WNOHANG) == *pid) {
      gms_.pid.reset();
      return MakeError(ErrorCode::kIo,
                       "qsm-gms " + DescribeExit(status) + " at start (log: " + (dir / "gms.log").string() + ")");
    }
    usleep(20'000);
  }
  return {};
}

// Prometheus in the loop: the harness's own metrics, and a server scraping them, every node (which
// it labels node and role) and qsm-gms.
Status Supervisor::StartPrometheus() {
  if (!o_.prometheus) return {};
  const std::string harness_address = ports_.harness_metrics();
  try {
    harness_exposer_ = std::make_unique<prometheus::Exposer>(harness_address);
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kIo, "harness metrics on " + harness_address + ": " + e.what());
  }
  harness_metrics_.emplace(*harness_registry_);
  harness_exposer_->RegisterCollectable(harness_registry_);
  std::vector<ScrapeTarget> targets;
  for (const NodePlan& plan : run().plans) {
    targets.push_back({ports_.metrics(plan.node_id),
                       {{"node", std::to_string(plan.node_id)},
                        {"role", plan.send_groups.empty() ? "receiver" : "sender"}}});
  }
  const fs::path dir(o_.run_dir);
  fs::copy_file(o_.rules_file, dir / "rules.yml", fs::copy_options::overwrite_existing);
  std::ofstream(dir / "prometheus.yml")
      << PrometheusConfig(targets, harness_address, "rules.yml", scenario_.gms ? ports_.gms_metrics() : "");
  auto server = PrometheusServer::Start((dir / "prometheus.yml").string(), (dir / "prometheus").string(),
                                        ports_.prometheus_port(), (dir / "prometheus.log").string());
  if (!server) return std::unexpected(server.error());
  prometheus_ = std::move(*server);
  record_.prometheus_url = prometheus_->url();
  if (o_.progress) {
    std::fprintf(stderr, "[%s] prometheus: %s (data kept in %s/prometheus)\n", scenario_.name.c_str(),
                 prometheus_->url().c_str(), o_.run_dir.c_str());
  }
  return {};
}

// Every node listens before anyone sends: a shared wall-clock start, and the steady time it maps to.
void Supervisor::AgreeOnStart() {
  // With a GMS every node must register and install its region view before the load starts, or a
  // late one is a joiner and misses the first messages (seen on a loaded 2-core machine at 1 s).
  // A mitigation, not a guarantee: the senders do not wait for the full view.
  const int lead_ms = (netns_ ? 1500 : 1000) + (scenario_.gms ? 2000 : 0);
  const auto wall_start = std::chrono::system_clock::now() + std::chrono::milliseconds(lead_ms);
  start_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(wall_start.time_since_epoch()).count();
  t0_ = SteadyClock::now() +
        std::chrono::duration_cast<SteadyClock::duration>(wall_start - std::chrono::system_clock::now());
  wall_begin_ = SteadyClock::now();
}

Status Supervisor::SpawnNodes() {
  for (const NodePlan& plan : run().plans) {
    const std::string base = (nodes_dir_ / ("node-" + std::to_string(plan.node_id))).string();
    std::ofstream(base + ".plan.json") << PlanToJson(plan) << "\n";
    std::vector<std::string> argv = netns_ ? hosts_->ExecPrefix(plan.node_id) : std::vector<std::string>{};
    for (const std::string& a : {o_.node_binary, std::string("run"), std::string("--plan"), base + ".plan.json",
                                 std::string("--result"), base + ".json", std::string("--control"),
                                 std::string("--ticks"), std::string("--start-at-ms"), std::to_string(start_ms_)}) {
      argv.push_back(a);
    }
    if (o_.prometheus) {
      argv.push_back("--metrics");
      argv.push_back(ports_.metrics(plan.node_id));
    }
    for (const std::string& a : KeyFlag(key_file_.path)) argv.push_back(a);
    auto p = Spawn(plan.node_id, argv, base + ".log");
    if (!p) {
      KillAll();
      return std::unexpected(p.error());
    }
    procs_[plan.node_id] = *p;
  }
  return {};
}

// The process and network actions of every fault window, in time order.
void Supervisor::PlanActions() {
  for (const FaultWindow& w : run().windows) {
    for (uint32_t n : w.nodes) {
      if (w.type == FaultType::kPause) {
        actions_.push_back({w.start, Action::kPause, n});
        actions_.push_back({w.end, Action::kResume, n});
      } else if (w.type == FaultType::kCrash) {
        actions_.push_back({w.start, Action::kCrash, n});
      }
    }
    if (!w.via_network && w.type != FaultType::kPartition) continue;
    std::vector<uint32_t> affected = w.nodes;
    if (w.type == FaultType::kPartition) {
      affected.clear();
      for (uint32_t id = 1; id <= scenario_.nodes; ++id) affected.push_back(id);
    }
    for (uint32_t n : affected) {
      actions_.push_back({w.start, Action::kNetworkRules, n});
      actions_.push_back({w.end, Action::kNetworkRules, n});
    }
  }
  std::stable_sort(actions_.begin(), actions_.end(), [](const Action& a, const Action& b) { return a.at < b.at; });
}

// Waits up to 50 ms for output, then takes every complete progress record the nodes printed.
void Supervisor::ReadTicks() {
  std::vector<pollfd> fds;
  for (auto& [id, p] : procs_) {
    if (p.stdout_fd >= 0) fds.push_back({.fd = p.stdout_fd, .events = POLLIN, .revents = 0});
  }
  poll(fds.data(), fds.size(), 50);
  for (auto& [id, p] : procs_) {
    if (p.stdout_fd < 0) continue;
    char buffer[8192];
    ssize_t n;
    while ((n = read(p.stdout_fd, buffer, sizeof buffer)) > 0) p.pending.append(buffer, static_cast<size_t>(n));
    if (n == 0) {
      close(p.stdout_fd);
      p.stdout_fd = -1;
    }
    for (size_t eol; (eol = p.pending.find('\n')) != std::string::npos; p.pending.erase(0, eol + 1)) {
      auto tick = TickFromJson(p.pending.substr(0, eol));
      if (!tick) continue;  // not a record: ignore
      record_.ticks.push_back(*tick);
      p.last_tick = *tick;
    }
  }
}

// Notes the nodes that ended; one that ended on its own during the run stops the run.
void Supervisor::ReapExits() {
  for (auto& [id, p] : procs_) {
    if (!p.running) continue;
    int status = 0;
    if (waitpid(p.pid, &status, WNOHANG) != p.pid) continue;
    p.running = false;
    close(p.stdin_fd);
    p.stdin_fd = -1;
    if (!p.crashed_by_harness && !stopping_) {
      record_.incidents.push_back("node " + std::to_string(id) + " " + DescribeExit(status) +
                                  " during the run (log: nodes/node-" + std::to_string(id) + ".log)");
      StopAll();
    } else if (!p.crashed_by_harness && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      record_.incidents.push_back("node " + std::to_string(id) + " " + DescribeExit(status) + " while stopping");
    }
  }
}

void Supervisor::FireFaults(Duration offset) {
  while (!stopping_ && next_action_ < actions_.size() && actions_[next_action_].at <= offset) {
    const Action& a = actions_[next_action_++];
    NodeProcess& p = procs_[a.node];
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
        record_.crashed.insert(a.node);
        if (scenario_.gms) break;  // its failure detector removes the node
        for (auto& [id, q] : procs_) {
          if (id != a.node) Tell(q, "exclude " + std::to_string(a.node) + "\n");
        }
        break;
      case Action::kNetworkRules:
        if (auto s = hosts_->SetInputRules(a.node, NetworkRules(run(), a.node, a.at)); !s) {
          record_.incidents.push_back("network fault on node " + std::to_string(a.node) + ": " + s.error().message);
        }
        break;
    }
  }
}

// The progress line (live deliveries per second per running receiver, over the last second) and
// the harness's metrics.
void Supervisor::ReportProgress(double elapsed, Duration offset) {
  uint64_t delivered = 0;
  size_t receivers = 0;
  for (auto& [id, p] : procs_) {
    if (p.running && p.last_tick) {
      delivered += p.last_tick->delivered;
      ++receivers;
    }
  }
  if (elapsed - last_rate_t_ >= 1.0) {
    rate_ = receivers > 0 ? static_cast<double>(delivered - std::min(delivered, last_rate_delivered_)) /
                                (elapsed - last_rate_t_) / static_cast<double>(receivers)
                          : 0;
    last_rate_t_ = elapsed;
    last_rate_delivered_ = delivered;
  }
  const double load_s = ToSeconds(scenario_.duration);
  const char* phase = stopping_                              ? "stop"
                      : elapsed < 0                          ? "start"
                      : elapsed < ToSeconds(scenario_.warmup) ? "warmup"
                      : elapsed < load_s                     ? "load"
                                                             : "drain";
  progress_.Update(phase, std::max(elapsed, 0.0), load_s + ToSeconds(scenario_.drain), rate_);
  if (!harness_metrics_) return;
  harness_metrics_->SetPhase(phase);
  for (const char* type : exporters::HarnessMetrics::kFaultTypes) {
    size_t active = 0, started = 0;
    for (const FaultWindow& w : run().windows) {
      if (std::string(FaultTypeName(w.type)) != type || offset < w.start) continue;
      ++started;
      if (w.type == FaultType::kCrash || offset < w.end) ++active;
    }
    harness_metrics_->SetFaults(type, active, started);
  }
}

// After the load: done when every running node has reported since the load ended, is idle, and
// has delivered everything the running senders sent (with every group joined by all; an
// unreliable engine's nodes instead report once more, a tick after the load, for what was in
// flight); or when the drain phase is over.
void Supervisor::StopWhenDone(double elapsed) {
  const double load_s = ToSeconds(scenario_.duration);
  if (stopping_ || elapsed < load_s + 0.5) return;
  uint64_t sent = 0;
  bool complete = true;
  for (auto& [id, p] : procs_) {
    if (!p.running) continue;
    if (!p.last_tick || p.last_tick->sending || p.last_tick->t_s < load_s) complete = false;
    if (p.last_tick && run().is_sender(id)) sent += p.last_tick->sent;
  }
  // Idle everywhere means every sender's messages were acknowledged by every region, so delivered.
  const bool all_groups = scenario_.membership.pattern == "all";
  const bool reliable = GuaranteesOf(scenario_.engine.kind).reliable;
  for (auto& [id, p] : procs_) {
    if (!p.running || !complete) continue;
    complete = p.last_tick->idle && (reliable ? !all_groups || p.last_tick->delivered >= sent
                                              : p.last_tick->t_s >= load_s + 1);
  }
  if (!complete && elapsed < load_s + ToSeconds(scenario_.drain)) return;
  if (!complete) record_.incidents.push_back("the drain phase ended before every node had delivered everything");
  StopAll();
}

void Supervisor::KillStragglers() {
  if (SteadyClock::now() <= stop_deadline_) return;
  for (auto& [id, p] : procs_) {
    if (!p.running) continue;
    record_.incidents.push_back("node " + std::to_string(id) + " did not stop within 10 s; killed");
    kill(p.pid, SIGKILL);
  }
  stop_deadline_ = SteadyClock::time_point::max();
}

void Supervisor::StopAll() {
  stopping_ = true;
  for (auto& [id, p] : procs_) {
    if (!p.running) continue;
    if (p.paused) kill(p.pid, SIGCONT);
    p.paused = false;
    Tell(p, "stop\n");
  }
  stop_deadline_ = SteadyClock::now() + 10s;
}

void Supervisor::KillAll() {
  StopAll();
  for (auto& [id, q] : procs_) kill(q.pid, SIGKILL);
  for (auto& [id, q] : procs_) waitpid(q.pid, nullptr, 0);
}

// The progress records in time order, and every node's result file.
void Supervisor::CollectResults() {
  for (auto& [id, p] : procs_) {
    if (p.stdout_fd >= 0) close(p.stdout_fd);
  }
  std::stable_sort(record_.ticks.begin(), record_.ticks.end(),
                   [](const Tick& a, const Tick& b) { return a.t_s < b.t_s; });
  for (const NodePlan& plan : run().plans) {
    const std::string path = (nodes_dir_ / ("node-" + std::to_string(plan.node_id) + ".json")).string();
    if (!fs::exists(path)) continue;  // the check reports a missing file
    auto result = ReadResultFile(path);
    if (!result) {
      record_.incidents.push_back(result.error().message);
      continue;
    }
    record_.results[plan.node_id] = std::move(*result);
  }
}

}  // namespace

Result<RunRecord> RunProcesses(const Scenario& scenario, const LaunchOptions& o) {
  return Supervisor(scenario, o).Run();
}

}  // namespace qsm::harness
