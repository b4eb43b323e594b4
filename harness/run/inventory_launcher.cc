// The inventory launcher: one node per host of an Ansible inventory's qsm_nodes group (node i is
// the host whose qsm_node_id is i, or without one, the i-th host, as the playbooks number them),
// run by the playbooks, with the playbooks' ansible.cfg (ANSIBLE_CONFIG). The harness resolves the scenario against the inventory
// (`ansible-inventory --list`), writes every node's plan into the run folder, and runs
// `ansible-playbook playbooks/run.yml`, which copies the plans to the hosts, starts every node at
// one agreed time, waits, and fetches each node's result, progress records and log back into the
// run folder. Then the run is read like any other. The hosts must run the playbooks' site.yml
// first (binaries, qsm-gms for scenarios with gms); their clocks must agree (NTP) for the start.
//
// What it applies: the in-process faults (sleep, loss-burst, loss), which are in the plans. Signal
// and network faults need the harness next to the nodes and are refused. The nodes run for
// `duration + drain` and stop by themselves (the harness cannot watch their progress live).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "harness/process.h"
#include "harness/run/launcher.h"
#include "harness/workload/text.h"

namespace qsm::harness {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct InventoryHost {
  std::string name;
  Endpoint node;  // qsm_address (also the multicast interface) and qsm_node_port
};

// A host variable as text ("" if unset).
std::string HostVar(const json& hostvars, const std::string& host, const char* key) {
  auto h = hostvars.find(host);
  if (h == hostvars.end() || !h->contains(key)) return "";
  const json& v = (*h)[key];
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// The hosts of `group` in inventory order, with their addresses, and the GMS endpoint.
struct Inventory {
  std::vector<InventoryHost> nodes;
  std::optional<Endpoint> gms;
};

Result<Inventory> ReadInventory(const std::string& path) {
  auto listed = RunToEnd({"ansible-inventory", "-i", path, "--list"});
  if (!listed) return std::unexpected(listed.error());
  if (listed->exit_code == 127) {
    return MakeError(
        ErrorCode::kUnavailable,
        "ansible-inventory is not installed (Debian: ansible-core; scripts/setup.sh installs it)");
  }
  // Warnings may precede the JSON on the same stream.
  const size_t start = listed->output.find('{');
  const json j =
      start == std::string::npos ? json() : json::parse(listed->output.substr(start), nullptr, false);
  if (listed->exit_code != 0 || j.is_discarded() || !j.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     path + ": ansible-inventory could not read it: " + listed->output);
  }
  const json hostvars = j.contains("_meta") ? j["_meta"].value("hostvars", json::object()) : json::object();
  auto hosts_of = [&](const char* group) {
    std::vector<std::string> out;
    if (j.contains(group) && j[group].contains("hosts"))
      out = j[group]["hosts"].get<std::vector<std::string>>();
    return out;
  };
  auto address_of = [&](const std::string& host) -> Result<uint32_t> {
    std::string text = HostVar(hostvars, host, "qsm_address");
    if (text.empty()) text = HostVar(hostvars, host, "ansible_host");
    if (text.empty()) text = host;
    auto ep = Endpoint::Parse(text, 1);
    if (!ep) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          path + ": host '" + host + "': qsm_address / ansible_host '" + text + "' is not an IPv4 address");
    }
    return ep->address;
  };
  auto port_of = [&](const std::string& host, const char* key, uint16_t fallback) -> Result<uint16_t> {
    const std::string text = HostVar(hostvars, host, key);
    if (text.empty()) return fallback;
    unsigned port = 0;
    if (std::sscanf(text.c_str(), "%u", &port) != 1 || port == 0 || port > 65535) {
      return MakeError(ErrorCode::kInvalidArgument,
                       path + ": host '" + host + "': " + key + " '" + text + "' is not a port");
    }
    return static_cast<uint16_t>(port);
  };
  Inventory inventory;
  const std::vector<std::string> node_hosts = hosts_of("qsm_nodes");
  if (node_hosts.empty()) return MakeError(ErrorCode::kInvalidArgument, path + ": no hosts in group qsm_nodes");
  // By node id: a host's qsm_node_id, or its place in the group (the playbooks' default).
  std::vector<std::optional<InventoryHost>> by_id(node_hosts.size());
  for (size_t i = 0; i < node_hosts.size(); ++i) {
    const std::string& host = node_hosts[i];
    auto address = address_of(host);
    if (!address) return std::unexpected(address.error());
    auto port = port_of(host, "qsm_node_port", 7000);
    if (!port) return std::unexpected(port.error());
    unsigned id = static_cast<unsigned>(i + 1);
    const std::string given = HostVar(hostvars, host, "qsm_node_id");
    if (!given.empty() && (std::sscanf(given.c_str(), "%u", &id) != 1 || id == 0 || id > node_hosts.size())) {
      return MakeError(ErrorCode::kInvalidArgument, path + ": host '" + host + "': qsm_node_id '" + given +
                                                        "' is not a node id in 1.." +
                                                        std::to_string(node_hosts.size()));
    }
    if (by_id[id - 1]) {
      return MakeError(ErrorCode::kInvalidArgument, path + ": hosts '" + by_id[id - 1]->name + "' and '" + host +
                                                        "' both have node id " + std::to_string(id) +
                                                        " (qsm_node_id, or their place in qsm_nodes)");
    }
    by_id[id - 1] = InventoryHost{host, Endpoint{*address, *port}};
  }
  for (auto& h : by_id) {
    if (h) inventory.nodes.push_back(std::move(*h));  // no gaps: ids are distinct and at most the count
  }
  const auto gms_hosts = hosts_of("qsm_gms");
  if (!gms_hosts.empty()) {
    auto address = address_of(gms_hosts[0]);
    if (!address) return std::unexpected(address.error());
    auto port = port_of(gms_hosts[0], "qsm_gms_port", 7300);
    if (!port) return std::unexpected(port.error());
    inventory.gms = Endpoint{*address, *port};
  }
  return inventory;
}

// The playbooks' ansible.cfg, as ANSIBLE_CONFIG=PATH for ansible-playbook's environment; writes
// what the file changes (ansible-config dump) at the top of the log `log_fd`.
std::string AnsibleConfig(const std::string& playbooks_dir, int log_fd) {
  const std::string config = "ANSIBLE_CONFIG=" + (fs::absolute(playbooks_dir) / "ansible.cfg").string();
  if (auto dumped = RunToEnd({"env", config, "ansible-config", "dump", "--only-changed"}); dumped) {
    const std::string header = "# " + config + "; ansible-config dump --only-changed:\n" + dumped->output + "\n";
    (void)!write(log_fd, header.data(), header.size());
  }
  return config;
}

}  // namespace

Result<RunRecord> RunInventory(const Scenario& scenario, const LaunchOptions& o) {
  const auto wall_begin = std::chrono::steady_clock::now();
  if (o.inventory.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "launcher inventory: give --inventory FILE (an Ansible inventory)");
  }
  for (const FaultSpec& f : scenario.faults) {
    const bool in_process =
        (f.type == FaultType::kSleep || f.type == FaultType::kLossBurst || f.type == FaultType::kLoss) &&
        !f.via_network;
    if (!in_process) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          scenario.source + ":" + std::to_string(f.line) + ": fault '" + FaultTypeName(f.type) +
              "' is applied by the harness next to the nodes; the inventory launcher runs the in-process "
              "faults only (sleep, loss-burst, loss)");
    }
  }
  auto inventory = ReadInventory(o.inventory);
  if (!inventory) return std::unexpected(inventory.error());
  if (inventory->nodes.size() < scenario.nodes) {
    return MakeError(ErrorCode::kInvalidArgument,
                     scenario.source + ": 'nodes': " + std::to_string(scenario.nodes) + " nodes, but " +
                         o.inventory + " has " + std::to_string(inventory->nodes.size()) +
                         " hosts in qsm_nodes");
  }
  if (scenario.gms && !inventory->gms) {
    return MakeError(ErrorCode::kInvalidArgument,
                     scenario.source + ": 'gms': " + o.inventory +
                         " has no host in qsm_gms (site.yml runs qsm-gms there)");
  }
  const auto& hosts = inventory->nodes;
  Addressing addressing{.endpoint = [&](uint32_t id) { return hosts[id - 1].node; },
                        .interface = [&](uint32_t id) { return hosts[id - 1].node.address; },
                        .region_multicast = Endpoint::FromOctets(239, 255, 77, 1, 7499),
                        .gms = inventory->gms.value_or(Endpoint{})};
  auto resolved = Resolve(scenario, addressing);
  if (!resolved) return std::unexpected(resolved.error());
  RunRecord record;
  record.run = std::move(*resolved);
  record.started_at = UtcNow();
  const Duration run_length = scenario.duration + scenario.drain;
  const fs::path dir = fs::absolute(o.run_dir);
  fs::create_directories(dir / "nodes");
  json ids = json::object();
  std::string host_list;
  for (NodePlan& plan : record.run.plans) {
    plan.max_run = run_length;  // nobody tells the nodes to stop: they stop by themselves
    std::ofstream(dir / "nodes" / ("node-" + std::to_string(plan.node_id) + ".plan.json"))
        << PlanToJson(plan) << "\n";
    ids[hosts[plan.node_id - 1].name] = plan.node_id;
    Append(host_list, hosts[plan.node_id - 1].name, ",");
  }
  const json vars = {{"qsm_run_dir", dir.string()},
                     {"qsm_run_name", dir.parent_path().filename().string() + "-" + dir.filename().string()},
                     {"qsm_run_hosts", host_list},
                     {"qsm_run_ids", ids},
                     {"qsm_run_seconds", static_cast<int64_t>(ToSeconds(run_length)) + 1},
                     {"qsm_run_auth", scenario.engine.auth}};
  if (auto s = WriteFile((dir / "ansible-vars.json").string(), vars.dump(2) + "\n"); !s)
    return std::unexpected(s.error());

  const std::string playbook = (fs::path(o.playbooks_dir) / "run.yml").string();
  auto log = OpenLog((dir / "ansible.log").string());
  if (!log) return std::unexpected(log.error());
  const std::string config = AnsibleConfig(o.playbooks_dir, *log);
  auto pid = StartProcess(
      {"env", config, "ansible-playbook", "-i", o.inventory, playbook, "-e", "@" + (dir / "ansible-vars.json").string()},
      ChildIo{.out = *log, .err = *log, .own_process_group = true});
  close(*log);
  if (!pid) return std::unexpected(pid.error());
  if (o.progress) {
    std::fprintf(stderr, "[%s] ansible-playbook %s on %u hosts (log: %s)\n", scenario.name.c_str(),
                 playbook.c_str(), scenario.nodes, (dir / "ansible.log").string().c_str());
  }
  ProgressLine progress(scenario.name, o.progress);
  const double total_s = ToSeconds(run_length);
  int status = 0;
  for (;;) {
    if (waitpid(*pid, &status, WNOHANG) == *pid) break;
    if (o.interrupted != nullptr && o.interrupted->load() && !record.interrupted) {
      record.interrupted = true;
      kill(-*pid, SIGTERM);  // the playbook's group; the nodes stop by themselves at max_run
    }
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_begin).count();
    progress.Update(elapsed < ToSeconds(scenario.duration) ? "load" : "drain", elapsed, total_s, 0);
    usleep(200'000);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const std::string text = ReadFile((dir / "ansible.log").string()).value_or("");
    const size_t tail = text.size() > 1500 ? text.size() - 1500 : 0;
    record.incidents.push_back("ansible-playbook run.yml failed (see ansible.log): ..." + text.substr(tail));
  }
  for (const NodePlan& plan : record.run.plans) {
    const fs::path base = dir / "nodes" / ("node-" + std::to_string(plan.node_id));
    if (auto ticks = ReadFile(base.string() + ".ticks")) {
      std::istringstream lines(*ticks);
      for (std::string line; std::getline(lines, line);) {
        if (auto tick = TickFromJson(line)) record.ticks.push_back(*tick);
      }
    }
    if (!fs::exists(base.string() + ".json")) continue;  // the check reports a missing file
    auto result = ReadResultFile(base.string() + ".json");
    if (!result) {
      record.incidents.push_back(result.error().message);
      continue;
    }
    record.results[plan.node_id] = std::move(*result);
  }
  std::stable_sort(record.ticks.begin(), record.ticks.end(), [](const Tick& a, const Tick& b) {
    return a.t_s < b.t_s || (a.t_s == b.t_s && a.node_id < b.node_id);
  });
  record.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_begin).count();
  return record;
}

}  // namespace qsm::harness
