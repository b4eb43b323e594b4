#include "harness/workload/node_plan.h"

#include "harness/workload/json_fields.h"

namespace qsm::harness {
namespace {

using nlohmann::json;

json WindowsToJson(const std::vector<faults::Window>& windows) {
  json out = json::array();
  for (const auto& w : windows) out.push_back({w.start.count(), w.end.count()});
  return out;
}

Status ReadWindows(const JsonFields& f, const char* key, std::vector<faults::Window>& out) {
  std::vector<std::pair<int64_t, int64_t>> raw;
  if (auto s = f.Read(key, raw, false); !s) return s;
  for (const auto& [start, end] : raw) {
    if (start < 0 || end < start) return std::unexpected(f.Fail(std::string("'") + key + "': bad window"));
    out.push_back({Duration(start), Duration(end)});
  }
  return {};
}

Result<Endpoint> ReadEndpoint(const JsonFields& f, const char* key) {
  std::string text;
  if (auto s = f.Read(key, text); !s) return std::unexpected(s.error());
  auto ep = Endpoint::Parse(text);
  if (!ep) return std::unexpected(f.Fail(std::string("'") + key + "': " + ep.error().message));
  return ep;
}

// "group_members": [{"group": G, "members": [ID, ...]}, ...] and "await_members_for_ns" (both
// optional).
Status ReadGroupMembers(const JsonFields& f, NodePlan& p) {
  int64_t await = p.await_members_for.count();
  if (auto s = f.Read("await_members_for_ns", await, false); !s) return s;
  if (await < 0) return std::unexpected(f.Fail("'await_members_for_ns' must be >= 0"));
  p.await_members_for = Duration(await);
  const json* groups = f.Find("group_members");
  if (groups == nullptr) return {};
  if (!groups->is_array()) return std::unexpected(f.Fail("'group_members' must be a list"));
  for (const json& g : *groups) {
    if (!g.is_object()) return std::unexpected(f.Fail("'group_members': every entry must be an object"));
    const JsonFields gf(g, "plan: 'group_members'");
    uint32_t group = 0;
    std::vector<uint32_t> ids;
    for (Status s : {gf.Read("group", group), gf.Read("members", ids)}) {
      if (!s) return s;
    }
    if (!p.group_members.emplace(group, std::move(ids)).second)
      return std::unexpected(f.Fail("'group_members': group " + std::to_string(group) + " twice"));
  }
  return {};
}

}  // namespace

std::string PlanToJson(const NodePlan& p) {
  json members = json::array();
  for (const auto& m : p.members) members.push_back({{"id", m.id}, {"endpoint", m.endpoint.ToString()}});
  const json j = {
      {"format", "qsm-node-plan/1"},
      {"engine", p.engine},
      {"node_id", p.node_id},
      {"members", members},
      {"region_multicast", p.region_multicast.ToString()},
      {"interface", Endpoint{p.interface_address, 0}.AddressString()},
      {"joined", p.joined},
      {"send_groups", p.send_groups},
      {"rate", p.rate},
      {"message_size", p.message_size},
      {"send_for_ns", p.send_for.count()},
      {"send_count", p.send_count},
      {"token_rate", p.token_rate},
      {"adaptive_rounds", p.adaptive_rounds},
      {"replication", p.replication},
      {"adaptive_window", p.adaptive_window},
      {"window_messages", p.window_messages},
      {"window_bytes", p.window_bytes},
      {"datagram_bytes", p.datagram_bytes},
      {"sleeps_ns", WindowsToJson(p.sleeps)},
      {"loss_bursts_ns", WindowsToJson(p.loss_bursts)},
      {"loss_rate", p.loss_rate},
      {"seed", p.seed},
      {"tick_ns", p.tick.count()},
      {"max_run_ns", p.max_run.count()},
  };
  json out = j;
  if (p.gms) {
    out["gms"] = p.gms->ToString();
    out["heartbeat_ns"] = p.heartbeat.count();
    json groups = json::array();
    for (const auto& [group, ids] : p.group_members) groups.push_back({{"group", group}, {"members", ids}});
    out["group_members"] = groups;
    out["await_members_for_ns"] = p.await_members_for.count();
  }
  return out.dump(2);
}

Result<NodePlan> PlanFromJson(const std::string& text) {
  auto parsed = ParseJsonObject(text, "plan");
  if (!parsed) return std::unexpected(parsed.error());
  const JsonFields f(*parsed, "plan");
  NodePlan p;
  int64_t send_for = 0, tick = p.tick.count(), max_run = p.max_run.count(), heartbeat = p.heartbeat.count();
  std::string interface, format;
  for (Status s :
       {f.Read("format", format), f.Read("engine", p.engine, false), f.Read("node_id", p.node_id), f.Read("joined", p.joined), f.Read("send_groups", p.send_groups),
        f.Read("rate", p.rate), f.Read("message_size", p.message_size), f.Read("send_for_ns", send_for),
        f.Read("send_count", p.send_count, false), f.Read("token_rate", p.token_rate, false),
        f.Read("adaptive_rounds", p.adaptive_rounds, false),
        f.Read("replication", p.replication, false), f.Read("window_messages", p.window_messages, false),
        f.Read("adaptive_window", p.adaptive_window, false),
        f.Read("window_bytes", p.window_bytes, false), f.Read("datagram_bytes", p.datagram_bytes, false),
        f.Read("loss_rate", p.loss_rate, false), f.Read("seed", p.seed, false),
        f.Read("tick_ns", tick, false), f.Read("max_run_ns", max_run, false), f.Read("interface", interface),
        f.Read("heartbeat_ns", heartbeat, false), ReadWindows(f, "sleeps_ns", p.sleeps),
        ReadWindows(f, "loss_bursts_ns", p.loss_bursts)}) {
    if (!s) return std::unexpected(s.error());
  }
  if (format != "qsm-node-plan/1") {
    return std::unexpected(f.Fail("unknown format '" + format + "' (this qsm-node reads qsm-node-plan/1)"));
  }
  if (p.engine != "qsm" && p.engine != "udp" && p.engine != "norm") {
    return std::unexpected(f.Fail("'engine' must be qsm, udp or norm, not '" + p.engine + "'"));
  }
  p.send_for = Duration(send_for);
  p.tick = Duration(tick);
  p.max_run = Duration(max_run);
  auto iface = Endpoint::Parse(interface, 1);
  if (!iface) return std::unexpected(f.Fail("'interface': " + iface.error().message));
  p.interface_address = iface->address;
  p.heartbeat = Duration(heartbeat);
  if (f.Find("gms") != nullptr) {
    auto gms = ReadEndpoint(f, "gms");
    if (!gms) return std::unexpected(gms.error());
    if (gms->port == 0) return std::unexpected(f.Fail("'gms' needs a port"));
    p.gms = *gms;
    if (p.heartbeat <= Duration::zero()) return std::unexpected(f.Fail("'heartbeat_ns' must be > 0"));
    if (auto s = ReadGroupMembers(f, p); !s) return std::unexpected(s.error());
  } else {
    auto multicast = ReadEndpoint(f, "region_multicast");
    if (!multicast) return std::unexpected(multicast.error());
    if (!multicast->is_multicast())
      return std::unexpected(f.Fail("'region_multicast' is not a multicast address"));
    p.region_multicast = *multicast;
  }
  const json* members = f.Find("members");
  if (members == nullptr || !members->is_array() || members->empty()) {
    return std::unexpected(f.Fail("'members' must be a non-empty list"));
  }
  bool self = false;
  for (const json& m : *members) {
    if (!m.is_object()) return std::unexpected(f.Fail("'members': every entry must be an object"));
    const JsonFields mf(m, "plan: 'members'");
    PlanMember member;
    if (auto s = mf.Read("id", member.id); !s) return std::unexpected(s.error());
    auto ep = ReadEndpoint(mf, "endpoint");
    if (!ep) return std::unexpected(ep.error());
    member.endpoint = *ep;
    if (member.id == 0) return std::unexpected(f.Fail("'members': id 0 is not a node id"));
    self = self || member.id == p.node_id;
    p.members.push_back(member);
  }
  if (p.node_id == 0 || !self) return std::unexpected(f.Fail("'node_id' must be one of the members' ids"));
  if (p.rate < 0) return std::unexpected(f.Fail("'rate' must be >= 0"));
  if (p.message_size < 8 || p.message_size > 8192) {
    return std::unexpected(f.Fail("'message_size' must be in [8, 8192]"));
  }
  if (p.loss_rate < 0 || p.loss_rate > 1) return std::unexpected(f.Fail("'loss_rate' must be in [0, 1]"));
  if (p.tick <= Duration::zero()) return std::unexpected(f.Fail("'tick_ns' must be > 0"));
  return p;
}

}  // namespace qsm::harness
