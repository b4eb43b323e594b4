#include "harness/run/doctor.h"

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "harness/process.h"
#include "harness/workload/text.h"

namespace qsm::harness {

namespace {

namespace fs = std::filesystem;
using Level = Finding::Level;

// What a qsm-node asks of its sockets (AsioTransportConfig); as root it forces them past the limits.
constexpr long kReceiveBuffer = 32L << 20;
constexpr long kSendBuffer = 16L << 20;
// An inventory run starts every node at one wall-clock time, a few seconds ahead.
constexpr double kMaxClockOffset = 0.5;

std::string Find(const std::string& program, const std::string& path) {
  std::stringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty()) continue;
    const fs::path candidate = fs::path(dir) / program;
    if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

// The first line of `argv`'s output, or "" if it did not run.
std::string FirstLine(const std::vector<std::string>& argv) {
  auto finished = RunToEnd(argv);
  if (!finished || finished->exit_code != 0) return "";
  return finished->output.substr(0, finished->output.find('\n'));
}

long ReadLong(const std::string& path) {
  auto text = ReadFile(path);
  return text ? std::strtol(text->c_str(), nullptr, 10) : -1;
}

void Program(std::vector<Finding>& out, const DoctorOptions& o, const std::string& program,
             const std::string& version_flag, const std::string& what, Level if_missing,
             const std::string& package) {
  const std::string found = Find(program, o.path);
  if (found.empty()) {
    out.push_back({if_missing, program, "not found (" + what + ")",
                   "apt-get install " + package + " (scripts/setup.sh installs it)"});
    return;
  }
  std::string version = version_flag.empty() ? "" : FirstLine({found, version_flag});
  out.push_back({Level::kOk, program, (version.empty() ? found : version) + " (" + what + ")", ""});
}

void SocketBuffers(std::vector<Finding>& out, const DoctorOptions& o) {
  const bool root = geteuid() == 0;
  for (const auto& [name, wanted] : {std::pair{std::string("rmem_max"), kReceiveBuffer},
                                     std::pair{std::string("wmem_max"), kSendBuffer}}) {
    const long limit = ReadLong(o.proc + "/sys/net/core/" + name);
    const std::string check = "net.core." + name;
    if (limit < 0) {
      out.push_back({Level::kWarn, check, "unreadable", "look at /proc/sys/net/core/" + name});
    } else if (limit >= wanted) {
      out.push_back({Level::kOk, check, std::to_string(limit) + " bytes", ""});
    } else if (root) {
      out.push_back({Level::kOk, check,
                     std::to_string(limit) + " bytes; nodes run as root force " + std::to_string(wanted), ""});
    } else {
      out.push_back({Level::kWarn, check,
                     std::to_string(limit) + " bytes: a node's sockets get less than the " +
                         std::to_string(wanted) + " it asks for, and a busy receiver drops datagrams",
                     "sysctl -w net.core." + name + "=" + std::to_string(wanted) +
                         " (the playbooks' common role sets it on cluster hosts)"});
    }
  }
}

void Root(std::vector<Finding>& out, const DoctorOptions& o) {
  const bool root = geteuid() == 0;
  const bool ip = !Find("ip", o.path).empty();
  if (root && ip) {
    out.push_back({Level::kOk, "netns", "root, and ip(8) is here: the netns launcher and network faults work", ""});
  } else {
    out.push_back({Level::kWarn, "netns",
                   std::string(root ? "" : "not root") + (root || ip ? "" : ", ") + (ip ? "" : "no ip(8)") +
                       ": the netns launcher (network namespaces, partitions, loss via nftables) does not work; "
                       "local and sim do",
                   root ? "apt-get install iproute2" : "run as root for launcher netns"});
  }
}

void Binaries(std::vector<Finding>& out, const DoctorOptions& o) {
  for (const std::string& name : {std::string("qsm-node"), std::string("qsm-gms")}) {
    const fs::path binary = name == "qsm-node" ? fs::path(o.node_binary) : fs::path(o.node_binary).parent_path() / name;
    const std::string version = binary.has_parent_path() ? FirstLine({binary.string(), "--version"}) : "";
    if (version.empty()) {
      out.push_back({Level::kFix, name, binary.string() + " does not run", "make release (or make build)"});
    } else {
      const bool optimised = version.find("Release build") != std::string::npos &&
                             version.find("sanitizers: none") != std::string::npos;
      out.push_back({optimised ? Level::kOk : Level::kWarn, name, version,
                     optimised ? "" : "its figures are not a release build's: make release, and --node-binary "
                                      "build/release/daemons/qsm-node"});
    }
  }
}

// Each host's clock against this one's, through Ansible: a host's reading happens between the
// moments this machine took before and after, so the offset lies in an interval.
void Clocks(std::vector<Finding>& out, const DoctorOptions& o) {
  if (o.inventory.empty()) return;
  const std::string ansible = Find("ansible", o.path);
  if (ansible.empty()) {
    out.push_back({Level::kFix, "clocks", "no ansible to reach the inventory's hosts", "apt-get install ansible-core"});
    return;
  }
  const auto now = [] {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  };
  const double before = now();
  auto finished = RunToEnd({ansible, "qsm_nodes:qsm_gms", "-i", o.inventory, "-o", "-m", "ansible.builtin.shell", "-a",
                            "date +%s.%N; timedatectl show -p NTPSynchronized --value 2>/dev/null || echo unknown"});
  const double after = now();
  if (!finished) {
    out.push_back({Level::kFix, "clocks", finished.error().message, "check the inventory and the SSH access"});
    return;
  }
  std::stringstream lines(finished->output);
  size_t hosts = 0;
  for (std::string line; std::getline(lines, line);) {
    const auto bar = line.find(" | ");
    if (bar == std::string::npos) continue;
    const std::string host = line.substr(0, bar);
    const auto stdout_at = line.find("(stdout) ");
    if (stdout_at == std::string::npos) {
      out.push_back({Level::kFix, "clock " + host, "unreachable: " + line.substr(bar + 3), "check its SSH access"});
      continue;
    }
    ++hosts;
    const std::string reply = line.substr(stdout_at + 9);
    const double clock = std::strtod(reply.c_str(), nullptr);
    // Ansible's one-line output writes the reply's line break as "\n".
    const auto separator = reply.find("\\n");
    std::string synced = separator == std::string::npos ? "unknown" : reply.substr(separator + 2);
    while (!synced.empty() && std::isspace(static_cast<unsigned char>(synced.back()))) synced.pop_back();
    const double low = clock - after, high = clock - before;  // the host's offset lies in [low, high]
    char detail[160];
    std::snprintf(detail, sizeof detail, "offset between %+.3f s and %+.3f s; NTP synchronised: %s", low, high,
                  synced.c_str());
    if (low > kMaxClockOffset || high < -kMaxClockOffset) {
      out.push_back({Level::kFix, "clock " + host, detail,
                     "synchronise it (systemd-timesyncd or chrony): an inventory run starts every node at one "
                     "wall-clock time"});
    } else if (synced == "no") {
      out.push_back({Level::kWarn, "clock " + host, detail, "enable NTP (timedatectl set-ntp true)"});
    } else {
      out.push_back({Level::kOk, "clock " + host, detail, ""});
    }
  }
  if (hosts == 0) {
    out.push_back({Level::kFix, "clocks", "no host of qsm_nodes or qsm_gms answered: " + finished->output.substr(0, 300),
                   "check the inventory and the SSH access"});
  }
}

}  // namespace

std::vector<Finding> Doctor(const DoctorOptions& o) {
  std::vector<Finding> out;
  Binaries(out, o);
  SocketBuffers(out, o);
  Root(out, o);
  Program(out, o, "nft", "--version", "network faults in netns runs", Level::kWarn, "nftables");
  Program(out, o, "gnuplot", "--version", "the figures", Level::kFix, "gnuplot-nox");
  Program(out, o, "prometheus", "--version", "--prometheus runs", Level::kWarn, "prometheus");
  Program(out, o, "promtool", "--version", "checking Prometheus configs and rules", Level::kWarn, "prometheus");
  Program(out, o, "chromium", "", "the HTML report's browser test", Level::kWarn, "chromium");
  Program(out, o, "ansible-playbook", "--version", "launcher inventory and the playbooks", Level::kWarn,
          "ansible-core");
  Clocks(out, o);
  return out;
}

std::string FormatFindings(const std::vector<Finding>& findings) {
  std::string out;
  for (const Finding& f : findings) {
    const char* level = f.level == Level::kOk ? "ok  " : f.level == Level::kWarn ? "warn" : "FIX ";
    char line[64];
    std::snprintf(line, sizeof line, "%s  %-18s ", level, f.check.c_str());
    out += line + f.detail + "\n";
    if (!f.fix.empty()) out += std::string(26, ' ') + "-> " + f.fix + "\n";
  }
  return out;
}

}  // namespace qsm::harness
