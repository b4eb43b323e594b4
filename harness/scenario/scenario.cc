#include "harness/scenario/scenario.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <span>
#include <sstream>

#include "engine/wire/packets.h"
#include "harness/workload/text.h"

namespace qsm::harness {
namespace {

namespace fs = std::filesystem;

const char* const kTopKeys[] = {"name",    "description",  "launcher", "nodes",    "groups", "membership",
                                "senders", "message_size", "rate",     "duration", "warmup", "drain",
                                "seed",    "engine",       "gms",      "faults",   "sweep",  "repeat"};
const char* const kFaultKeys[] = {"type",   "nodes", "at",    "every", "for",
                                  "random", "from",  "until", "rate",  "via"};

// Reads typed values out of a YAML tree; every error names where the value came from.
class Reader {
 public:
  Reader(std::string source, std::set<std::string> overridden)
      : source_(std::move(source)), overridden_(std::move(overridden)) {}

  // "FILE:LINE: 'key': message", or "--set key: message" for a value from the command line.
  Error Fail(const YAML::Node& node, const std::string& key, const std::string& message) const {
    if (overridden_.count(key) > 0) {
      return Error{ErrorCode::kInvalidArgument, "--set " + key + ": " + message};
    }
    const int line = node.IsDefined() && node.Mark().line >= 0 ? node.Mark().line + 1 : 0;
    return Error{ErrorCode::kInvalidArgument,
                 source_ + ":" + std::to_string(line) + ": '" + key + "': " + message};
  }

  Status CheckKeys(const YAML::Node& map, const std::string& prefix,
                   std::span<const char* const> known) const {
    for (const auto& kv : map) {
      const std::string key = kv.first.as<std::string>("");
      if (std::find_if(known.begin(), known.end(), [&](const char* k) { return key == k; }) == known.end()) {
        std::string list;
        for (const char* k : known) Append(list, k, ", ");
        return std::unexpected(Fail(kv.first, prefix + key, "unknown key (known: " + list + ")"));
      }
    }
    return {};
  }

  template <typename T>
  Status Number(const YAML::Node& map, const char* key, const std::string& path, T& out, T min, T max) const {
    const YAML::Node node = map[key];
    if (!node) return {};
    T value{};
    if (!node.IsScalar() || !YAML::convert<T>::decode(node, value) || value < min || value > max) {
      std::ostringstream range;
      range << "must be a number in [" << min << ", " << max << "]";
      return std::unexpected(Fail(node, path, range.str() + ", not '" + Text(node) + "'"));
    }
    out = value;
    return {};
  }

  Status Bool(const YAML::Node& map, const char* key, const std::string& path, bool& out) const {
    const YAML::Node node = map[key];
    if (!node) return {};
    if (!node.IsScalar() || !YAML::convert<bool>::decode(node, out)) {
      return std::unexpected(Fail(node, path, "must be true or false, not '" + Text(node) + "'"));
    }
    return {};
  }

  Status Time(const YAML::Node& map, const char* key, const std::string& path, Duration& out) const {
    const YAML::Node node = map[key];
    if (!node) return {};
    auto d =
        node.IsScalar() ? faults::ParseDuration(node.Scalar()) : MakeError(ErrorCode::kInvalidArgument, "");
    if (!d)
      return std::unexpected(
          Fail(node, path, "must be a duration such as 500ms, 5s or 2m, not '" + Text(node) + "'"));
    out = *d;
    return {};
  }

  Status String(const YAML::Node& map, const char* key, const std::string& path, std::string& out,
                std::initializer_list<const char*> allowed = {}) const {
    const YAML::Node node = map[key];
    if (!node) return {};
    if (!node.IsScalar()) return std::unexpected(Fail(node, path, "must be a string"));
    const std::string value = node.Scalar();
    if (allowed.size() > 0 &&
        std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return value == a; })) {
      std::string list;
      for (const char* a : allowed) Append(list, a, " | ");
      return std::unexpected(Fail(node, path, "must be one of " + list + ", not '" + value + "'"));
    }
    out = value;
    return {};
  }

  static std::string Text(const YAML::Node& node) {
    if (node.IsScalar()) return node.Scalar();
    YAML::Emitter e;
    e << YAML::Flow << node;
    return e.c_str();
  }

 private:
  std::string source_;
  std::set<std::string> overridden_;
};

// Sets a dotted key ("engine.token_rate") in `root` to `value` parsed as YAML.
Status ApplyOverride(YAML::Node root, const std::string& key, const std::string& value) {
  YAML::Node parsed;
  try {
    parsed = YAML::Load(value);
  } catch (const YAML::Exception& e) {
    return MakeError(ErrorCode::kInvalidArgument, "--set " + key + ": not a YAML value: " + e.msg);
  }
  std::vector<std::string> parts;
  std::stringstream ss(key);
  for (std::string part; std::getline(ss, part, '.');) parts.push_back(part);
  if (parts.empty() || std::any_of(parts.begin(), parts.end(), [](const auto& p) { return p.empty(); })) {
    return MakeError(ErrorCode::kInvalidArgument, "--set '" + key + "': not a key");
  }
  // yaml-cpp nodes are handles: walking by value still edits the tree.
  std::vector<YAML::Node> chain{root};
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    YAML::Node next = chain.back()[parts[i]];
    if (next && !next.IsMap()) {
      return MakeError(ErrorCode::kInvalidArgument, "--set " + key + ": '" + parts[i] + "' is not a map");
    }
    chain.push_back(next);
  }
  chain.back()[parts.back()] = parsed;
  return {};
}

Result<std::vector<uint32_t>> NodeList(const Reader& r, const YAML::Node& node, const std::string& path,
                                       uint32_t nodes) {
  std::vector<uint32_t> out;
  if (node.IsScalar() && node.Scalar() == "all") {
    for (uint32_t i = 1; i <= nodes; ++i) out.push_back(i);
    return out;
  }
  if (!node.IsSequence() || node.size() == 0) {
    return std::unexpected(r.Fail(node, path, "must be 'all' or a list of node ids such as [2, 3]"));
  }
  for (const auto& item : node) {
    uint32_t id = 0;
    if (!item.IsScalar() || !YAML::convert<uint32_t>::decode(item, id) || id < 1 || id > nodes) {
      return std::unexpected(r.Fail(
          item, path, "node '" + Reader::Text(item) + "' is not an id in 1.." + std::to_string(nodes)));
    }
    out.push_back(id);
  }
  return out;
}

Result<FaultSpec> ParseFault(const Reader& r, const YAML::Node& f, size_t index, uint32_t nodes) {
  const std::string at = "faults[" + std::to_string(index) + "]";
  if (!f.IsMap())
    return std::unexpected(
        r.Fail(f, at, "must be a map such as {type: sleep, nodes: [3], every: 5s, for: 500ms}"));
  if (auto s = r.CheckKeys(f, at + ".", kFaultKeys); !s) return std::unexpected(s.error());
  FaultSpec spec;
  spec.line = f.Mark().line + 1;
  std::string type;
  if (!f["type"]) return std::unexpected(r.Fail(f, at + ".type", "is missing"));
  if (auto s = r.String(f, "type", at + ".type", type,
                        {"sleep", "loss-burst", "loss", "pause", "crash", "partition"});
      !s) {
    return std::unexpected(s.error());
  }
  spec.type = type == "sleep"        ? FaultType::kSleep
              : type == "loss-burst" ? FaultType::kLossBurst
              : type == "loss"       ? FaultType::kLoss
              : type == "pause"      ? FaultType::kPause
              : type == "crash"      ? FaultType::kCrash
                                     : FaultType::kPartition;
  if (!f["nodes"]) return std::unexpected(r.Fail(f, at + ".nodes", "is missing ('all' or a list of ids)"));
  auto ids = NodeList(r, f["nodes"], at + ".nodes", nodes);
  if (!ids) return std::unexpected(ids.error());
  spec.nodes = *ids;
  faults::Schedule& s = spec.schedule;
  bool random = false;
  std::string via = "process";
  for (Status st :
       {r.Time(f, "at", at + ".at", s.at), r.Time(f, "every", at + ".every", s.every),
        r.Time(f, "for", at + ".for", s.length), r.Time(f, "from", at + ".from", s.from),
        r.Time(f, "until", at + ".until", s.until), r.Number(f, "rate", at + ".rate", spec.rate, 0.0, 1.0),
        r.String(f, "via", at + ".via", via, {"process", "network"})}) {
    if (!st) return std::unexpected(st.error());
  }
  if (f["random"]) {
    if (!f["random"].IsScalar() || !YAML::convert<bool>::decode(f["random"], random)) {
      return std::unexpected(r.Fail(f["random"], at + ".random", "must be true or false"));
    }
  }
  spec.via_network = via == "network";
  const bool has_at = f["at"].IsDefined(), has_every = f["every"].IsDefined(), has_for = f["for"].IsDefined();
  if (has_at && has_every)
    return std::unexpected(r.Fail(f, at, "give either 'at' (once) or 'every' (repeated), not both"));
  s.kind = has_at      ? faults::Schedule::Kind::kAt
           : has_every ? (random ? faults::Schedule::Kind::kPoisson : faults::Schedule::Kind::kPeriodic)
                       : faults::Schedule::Kind::kAlways;
  if (has_every && s.every <= Duration::zero())
    return std::unexpected(r.Fail(f["every"], at + ".every", "must be > 0"));
  if (random && !has_every)
    return std::unexpected(r.Fail(f["random"], at + ".random", "needs 'every' (the mean gap)"));
  switch (spec.type) {
    case FaultType::kCrash:
      if (!has_at) return std::unexpected(r.Fail(f, at + ".at", "a crash needs 'at'"));
      if (has_for) {
        return std::unexpected(
            r.Fail(f["for"], at + ".for",
                   "a crashed node does not come back: a restarted sender would number its "
                   "messages from 1 again, which receivers take for duplicates"));
      }
      break;
    case FaultType::kLoss:
      if (spec.rate <= 0) return std::unexpected(r.Fail(f, at + ".rate", "loss needs 'rate' in (0, 1]"));
      if ((has_at || has_every) && !spec.via_network) {
        return std::unexpected(r.Fail(
            f, at, "in-process loss lasts the whole run; for windows use loss-burst, or via: network"));
      }
      if ((has_at || has_every) && !has_for) return std::unexpected(r.Fail(f, at + ".for", "is missing"));
      break;
    default:
      if (f["rate"]) return std::unexpected(r.Fail(f["rate"], at + ".rate", "only loss has a rate"));
      if (!has_at && !has_every)
        return std::unexpected(r.Fail(f, at, "needs 'at' (once) or 'every' (repeated)"));
      if (!has_for || s.length <= Duration::zero())
        return std::unexpected(r.Fail(f, at + ".for", "needs a length > 0"));
      break;
  }
  if (spec.via_network && spec.type != FaultType::kLoss && spec.type != FaultType::kLossBurst) {
    return std::unexpected(r.Fail(f["via"], at + ".via", "only loss and loss-burst choose where they act"));
  }
  if (s.kind == faults::Schedule::Kind::kPeriodic && s.length >= s.every) {
    return std::unexpected(r.Fail(f["for"], at + ".for", "must be shorter than 'every'"));
  }
  if (spec.type == FaultType::kPartition && spec.nodes.size() >= nodes) {
    return std::unexpected(
        r.Fail(f["nodes"], at + ".nodes", "a partition cuts these nodes from the rest: leave some out"));
  }
  return spec;
}

// The engine map, into `engine`.
Status ParseEngine(const YAML::Node& root, const Reader& r, EngineParams& engine) {
  const YAML::Node e = root["engine"];
  if (!e) return {};
  if (!e.IsMap()) return std::unexpected(r.Fail(e, "engine", "must be a map such as {token_rate: 5}"));
  const char* const keys[] = {"kind",      "token_rate",      "rounds",         "replication", "window",
                              "window_mb", "window_messages", "datagram_bytes", "auth"};
  for (Status s : {r.CheckKeys(e, "engine.", keys),
                   r.String(e, "kind", "engine.kind", engine.kind, {"qsm", "norm", "udp"}),
                   r.Number(e, "token_rate", "engine.token_rate", engine.token_rate, 0.1, 1000.0),
                   r.String(e, "rounds", "engine.rounds", engine.rounds, {"adaptive", "fixed"}),
                   r.Number<size_t>(e, "replication", "engine.replication", engine.replication, 1, 1000),
                   r.String(e, "window", "engine.window", engine.window, {"fixed", "adaptive"}),
                   r.Number<size_t>(e, "window_messages", "engine.window_messages", engine.window_messages, 0,
                                    10'000'000),
                   r.Number<size_t>(e, "window_mb", "engine.window_mb", engine.window_mb, 1, 65'536),
                   r.Number<size_t>(e, "datagram_bytes", "engine.datagram_bytes", engine.datagram_bytes, 0,
                                    wire::kMaxDataBatchBytes),
                   r.Bool(e, "auth", "engine.auth", engine.auth)}) {
    if (!s) return s;
  }
  return {};
}

Result<Scenario> Parse(const YAML::Node& root, const Reader& r, Scenario sc) {
  if (!root.IsMap()) return std::unexpected(r.Fail(root, "(top)", "a scenario is a YAML map of keys"));
  if (auto s = r.CheckKeys(root, "", kTopKeys); !s) return std::unexpected(s.error());
  std::string rate = "max";
  for (Status s :
       {r.String(root, "name", "name", sc.name), r.String(root, "description", "description", sc.description),
        r.String(root, "launcher", "launcher", sc.launcher, {"local", "netns", "sim", "inventory"}),
        r.Number<uint32_t>(root, "nodes", "nodes", sc.nodes, 1, 1000),
        r.Number<uint32_t>(root, "groups", "groups", sc.groups, 1, 100000),
        r.Number<uint32_t>(root, "senders", "senders", sc.senders, 0, 1000),
        r.Number<size_t>(root, "message_size", "message_size", sc.message_size, 8, 8192),
        r.Time(root, "duration", "duration", sc.duration), r.Time(root, "warmup", "warmup", sc.warmup),
        r.Time(root, "drain", "drain", sc.drain),
        r.Number<uint64_t>(root, "seed", "seed", sc.seed, 0, UINT64_MAX),
        r.Number<uint32_t>(root, "repeat", "repeat", sc.repeat, 1, 100)}) {
    if (!s) return std::unexpected(s.error());
  }
  if (sc.name.empty()) return std::unexpected(r.Fail(root, "name", "is missing"));
  if (const YAML::Node node = root["rate"]) {
    if (node.IsScalar() && node.Scalar() == "max") {
      sc.rate = 0;
    } else if (!node.IsScalar() || !YAML::convert<double>::decode(node, sc.rate) || !(sc.rate > 0) ||
               sc.rate > 1e7) {
      return std::unexpected(
          r.Fail(node, "rate",
                 "must be 'max' or messages/s per sender in (0, 1e7], not '" + Reader::Text(node) + "'"));
    }
  }
  if (sc.senders > sc.nodes)
    return std::unexpected(r.Fail(root["senders"], "senders", "more senders than nodes"));
  if (sc.duration <= Duration::zero())
    return std::unexpected(r.Fail(root["duration"], "duration", "must be > 0"));
  if (sc.warmup >= sc.duration)
    return std::unexpected(r.Fail(root["warmup"], "warmup", "must be shorter than duration"));
  if (const YAML::Node m = root["membership"]) {
    if (!m.IsMap()) return std::unexpected(r.Fail(m, "membership", "must be a map such as {pattern: all}"));
    const char* const keys[] = {"pattern", "alpha", "fraction"};
    for (Status s : {r.CheckKeys(m, "membership.", keys),
                     r.String(m, "pattern", "membership.pattern", sc.membership.pattern, {"all", "zipf"}),
                     r.Number(m, "alpha", "membership.alpha", sc.membership.alpha, 0.0, 10.0),
                     r.Number(m, "fraction", "membership.fraction", sc.membership.fraction, 0.0, 1.0)}) {
      if (!s) return std::unexpected(s.error());
    }
  }
  if (auto s = ParseEngine(root, r, sc.engine); !s) return std::unexpected(s.error());
  if (const YAML::Node g = root["gms"]) {
    if (!(g.IsMap() || (g.IsScalar() && g.Scalar() == "true"))) {
      return std::unexpected(r.Fail(g, "gms", "must be true or a map such as {failure_timeout: 2s}"));
    }
    GmsParams params;
    if (g.IsMap()) {
      const char* const keys[] = {"failure_timeout", "heartbeat"};
      for (Status s : {r.CheckKeys(g, "gms.", keys),
                       r.Time(g, "failure_timeout", "gms.failure_timeout", params.failure_timeout),
                       r.Time(g, "heartbeat", "gms.heartbeat", params.heartbeat)}) {
        if (!s) return std::unexpected(s.error());
      }
      if (params.heartbeat <= Duration::zero() || params.failure_timeout < 2 * params.heartbeat) {
        return std::unexpected(
            r.Fail(g, "gms.failure_timeout", "must be at least two heartbeats (and heartbeat > 0)"));
      }
    }
    sc.gms = params;
  }
  if (sc.engine.kind != "qsm") {
    const YAML::Node kind = root["engine"]["kind"];
    if (sc.gms) {
      return std::unexpected(r.Fail(kind, "engine.kind",
                                    "'" + sc.engine.kind + "' has no group membership service: remove gms"));
    }
    if (sc.engine.kind == "norm" && sc.launcher == "sim") {
      return std::unexpected(r.Fail(kind, "engine.kind",
                                    "'norm' runs on real sockets (libnorm): use launcher local, netns or inventory"));
    }
    if (sc.engine.kind == "norm") {
      if (root["engine"]["auth"] && sc.engine.auth) {
        return std::unexpected(r.Fail(root["engine"]["auth"], "engine.auth",
                                      "the norm engine does not take the cluster key: remove it or set false"));
      }
      sc.engine.auth = false;
    }
  }
  if (sc.membership.pattern != "all" && !sc.gms) {
    return std::unexpected(
        r.Fail(root["membership"], "membership.pattern",
               "'" + sc.membership.pattern +
                   "' maps groups onto several regions, whose views come from the GMS: add gms: true"));
  }
  if (const YAML::Node f = root["faults"]) {
    if (!f.IsSequence()) return std::unexpected(r.Fail(f, "faults", "must be a list"));
    for (size_t i = 0; i < f.size(); ++i) {
      auto spec = ParseFault(r, f[i], i, sc.nodes);
      if (!spec) return std::unexpected(spec.error());
      sc.faults.push_back(*spec);
    }
  }
  if (const YAML::Node sw = root["sweep"]) {
    if (!sw.IsMap()) return std::unexpected(r.Fail(sw, "sweep", "must be a map such as {nodes: [2, 4, 8]}"));
    for (const auto& kv : sw) {
      const std::string key = kv.first.as<std::string>("");
      if (key == "sweep" || key == "name")
        return std::unexpected(r.Fail(kv.first, "sweep." + key, "cannot be swept"));
      if (!kv.second.IsSequence() || kv.second.size() == 0) {
        return std::unexpected(r.Fail(kv.second, "sweep." + key, "must be a non-empty list of values"));
      }
      for (const auto& v : kv.second) sc.sweep[key].push_back(Reader::Text(v));
    }
  }
  return sc;
}

}  // namespace

const char* FaultTypeName(FaultType type) {
  switch (type) {
    case FaultType::kSleep:
      return "sleep";
    case FaultType::kLossBurst:
      return "loss-burst";
    case FaultType::kLoss:
      return "loss";
    case FaultType::kPause:
      return "pause";
    case FaultType::kCrash:
      return "crash";
    case FaultType::kPartition:
      return "partition";
  }
  return "?";
}

Result<Overrides> ParseOverrides(const std::vector<std::string>& assignments) {
  Overrides out;
  for (const auto& a : assignments) {
    const auto eq = a.find('=');
    if (eq == std::string::npos || eq == 0) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "--set '" + a + "' must look like key=value (e.g. nodes=6)");
    }
    out.emplace_back(a.substr(0, eq), a.substr(eq + 1));
  }
  return out;
}

Result<Scenario> ParseScenario(const std::string& text, const std::string& source,
                               const Overrides& overrides) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    return MakeError(ErrorCode::kInvalidArgument,
                     source + ":" + std::to_string(e.mark.line + 1) + ": not valid YAML: " + e.msg);
  }
  std::set<std::string> overridden;
  for (const auto& [key, value] : overrides) {
    if (!root.IsMap()) break;  // Parse reports it
    if (auto s = ApplyOverride(root, key, value); !s) return std::unexpected(s.error());
    overridden.insert(key);
  }
  Scenario sc;
  sc.source = source;
  sc.text = text;
  sc.overrides = overrides;
  return Parse(root, Reader(source, overridden), std::move(sc));
}

Result<Scenario> LoadScenario(const std::string& path, const Overrides& overrides) {
  auto text = ReadFile(path);
  if (!text) return std::unexpected(text.error());
  return ParseScenario(*text, path, overrides);
}

namespace {

std::vector<Scenario> Repeated(std::vector<Scenario> points) {
  std::vector<Scenario> out;
  for (auto& point : points) {
    if (point.repeat <= 1) {
      out.push_back(std::move(point));
      continue;
    }
    for (uint32_t k = 1; k <= point.repeat; ++k) {
      Scenario run = point;
      run.repetition = k;
      run.seed = point.seed + (k - 1);
      run.name += "-rep=" + std::to_string(k);
      out.push_back(std::move(run));
    }
  }
  return out;
}

}  // namespace

Result<std::vector<Scenario>> ExpandRuns(const Scenario& scenario) {
  if (scenario.sweep.empty()) return Repeated({scenario});
  std::vector<Overrides> combos{{}};
  for (const auto& [key, values] : scenario.sweep) {
    std::vector<Overrides> next;
    for (const auto& combo : combos) {
      for (const auto& v : values) {
        Overrides o = combo;
        o.emplace_back(key, v);
        next.push_back(std::move(o));
      }
    }
    combos = std::move(next);
  }
  std::vector<Scenario> out;
  for (const auto& combo : combos) {
    Overrides all = scenario.overrides;
    all.insert(all.end(), combo.begin(), combo.end());
    all.emplace_back("sweep", "{}");  // a run of a sweep is one point, not another sweep
    auto point = ParseScenario(scenario.text, scenario.source, all);
    if (!point) return std::unexpected(point.error());
    point->sweep_of = point->name;
    point->sweep_point = combo;
    for (const auto& [key, value] : combo) point->name += "-" + key + "=" + value;
    point->overrides.pop_back();
    out.push_back(std::move(*point));
  }
  return Repeated(std::move(out));
}

Result<Suite> LoadSuite(const std::string& path) {
  Suite suite;
  if (fs::is_directory(path)) {
    suite.name = fs::path(path).filename().string();
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(path)) {
      if (entry.is_regular_file() && entry.path().extension() == ".yaml")
        files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
    for (auto& f : files) suite.runs.push_back({f, {}});
    if (suite.runs.empty())
      return MakeError(ErrorCode::kInvalidArgument, path + ": no *.yaml scenario files");
    return suite;
  }
  auto text = ReadFile(path);
  if (!text) return std::unexpected(text.error());
  YAML::Node root;
  try {
    root = YAML::Load(*text);
  } catch (const YAML::ParserException& e) {
    return MakeError(ErrorCode::kInvalidArgument,
                     path + ":" + std::to_string(e.mark.line + 1) + ": not valid YAML: " + e.msg);
  }
  const Reader r(path, {});
  if (!root.IsMap() || !root["suite"] || !root["runs"]) {
    return std::unexpected(
        r.Fail(root, "suite", "a suite file has 'suite: NAME' and 'runs: [scenario files]'"));
  }
  const char* const keys[] = {"suite", "description", "runs"};
  if (auto s = r.CheckKeys(root, "", keys); !s) return std::unexpected(s.error());
  if (auto s = r.String(root, "suite", "suite", suite.name); !s) return std::unexpected(s.error());
  const YAML::Node runs = root["runs"];
  if (!runs.IsSequence() || runs.size() == 0)
    return std::unexpected(r.Fail(runs, "runs", "must be a non-empty list"));
  const fs::path dir = fs::path(path).parent_path();
  for (size_t i = 0; i < runs.size(); ++i) {
    const YAML::Node run = runs[i];
    const std::string at = "runs[" + std::to_string(i) + "]";
    SuiteEntry entry;
    // Copy-initialised: assigning one yaml-cpp node to another would overwrite the tree.
    const YAML::Node file = run.IsMap() ? run["scenario"] : run;
    if (run.IsMap()) {
      const char* const run_keys[] = {"scenario", "set"};
      if (auto s = r.CheckKeys(run, at + ".", run_keys); !s) return std::unexpected(s.error());
      if (const YAML::Node set = run["set"]) {
        if (!set.IsMap()) return std::unexpected(r.Fail(set, at + ".set", "must be a map of key: value"));
        for (const auto& kv : set)
          entry.overrides.emplace_back(kv.first.as<std::string>(""), Reader::Text(kv.second));
      }
    }
    if (!file || !file.IsScalar())
      return std::unexpected(r.Fail(run, at, "must be a scenario file name or {scenario: FILE, set: {...}}"));
    const fs::path p = fs::path(file.Scalar()).is_absolute() ? fs::path(file.Scalar()) : dir / file.Scalar();
    if (!fs::exists(p)) return std::unexpected(r.Fail(file, at, "no such scenario file: " + p.string()));
    entry.path = p.string();
    suite.runs.push_back(std::move(entry));
  }
  return suite;
}

std::optional<std::string> ResolveBundled(const std::string& name, const std::string& bundled_dir) {
  if (fs::exists(name)) return name;
  for (const fs::path& candidate :
       {fs::path(bundled_dir) / (name + ".yaml"), fs::path(bundled_dir) / "suites" / (name + ".yaml")}) {
    if (fs::exists(candidate)) return candidate.string();
  }
  return std::nullopt;
}

}  // namespace qsm::harness
