#include "harness/run/netns.h"

#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "harness/process.h"
#include "harness/workload/text.h"

namespace qsm::harness {

Status RunCommand(const std::vector<std::string>& argv, const std::string& stdin_text) {
  auto finished = RunToEnd(argv, stdin_text);
  if (!finished) return std::unexpected(finished.error());
  if (finished->exit_code == 0) return {};
  std::string command;
  for (const auto& a : argv) Append(command, a, " ");
  std::string output = finished->output;
  while (!output.empty() && output.back() == '\n') output.pop_back();
  return MakeError(ErrorCode::kIo,
                   "'" + command + "' failed: " +
                       (output.empty() ? "exit status " + std::to_string(finished->exit_code) : output));
}

Result<std::unique_ptr<NetnsCluster>> NetnsCluster::Create(uint32_t nodes, const std::string& tag) {
  if (geteuid() != 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the netns launcher needs root (it creates network namespaces)");
  }
  if (nodes > 250)
    return MakeError(ErrorCode::kInvalidArgument, "the netns launcher takes at most 250 nodes");
  RemoveOrphans();
  std::unique_ptr<NetnsCluster> c(new NetnsCluster(nodes, tag));
  const std::string hub = c->Hub();
  std::vector<std::vector<std::string>> steps = {
      {"ip", "netns", "add", hub},
      {"ip", "-n", hub, "link", "set", "lo", "up"},
      {"ip", "-n", hub, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0"},
      {"ip", "-n", hub, "link", "set", "br0", "up"},
  };
  for (uint32_t id = 1; id <= nodes; ++id) {
    const std::string ns = c->Name(id);
    std::string port = "p";  // the bridge's end of host id's veth
    port += std::to_string(id);
    const std::string address = Endpoint{Address(id), 0}.AddressString() + "/16";
    steps.push_back({"ip", "netns", "add", ns});
    steps.push_back({"ip", "-n", ns, "link", "set", "lo", "up"});
    steps.push_back(
        {"ip", "-n", hub, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns});
    steps.push_back({"ip", "-n", hub, "link", "set", port, "master", "br0", "up"});
    steps.push_back({"ip", "-n", ns, "addr", "add", address, "dev", "eth0"});
    steps.push_back({"ip", "-n", ns, "link", "set", "eth0", "up"});
    steps.push_back({"ip", "-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0"});
  }
  for (const auto& step : steps) {
    if (auto s = RunCommand(step); !s) return std::unexpected(s.error());  // ~NetnsCluster cleans up
  }
  return c;
}

NetnsCluster::~NetnsCluster() { Cleanup(tag_); }

void NetnsCluster::RemoveOrphans() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/run/netns", ec)) {
    const std::string name = entry.path().filename().string();
    const size_t dash = name.find('-');
    if (name.rfind("qsm", 0) != 0 || dash == std::string::npos || dash == 3) continue;
    const std::string pid = name.substr(3, dash - 3);
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    if (!std::filesystem::exists("/proc/" + pid)) Cleanup(pid);
  }
}

void NetnsCluster::Cleanup(const std::string& tag) {
  const std::string prefix = "qsm" + tag + "-";
  if (std::filesystem::exists("/sys/class/net/" + prefix + "up"))
    (void)RunCommand({"ip", "link", "del", prefix + "up"});
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/run/netns", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0) (void)RunCommand({"ip", "netns", "del", name});
  }
}

Status NetnsCluster::AddUplink() {
  const std::string local = "qsm" + tag_ + "-up";
  for (const auto& step : std::vector<std::vector<std::string>>{
           {"ip", "link", "add", local, "type", "veth", "peer", "name", "uplink", "netns", Hub()},
           {"ip", "-n", Hub(), "link", "set", "uplink", "master", "br0", "up"},
           {"ip", "addr", "add", "198.18.0.254/16", "dev", local},
           {"ip", "link", "set", local, "up"}}) {
    if (auto s = RunCommand(step); !s) return s;
  }
  return {};
}

std::vector<std::string> NetnsCluster::ExecPrefix(uint32_t id) const {
  return {"ip", "netns", "exec", Name(id)};
}

Status NetnsCluster::SetInputRules(uint32_t id, const std::string& rules) {
  // Declaring the table first makes the delete succeed whether or not it exists.
  std::string script = "table inet qsm_fault\ndelete table inet qsm_fault\n";
  if (!rules.empty()) {
    script +=
        "table inet qsm_fault {\n chain input {\n  type filter hook input priority 0; policy accept;\n" +
        rules + " }\n}\n";
  }
  return RunCommand({"ip", "netns", "exec", Name(id), "nft", "-f", "-"}, script);
}

}  // namespace qsm::harness
