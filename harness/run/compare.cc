#include "harness/run/compare.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>

#include "engine/core/build_info.h"
#include "harness/run/summary.h"

namespace qsm::harness {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;


// The run's name for matching: "3-sleep-one-receiver-rep=2" -> "sleep-one-receiver".
std::string RunName(const std::string& folder_name, const json& summary) {
  static const std::regex position(R"(^[0-9]+-)");
  static const std::regex repetition(R"(-rep=[0-9]+$)");
  std::string name = std::regex_replace(folder_name, position, "");
  if (summary.contains("repeat") && !summary["repeat"].is_null()) name = std::regex_replace(name, repetition, "");
  return name;
}

std::optional<double> Number(const json& summary, const char* pointer) {
  const json::json_pointer p(pointer);
  if (!summary.contains(p) || !summary[p].is_number()) return std::nullopt;
  return summary[p].get<double>();
}

// The values of a metric over a run's repetitions (those that have it).
std::vector<double> Values(const std::vector<json>& repetitions, const char* pointer) {
  std::vector<double> v;
  for (const auto& s : repetitions) {
    if (auto x = Number(s, pointer)) v.push_back(*x);
  }
  std::sort(v.begin(), v.end());
  return v;
}

double Median(const std::vector<double>& sorted) {
  const size_t n = sorted.size();
  return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

std::string Format(double v) {
  char text[32];
  if (std::fabs(v) >= 1000 || v == std::floor(v)) {
    std::snprintf(text, sizeof text, "%.0f", v);
  } else {
    std::snprintf(text, sizeof text, "%.2f", v);
  }
  return text;
}

// "378590" for one repetition, "378590 [370100-397065]" (median [min-max]) for several.
std::string Cell(const std::vector<double>& sorted) {
  if (sorted.empty()) return "-";
  if (sorted.size() == 1) return Format(sorted[0]);
  return Format(Median(sorted)) + " [" + Format(sorted.front()) + "-" + Format(sorted.back()) + "]";
}

// Whether a summary's delivery check passed (a malformed "check" did not).
bool CheckOk(const json& summary) {
  const json::json_pointer ok("/check/ok");
  return summary.contains(ok) && summary[ok].is_boolean() && summary[ok].get<bool>();
}

// `object[key]` if it is a string, else "?".
std::string Text(const json& object, const char* key) {
  return object.contains(key) && object[key].is_string() ? object[key].get<std::string>() : "?";
}

std::string Verdict(const std::vector<json>& repetitions) {
  size_t ok = 0;
  for (const auto& s : repetitions) ok += CheckOk(s) ? 1 : 0;
  if (repetitions.size() == 1) return ok == 1 ? "OK" : "FAILED";
  return std::to_string(ok) + "/" + std::to_string(repetitions.size()) + " OK";
}

bool AllOk(const std::vector<json>& repetitions) {
  return std::all_of(repetitions.begin(), repetitions.end(), CheckOk);
}

void AppendRow(std::string& out, const std::string& label, const std::vector<std::string>& cells) {
  char text[64];
  std::snprintf(text, sizeof text, "  %-22s", label.c_str());
  out += text;
  for (const auto& c : cells) {
    std::snprintf(text, sizeof text, " %30s", c.c_str());
    out += text;
  }
  out += "\n";
}

// The nodes' builds of a set, from build.nodes[] of its summaries: " (nodes: Release, abc123)",
// and a warning when one is not an optimised build without sanitizers.
std::string BuildNote(const ResultSet& set) {
  std::vector<json> builds;
  for (const auto& [name, runs] : set.runs) {
    for (const auto& s : runs) {
      const json::json_pointer p("/build/nodes");
      if (!s.contains(p) || !s[p].is_array()) continue;
      for (const auto& b : s[p]) {
        if (b.is_object() && std::find(builds.begin(), builds.end(), b) == builds.end()) builds.push_back(b);
      }
    }
  }
  if (builds.empty()) return " (nodes' build not recorded)";
  std::string note;
  bool slow = false;
  for (const auto& b : builds) {
    const std::string type = Text(b, "build_type"), sanitizers = Text(b, "sanitizers");
    note += std::string(note.empty() ? "" : "; ") + type + (sanitizers == "none" ? "" : " with " + sanitizers) +
            ", " + Text(b, "revision");
    slow = slow || !IsOptimisedBuild(BuildInfo{.build_type = type, .sanitizers = sanitizers});
  }
  return " (nodes: " + note + ")" +
         (slow ? "\n   warning: not an optimised build without sanitizers: its figures are not a release build's" : "");
}

}  // namespace

const std::vector<CompareMetric>& CompareMetrics() {
  static const std::vector<CompareMetric> metrics{
      {"throughput", "min msgs/s", "/throughput/msgs_per_s/min", true},
      {"latency_p50", "latency p50 ms", "/latency/p50_ms", false},
      {"latency_p99", "latency p99 ms", "/latency/p99_ms", false},
      {"token_rtt_p50", "token RTT p50 ms", "/token_rtt/region/p50_ms", false},
      {"token_rtt_p99", "token RTT p99 ms", "/token_rtt/region/p99_ms", false},
      {"peak_pending", "peak pending bytes", "/peak_pending_ack/bytes", false},
  };
  return metrics;
}

Result<ResultSet> LoadResultSet(const std::string& folder) {
  auto run_dirs = RunFolders(folder);
  if (!run_dirs) return std::unexpected(run_dirs.error());
  ResultSet set{.folder = folder};
  for (const auto& dir : *run_dirs) {
    auto summary = ReadSummary(dir);
    if (!summary) return std::unexpected(summary.error());
    fs::path path = fs::absolute(dir).lexically_normal();
    if (path.filename().empty()) path = path.parent_path();  // "results/run/"
    const std::string name = RunName(path.filename().string(), *summary);
    if (!set.runs.contains(name)) set.run_order.push_back(name);
    set.runs[name].push_back(std::move(*summary));
  }
  return set;
}

Status ParseMaxRegression(const std::string& text, CompareOptions& options) {
  const size_t eq = text.find('=');
  const std::string key = text.substr(0, eq);
  const auto& metrics = CompareMetrics();
  const bool known = std::any_of(metrics.begin(), metrics.end(), [&](const CompareMetric& m) { return key == m.key; });
  std::string keys;
  for (const auto& m : metrics) keys += std::string(keys.empty() ? "" : ", ") + m.key;
  if (eq == std::string::npos || !known) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--max-regression '" + text + "': expected METRIC=FRACTION or METRIC=PERCENT% (metrics: " +
                         keys + ")");
  }
  std::string value = text.substr(eq + 1);
  double scale = 1;
  if (!value.empty() && value.back() == '%') {
    value.pop_back();
    scale = 0.01;
  }
  char* end = nullptr;
  const double v = std::strtod(value.c_str(), &end);
  if (value.empty() || end != value.c_str() + value.size() || !(v >= 0) || !std::isfinite(v)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--max-regression '" + text + "': the allowance must be a number >= 0, such as 0.1 or 10%");
  }
  options.max_regression[key] = v * scale;
  return {};
}

Comparison Compare(const std::vector<ResultSet>& sets, const CompareOptions& options) {
  Comparison result;
  std::string& out = result.table;
  for (size_t i = 0; i < sets.size(); ++i) {
    const std::string letter(1, static_cast<char>('A' + i));
    out += letter + ": " + sets[i].folder + BuildNote(sets[i]) + "\n";
  }
  // Every run of any set, in the first set's order, then the others' new ones.
  std::vector<std::string> names;
  for (const auto& set : sets) {
    for (const auto& n : set.run_order) {
      if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
    }
  }
  std::vector<std::string> header;
  for (size_t i = 0; i < sets.size(); ++i) {
    const std::string letter(1, static_cast<char>('A' + i));
    header.push_back(letter);
    if (i > 0) header.push_back(letter + "/A");
  }
  for (const auto& name : names) {
    out += "\n" + name + "\n";
    AppendRow(out, "", header);
    auto runs_of = [&](size_t i) -> const std::vector<json>* {
      auto it = sets[i].runs.find(name);
      return it == sets[i].runs.end() ? nullptr : &it->second;
    };
    const std::vector<json>* base = runs_of(0);
    for (const auto& metric : CompareMetrics()) {
      std::vector<std::string> cells;
      std::optional<double> base_median;
      if (base != nullptr) {
        const auto v = Values(*base, metric.pointer);
        if (!v.empty()) base_median = Median(v);
      }
      for (size_t i = 0; i < sets.size(); ++i) {
        const std::vector<json>* runs = runs_of(i);
        const std::vector<double> v = runs == nullptr ? std::vector<double>{} : Values(*runs, metric.pointer);
        cells.push_back(Cell(v));
        if (i == 0) continue;
        if (v.empty() || !base_median || *base_median == 0) {
          cells.emplace_back("-");
          continue;
        }
        const double ratio = Median(v) / *base_median;
        char text[32];
        std::snprintf(text, sizeof text, "%.2f", ratio);
        cells.emplace_back(text);
        auto limit = options.max_regression.find(metric.key);
        if (limit == options.max_regression.end()) continue;
        const bool worse = metric.higher_is_better ? ratio < 1 - limit->second : ratio > 1 + limit->second;
        if (worse) {
          char line[256];
          std::snprintf(line, sizeof line, "%s: %s %s/A = %.2f (allowed: %s %.2f)", name.c_str(), metric.key,
                        std::string(1, static_cast<char>('A' + i)).c_str(), ratio,
                        metric.higher_is_better ? ">=" : "<=",
                        metric.higher_is_better ? 1 - limit->second : 1 + limit->second);
          result.regressions.emplace_back(line);
        }
      }
      AppendRow(out, metric.label, cells);
    }
    std::vector<std::string> verdicts;
    for (size_t i = 0; i < sets.size(); ++i) {
      const std::vector<json>* runs = runs_of(i);
      verdicts.push_back(runs == nullptr ? "absent" : Verdict(*runs));
      if (i > 0) verdicts.emplace_back();
      if (i > 0 && runs != nullptr && base != nullptr && AllOk(*base) && !AllOk(*runs)) {
        result.regressions.push_back(name + ": the delivery check passed in A and fails in " +
                                     std::string(1, static_cast<char>('A' + i)));
      }
    }
    AppendRow(out, "check", verdicts);
  }
  return result;
}

}  // namespace qsm::harness
