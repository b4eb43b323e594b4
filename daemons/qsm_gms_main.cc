// qsm-gms: the membership service as a process (engine/membership/gms.h). Nodes register with it
// (qsm-node run --gms ADDRESS:PORT), it detects failures, computes regions and views, and sends
// each node the views it needs. Its state is saved to --state after every commit (written to a
// temporary file, synced, renamed), so a restarted qsm-gms continues with the same views.
// Every commit is logged on stdout, one line per changed region view.
#include <fcntl.h>
#include <prometheus/registry.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include "engine/core/build_info.h"
#include "engine/membership/gms.h"
#include "engine/runtime/dispatcher.h"
#include "engine/runtime/run_loop.h"
#include "engine/transport/asio/asio_transport.h"
#include "engine/transport/auth/authenticated_transport.h"
#include "exporters/prometheus/exposer.h"
#include "exporters/prometheus/gms_metrics.h"

namespace qsm {
namespace {

// The GMS's state in one file, replaced atomically.
class FileStore final : public membership::GmsStore {
 public:
  explicit FileStore(std::string path) : path_(std::move(path)) {}

  Result<std::optional<std::string>> Load() override {
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) return std::optional<std::string>{};  // a new cluster
    if (fd < 0) return MakeError(ErrorCode::kIo, path_ + ": " + std::strerror(errno));
    std::string text;
    char buffer[65536];
    for (;;) {
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const std::string why = std::strerror(errno);
        ::close(fd);
        return MakeError(ErrorCode::kIo, path_ + ": " + why);
      }
      if (n == 0) break;
      text.append(buffer, static_cast<size_t>(n));
    }
    ::close(fd);
    return std::optional<std::string>{std::move(text)};
  }

  Status Save(const std::string& state) override {
    const std::string temp = path_ + ".tmp";
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return MakeError(ErrorCode::kIo, temp + ": " + std::strerror(errno));
    size_t done = 0;
    while (done < state.size()) {
      const ssize_t n = ::write(fd, state.data() + done, state.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const std::string why = std::strerror(errno);
        ::close(fd);
        return MakeError(ErrorCode::kIo, temp + ": " + why);
      }
      done += static_cast<size_t>(n);
    }
    const bool synced = ::fsync(fd) == 0;
    ::close(fd);
    if (!synced || ::rename(temp.c_str(), path_.c_str()) != 0) {
      return MakeError(ErrorCode::kIo, path_ + ": " + std::strerror(errno));
    }
    return {};
  }

 private:
  std::string path_;
};

struct Options {
  std::string listen = "127.0.0.1:7300";
  std::string state = "qsm-gms.state";
  std::string pool = "239.255.1.1:7400";
  uint32_t pool_size = 1024;
  double failure_timeout_s = 10;
  double batch_ms = 100;
  std::string metrics;
  std::string key;  // the cluster key file ("" = packets are not authenticated)
  bool allow_external = false;
};

int Run(const Options& o) {
  auto listen = Endpoint::Parse(o.listen);
  auto pool = Endpoint::Parse(o.pool);
  if (!listen || listen->port == 0) {
    std::fprintf(stderr, "qsm-gms: --listen %s: give ADDRESS:PORT\n", o.listen.c_str());
    return 2;
  }
  if (!pool || !pool->is_multicast() || pool->port == 0) {
    std::fprintf(stderr, "qsm-gms: --pool %s: give the first multicast ADDRESS:PORT of the pool\n",
                 o.pool.c_str());
    return 2;
  }
  if ((pool->address & 0x0fffffffu) + o.pool_size > 0x10000000u) {
    std::fprintf(stderr, "qsm-gms: --pool-size %u runs past the multicast range\n", o.pool_size);
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::shared_ptr<const ClusterKeys> keys;
  if (!o.key.empty()) {
    auto loaded = ClusterKeys::Load(o.key);
    if (!loaded) {
      std::fprintf(stderr, "qsm-gms: %s\n", loaded.error().message.c_str());
      return 2;
    }
    keys = std::make_shared<const ClusterKeys>(std::move(*loaded));
  }
  RealClock clock;
  Counters counters;
  // The GMS never multicasts; the interface is its listen address. Registers carry whole group
  // sets, so it takes datagrams up to the UDP limit.
  auto transport = AsioTransport::Create(clock, counters,
                                         {.bind = *listen,
                                          .multicast_interface = listen->address,
                                          .max_datagram_bytes = wire::kMaxPacketSize,
                                          .pool_buffers = 1024,
                                          .allow_external_networks = o.allow_external});
  if (!transport) {
    std::fprintf(stderr, "qsm-gms: %s\n", transport.error().ToString().c_str());
    return 1;
  }
  Transport* network = transport->get();
  std::optional<AuthenticatedTransport> sealed;
  if (keys) {
    sealed.emplace(*network, counters, keys);
    network = &*sealed;
  }
  Scheduler scheduler(clock, counters);
  FileStore store(o.state);
  membership::Gms gms({.failure_timeout = Duration(static_cast<int64_t>(o.failure_timeout_s * 1e9)),
                       .batch_delay = Duration(static_cast<int64_t>(o.batch_ms * 1e6)),
                       .multicast_first = *pool,
                       .multicast_count = o.pool_size},
                      scheduler, *network, store);
  if (auto started = gms.Start(); !started) {
    std::fprintf(stderr, "qsm-gms: %s: %s\n", o.state.c_str(), started.error().message.c_str());
    return 1;
  }
  gms.SetCommitObserver([&gms](uint64_t epoch, const membership::Membership::Changes& changes) {
    std::fputs(membership::DescribeCommit(gms.membership(), epoch, changes).c_str(), stdout);
    std::fflush(stdout);
  });
  Dispatcher dispatcher(scheduler, *network, gms);
  RunLoop loop(scheduler, *network);

  std::unique_ptr<prometheus::Exposer> exposer;
  auto registry = std::make_shared<prometheus::Registry>();
  std::optional<exporters::GmsMetrics> metrics;
  std::function<void(TimePoint)> update_metrics;
  AlarmId metrics_alarm;
  if (!o.metrics.empty()) {
    auto started = exporters::StartExposer(o.metrics, o.allow_external);
    if (!started) {
      std::fprintf(stderr, "qsm-gms: %s\n", started.error().message.c_str());
      return started.error().code == ErrorCode::kInvalidArgument ? 2 : 1;
    }
    exposer = std::move(*started);
    metrics.emplace(*registry);
    exporters::RegisterBuildInfo(*registry, "qsm-gms");
    exposer->RegisterCollectable(registry);
    update_metrics = [&](TimePoint now) {
      metrics->Update(gms, counters);
      metrics_alarm = scheduler.alarms().Schedule(now + 1s, update_metrics);
    };
    update_metrics(clock.Now());
  }
  std::printf("qsm-gms listening on %s, state in %s, epoch %llu, %zu nodes known\n",
              (*transport)->local_endpoint().ToString().c_str(), o.state.c_str(),
              static_cast<unsigned long long>(gms.epoch()), gms.membership().nodes().size());
  std::fflush(stdout);

  std::atomic<bool> done{false};
  std::thread waiter([&] {
    const timespec timeout{.tv_sec = 0, .tv_nsec = 100'000'000};
    while (!done.load()) {
      if (sigtimedwait(&signals, nullptr, &timeout) > 0) loop.Stop();
    }
  });
  loop.Run();
  done = true;
  waiter.join();
  scheduler.alarms().Cancel(metrics_alarm);
  const membership::GmsStats& s = gms.stats();
  std::printf("qsm-gms stopped: epoch %llu, %llu commits, %llu failures, %llu departures\n",
              static_cast<unsigned long long>(gms.epoch()), static_cast<unsigned long long>(s.commits),
              static_cast<unsigned long long>(s.failures), static_cast<unsigned long long>(s.departures));
  return 0;
}

}  // namespace
}  // namespace qsm

int main(int argc, char** argv) {
  qsm::Options o;
  CLI::App app{"qsm-gms: the QSM membership service (regions, views, failure detection)"};
  app.set_version_flag("--version", qsm::VersionText("qsm-gms"));
  app.add_option("--listen", o.listen, "unicast ADDRESS:PORT nodes register at")->capture_default_str();
  app.add_option("--state", o.state, "state file, kept across restarts")->capture_default_str();
  app.add_option("--pool", o.pool, "first multicast ADDRESS:PORT of the regions' address pool")
      ->capture_default_str();
  app.add_option("--pool-size", o.pool_size, "addresses in the pool")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1u << 24));
  app.add_option("--failure-timeout", o.failure_timeout_s,
                 "seconds without a heartbeat before a node is removed")
      ->capture_default_str()
      ->check(CLI::Range(0.05, 3600.0));
  app.add_option("--batch-ms", o.batch_ms, "changes are committed together this long after the first")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 10000.0));
  app.add_option("--metrics", o.metrics,
                 "serve Prometheus metrics at http://ADDRESS:PORT/metrics (PORT alone: on 127.0.0.1)");
  app.add_option("--key", o.key, "the cluster key file: authenticate every packet (qsm-node keygen FILE)");
  app.add_flag("--allow-external-network", o.allow_external,
               "allow addresses outside 127.0.0.0/8 and 198.18.0.0/15 (real clusters)");
  CLI11_PARSE(app, argc, argv);
  return qsm::Run(o);
}
