// What the blasters (qsm-blaster, qsm-norm-blaster) share: the flags both take, the multicast
// group and interface checked for network safety, and receiver processes that each report one
// result through a pipe.
#pragma once

#include <arpa/inet.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace qsm::blaster {

// Network safety (DESIGN.md): 127.0.0.0/8 or this project's test hosts, 198.18.0.0/15.
inline bool SafeInterface(in_addr_t a) {
  const uint32_t h = ntohl(a);
  return (h >> 24) == 127 || (h >> 17) == (0xC612u >> 1);
}

// The --group and --interface flags as addresses; false (after saying why on stderr) if the group
// is not IPv4 multicast or the interface is not a safe address.
inline bool ParseGroupAndInterface(const char* tool, const std::string& group_text,
                                   const std::string& interface_text, in_addr& group, in_addr& interface) {
  if (::inet_pton(AF_INET, group_text.c_str(), &group) != 1 || (ntohl(group.s_addr) >> 28) != 0xE) {
    std::fprintf(stderr, "%s: --group '%s' is not an IPv4 multicast address\n", tool, group_text.c_str());
    return false;
  }
  if (::inet_pton(AF_INET, interface_text.c_str(), &interface) != 1 || !SafeInterface(interface.s_addr)) {
    std::fprintf(stderr, "%s: --interface '%s' must be an address in 127.0.0.0/8 or 198.18.0.0/15\n", tool,
                 interface_text.c_str());
    return false;
  }
  return true;
}

// The flags both blasters take; a tool's own options derive from it.
struct CommonFlags {
  CommonFlags(std::string default_group, uint16_t default_port)
      : group(std::move(default_group)), port(default_port) {}
  int receivers = 1;
  double duration_s = 5;
  std::string group;
  uint16_t port;
  std::string interface = "127.0.0.1";
  bool json = false;
};

inline void AddCommonFlags(CLI::App& app, CommonFlags& f) {
  app.add_option("-k,--receivers", f.receivers, "receiver processes")->capture_default_str()->check(CLI::Range(1, 64));
  app.add_option("-d,--duration", f.duration_s, "seconds of sending")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  app.add_option("--group", f.group, "multicast group address")->capture_default_str();
  app.add_option("--port", f.port, "multicast port")->capture_default_str();
  app.add_option("--interface", f.interface, "multicast interface address (127.0.0.0/8 or 198.18.0.0/15)")
      ->capture_default_str();
  app.add_flag("--json", f.json, "print one JSON object instead of a table");
}

// Parses the command line (every flag added to `app`, AddCommonFlags' among them) and checks the
// group and interface. nullopt: go on; else the exit code (0 after --help, 2 for a bad flag).
inline std::optional<int> ParseFlags(CLI::App& app, int argc, char** argv, const char* tool, const CommonFlags& f,
                                     in_addr& group, in_addr& interface) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (!ParseGroupAndInterface(tool, f.group, f.interface, group, interface)) return 2;
  return std::nullopt;
}

// Receiver processes of one tool (`tool` names it in messages), each reporting a `Result`.
template <typename Result>
class ReceiverProcesses {
  static_assert(std::is_trivially_copyable_v<Result>, "a result crosses a pipe as bytes");

 public:
  explicit ReceiverProcesses(const char* tool) : tool_(tool) {}

  // Forks a child that runs receive() and reports what it returns, then exits; the parent
  // returns at once. The child gets the parent's descriptors: close what it must not hold.
  template <typename F>
  void Fork(F&& receive) {
    int result[2];
    if (::pipe(result) != 0) Fail("pipe");
    const pid_t pid = ::fork();
    if (pid < 0) Fail("fork");
    if (pid == 0) {
      ::close(result[0]);
      const Result r = receive();
      _exit(::write(result[1], &r, sizeof r) == sizeof r ? 0 : 1);
    }
    ::close(result[1]);
    pids_.push_back(pid);
    result_pipes_.push_back(result[0]);
  }

  // Waits for every child; a child that reported nothing (it failed) gives a default Result.
  std::vector<Result> Collect() {
    std::vector<Result> results(pids_.size());
    for (size_t k = 0; k < pids_.size(); ++k) {
      if (::read(result_pipes_[k], &results[k], sizeof results[k]) != sizeof results[k]) {
        std::fprintf(stderr, "%s: receiver %zu reported nothing\n", tool_, k + 1);
        results[k] = Result{};
      }
      ::close(result_pipes_[k]);
      ::waitpid(pids_[k], nullptr, 0);
    }
    return results;
  }

 private:
  [[noreturn]] void Fail(const char* what) const {
    std::fprintf(stderr, "%s: %s: %s\n", tool_, what, std::strerror(errno));
    std::exit(1);
  }

  const char* tool_;
  std::vector<pid_t> pids_;
  std::vector<int> result_pipes_;
};

}  // namespace qsm::blaster
