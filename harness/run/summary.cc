#include "harness/run/summary.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "engine/core/build_info.h"
#include "harness/workload/json_fields.h"
#include "harness/workload/text.h"

#ifndef QSM_SOURCE_DIR
#define QSM_SOURCE_DIR "."
#endif

namespace qsm::harness {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

double Ms(uint64_t ns) { return static_cast<double>(ns) / 1e6; }

std::string GitRevision() {
  std::FILE* p = popen("git -C '" QSM_SOURCE_DIR "' describe --always --dirty 2>/dev/null", "r");
  if (p == nullptr) return "unknown";
  char line[128] = {};
  const bool got = std::fgets(line, sizeof line, p) != nullptr;
  pclose(p);
  std::string rev = got ? line : "unknown";
  while (!rev.empty() && (rev.back() == '\n' || rev.back() == '\r')) rev.pop_back();
  return rev.empty() ? "unknown" : rev;
}

// The harness's own build, and each distinct build of the nodes' binaries (from their results).
json BuildsJson(const RunRecord& record) {
  const BuildInfo& b = ThisBuild();
  json nodes = json::array();
  for (const auto& [id, r] : record.results) {
    if (r.build.empty()) continue;
    const json build = r.build;
    if (std::find(nodes.begin(), nodes.end(), build) == nodes.end()) nodes.push_back(build);
  }
  return {{"harness",
           {{"revision", b.revision}, {"build_type", b.build_type}, {"sanitizers", b.sanitizers}}},
          {"nodes", nodes}};
}

json Machine() {
  utsname u{};
  uname(&u);
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return {{"hostname", host},
          {"kernel", std::string(u.sysname) + " " + u.release},
          {"machine", u.machine},
          {"cpus", sysconf(_SC_NPROCESSORS_ONLN)}};
}

json Quantiles(const Histogram& h) {
  return {{"count", h.count()},
          {"p50_ms", Ms(h.Quantile(0.5))},
          {"p90_ms", Ms(h.Quantile(0.9))},
          {"p99_ms", Ms(h.Quantile(0.99))},
          {"p999_ms", Ms(h.Quantile(0.999))},
          {"max_ms", Ms(h.max())}};
}

std::string RateText(const json& rate) {
  if (!rate.is_number()) return "max";
  char text[32];
  std::snprintf(text, sizeof text, "%g", rate.get<double>());
  return text;
}

json SweepPoint(const Scenario& sc) {
  json point = json::object();
  for (const auto& [key, value] : sc.sweep_point) point[key] = value;
  return point;
}

json MinMedianMax(std::vector<double> v) {
  if (v.empty()) return {{"min", 0.0}, {"median", 0.0}, {"max", 0.0}};
  std::sort(v.begin(), v.end());
  const double median = v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  return {{"min", v.front()}, {"median", median}, {"max", v.back()}};
}

// Deliveries per second at one node between warmup and the end of the load, from its ticks.
// Negative if the ticks do not cover that span.
double SteadyRate(const std::vector<const Tick*>& ticks, double from_s, double to_s) {
  const Tick* a = nullptr;
  const Tick* b = nullptr;
  for (const Tick* t : ticks) {
    if (t->t_s <= from_s + 0.05) a = t;
    if (b == nullptr && t->t_s >= to_s - 0.05) b = t;
  }
  if (b == nullptr || (a != nullptr && b->t_s <= a->t_s)) return -1;
  const double t0 = a ? a->t_s : 0, d0 = a ? static_cast<double>(a->delivered) : 0;
  return (static_cast<double>(b->delivered) - d0) / (b->t_s - t0);
}

}  // namespace

CheckInput CheckInputOf(const RunRecord& record) {
  CheckInput in;
  const Scenario& sc = record.run.scenario;
  in.nodes = sc.nodes;
  for (uint32_t s = 1; s <= sc.senders; ++s) in.senders.insert(s);
  in.crashed = record.crashed;
  in.results = record.results;
  for (const NodePlan& plan : record.run.plans) in.joined[plan.node_id] = plan.joined;
  in.guarantees = GuaranteesOf(sc.engine.kind);
  return in;
}

namespace {

// What summary.json reports, aggregated over the nodes' results and progress records.
struct RunAggregate {
  Histogram latency, partition_rtt, region_rtt, timer_lateness;
  double sender_cpu = 0, receiver_cpu = 0;  // sums of CPU percentages
  int senders_measured = 0, receivers_measured = 0;
  int64_t max_rss = -1;
  size_t peak_pending_messages = 0, peak_pending_bytes = 0, peak_cache_bytes = 0;
  uint64_t recovery[4] = {0, 0, 0, 0};  // push, pull, nak, retransmit
  json cpu_seconds = json::object();    // per node
  std::vector<double> rates;            // steady throughput of each surviving node
  json per_node = json::array();
};

RunAggregate Aggregate(const RunRecord& record) {
  const Scenario& sc = record.run.scenario;
  RunAggregate a;
  std::map<uint32_t, std::vector<const Tick*>> ticks;
  for (const Tick& t : record.ticks) ticks[t.node_id].push_back(&t);
  const double from_s = ToSeconds(sc.warmup), to_s = ToSeconds(sc.duration);
  for (const auto& [id, r] : record.results) {
    a.latency.Merge(r.latency_ns);
    a.partition_rtt.Merge(r.partition_rtt_ns);
    a.region_rtt.Merge(r.region_rtt_ns);
    a.timer_lateness.Merge(r.timer_lateness_ns);
    const double cpu_percent = r.cpu_seconds >= 0 && r.elapsed_s > 0 ? 100 * r.cpu_seconds / r.elapsed_s : -1;
    if (cpu_percent >= 0) {
      (record.run.is_sender(id) ? a.sender_cpu : a.receiver_cpu) += cpu_percent;
      ++(record.run.is_sender(id) ? a.senders_measured : a.receivers_measured);
    }
    a.max_rss = std::max(a.max_rss, r.max_rss_bytes);
    a.peak_pending_messages = std::max(a.peak_pending_messages, r.peak_pending_messages);
    a.peak_pending_bytes = std::max(a.peak_pending_bytes, r.peak_pending_bytes);
    a.peak_cache_bytes = std::max(a.peak_cache_bytes, r.peak_cache_bytes);
    const char* kinds[] = {"recovery_push", "recovery_pull", "recovery_nak", "recovery_retransmit"};
    for (int k = 0; k < 4; ++k) {
      auto c = r.counters.find(kinds[k]);
      if (c != r.counters.end()) a.recovery[k] += c->second;
    }
    if (!record.simulated) a.cpu_seconds[std::to_string(id)] = r.cpu_seconds;
    const double rate = SteadyRate(ticks[id], from_s, to_s);
    if (rate >= 0 && record.crashed.count(id) == 0) a.rates.push_back(rate);
    a.per_node.push_back({{"node", id},
                          {"end", r.end},
                          {"sent", r.sent_total()},
                          {"delivered", r.delivered_total()},
                          {"throughput_msgs_per_s", std::max(rate, 0.0)},
                          {"latency_p99_ms", Ms(r.latency_ns.Quantile(0.99))},
                          {"peak_pending_bytes", r.peak_pending_bytes},
                          {"peak_cache_bytes", r.peak_cache_bytes},
                          {"cpu_percent", cpu_percent >= 0 ? json(cpu_percent) : json(nullptr)},
                          {"max_rss_bytes", r.max_rss_bytes >= 0 ? json(r.max_rss_bytes) : json(nullptr)}});
  }
  return a;
}

json ScenarioJson(const Scenario& sc) {
  json overrides = json::object();
  for (const auto& [k, v] : sc.overrides) overrides[k] = v;
  return {{"name", sc.name},
          {"description", sc.description},
          {"source", sc.source},
          {"overrides", overrides},
          {"launcher", sc.launcher},
          {"nodes", sc.nodes},
          {"groups", sc.groups},
          {"membership", sc.membership.pattern},
          {"senders", sc.senders},
          {"message_size", sc.message_size},
          {"rate", sc.rate > 0 ? json(sc.rate) : json("max")},
          {"duration_s", ToSeconds(sc.duration)},
          {"warmup_s", ToSeconds(sc.warmup)},
          {"drain_s", ToSeconds(sc.drain)},
          {"seed", sc.seed},
          {"engine",
           {{"kind", sc.engine.kind},
            {"auth", sc.engine.auth},
            {"token_rate", sc.engine.token_rate},
            {"rounds", sc.engine.rounds},
            {"replication", sc.engine.replication},
            {"window", sc.engine.window},
            {"window_mb", sc.engine.window_mb},
            {"window_messages", sc.engine.window_messages},
            {"datagram_bytes", sc.engine.datagram_bytes}}}};
}

json CheckJson(const RunRecord& record, const CheckReport& check) {
  json receivers = json::array();
  for (const ReceiverCheck& rc : check.receivers) {
    receivers.push_back({{"node", rc.node},
                         {"expected", rc.expected},
                         {"delivered", rc.delivered},
                         {"lost", rc.lost},
                         {"behind", rc.behind},
                         {"duplicates", rc.duplicates},
                         {"out_of_order", rc.out_of_order},
                         {"unexpected", rc.unexpected}});
  }
  return {{"ok", check.ok && record.incidents.empty() && !record.interrupted},
          {"violations", check.violations},
          {"notes", check.notes},
          {"violations_total", check.violations_total},
          {"receivers", receivers}};
}

}  // namespace

json BuildSummary(const RunRecord& record, const CheckReport& check) {
  const Scenario& sc = record.run.scenario;
  const RunAggregate a = Aggregate(record);
  const double from_s = ToSeconds(sc.warmup), to_s = ToSeconds(sc.duration);
  json faults = json::array();
  for (const FaultWindow& w : record.run.windows) {
    faults.push_back({{"type", FaultTypeName(w.type)},
                      {"nodes", w.nodes},
                      {"start_s", ToSeconds(w.start)},
                      {"end_s", ToSeconds(w.end)},
                      {"via", ViaOf(w)}});
  }
  json throughput = MinMedianMax(a.rates);
  json mbps = MinMedianMax(a.rates);
  for (const char* k : {"min", "median", "max"}) {
    mbps[k] = mbps[k].get<double>() * static_cast<double>(sc.message_size) / 1e6;
  }
  json summary = {
      {"format", kSummaryFormat},
      {"check", CheckJson(record, check)},
      {"scenario", ScenarioJson(sc)},
      {"git_revision", GitRevision()},
      {"build", BuildsJson(record)},
      {"machine", Machine()},
      {"started_at", record.started_at},
      {"wall_seconds", record.wall_seconds},
      {"simulated", record.simulated},
      {"interrupted", record.interrupted},
      {"incidents", record.incidents},
      {"prometheus", record.prometheus_url.empty() ? json(nullptr)
                                                   : json{{"url_during_run", record.prometheus_url},
                                                          {"config", "prometheus.yml"},
                                                          {"data", "prometheus/"}}},
      {"crashed", record.crashed},
      {"messages",
       {{"sent", check.sent},
        {"expected", check.expected},
        {"delivered", check.delivered},
        {"lost", check.lost},
        {"behind", check.behind},
        {"duplicates", check.duplicates},
        {"out_of_order", check.out_of_order}}},
      {"throughput", {{"window_s", {from_s, to_s}}, {"msgs_per_s", throughput}, {"mb_per_s", mbps}}},
      {"latency", Quantiles(a.latency)},
      {"token_rtt", {{"partition", Quantiles(a.partition_rtt)}, {"region", Quantiles(a.region_rtt)}}},
      {"peak_pending_ack", {{"messages", a.peak_pending_messages}, {"bytes", a.peak_pending_bytes}}},
      {"peak_cache_bytes", a.peak_cache_bytes},
      {"recovery_packets",
       {{"push", a.recovery[0]},
        {"pull", a.recovery[1]},
        {"nak", a.recovery[2]},
        {"retransmit", a.recovery[3]}}},
      {"cpu_seconds", record.simulated ? json(nullptr) : a.cpu_seconds},
      {"cpu_percent",
       {{"senders_mean", a.senders_measured > 0 ? json(a.sender_cpu / a.senders_measured) : json(nullptr)},
        {"receivers_mean",
         a.receivers_measured > 0 ? json(a.receiver_cpu / a.receivers_measured) : json(nullptr)}}},
      {"max_rss_bytes", a.max_rss >= 0 ? json(a.max_rss) : json(nullptr)},
      {"timer_lateness", Quantiles(a.timer_lateness)},
      {"sweep", sc.sweep_of.empty() ? json(nullptr) : json{{"of", sc.sweep_of}, {"point", SweepPoint(sc)}}},
      {"repeat", sc.repetition == 0 ? json(nullptr) : json{{"index", sc.repetition}, {"of", sc.repeat}}},
      {"fault_windows", faults},
      {"nodes", a.per_node},
  };
  return summary;
}

namespace {

// A node's tick with its rates since the node's previous tick and the faults active meanwhile.
struct TickRow {
  const Tick* tick;
  double delivered_per_s, sent_per_s;
  std::string faults;
};

std::vector<TickRow> TickRows(const RunRecord& record) {
  std::vector<TickRow> rows;
  std::map<uint32_t, const Tick*> previous;
  const auto at = [](double s) { return Duration(static_cast<int64_t>(s * 1e9)); };
  for (const Tick& t : record.ticks) {
    const Tick* p = previous[t.node_id];
    const double dt = p ? t.t_s - p->t_s : t.t_s;
    const double delivered = static_cast<double>(t.delivered - (p ? p->delivered : 0));
    const double sent = static_cast<double>(t.sent - (p ? p->sent : 0));
    rows.push_back({&t, dt > 0 ? delivered / dt : 0.0, dt > 0 ? sent / dt : 0.0,
                    ActiveFaults(record.run.windows, t.node_id, at(p ? p->t_s : 0.0), at(t.t_s))});
    previous[t.node_id] = &t;
  }
  return rows;
}

// timeseries.csv: per node per tick, by node then time, so that each node's rows are one block
// (a plot can draw a node's line from consecutive rows).
std::string TimeseriesCsv(const std::vector<TickRow>& rows) {
  std::vector<const TickRow*> by_node;
  by_node.reserve(rows.size());
  for (const TickRow& r : rows) by_node.push_back(&r);
  std::stable_sort(by_node.begin(), by_node.end(),
                   [](const TickRow* a, const TickRow* b) { return a->tick->node_id < b->tick->node_id; });
  std::ostringstream csv;
  csv << "t_s,node,delivered_per_s,sent_per_s,pending_messages,pending_bytes,cache_bytes,token_rtt_p50_ms,"
         "token_rtt_p99_ms,latency_p50_ms,latency_p99_ms,faults\n";
  for (const TickRow* r : by_node) {
    const Tick& t = *r->tick;
    char line[512];
    std::snprintf(line, sizeof line, "%.3f,%u,%.1f,%.1f,%zu,%zu,%zu,%.3f,%.3f,%.3f,%.3f,%s\n", t.t_s,
                  t.node_id, r->delivered_per_s, r->sent_per_s, t.pending_messages, t.pending_bytes,
                  t.cache_bytes, t.token_rtt_p50_ms, t.token_rtt_p99_ms, t.latency_p50_ms, t.latency_p99_ms,
                  r->faults.c_str());
    csv << line;
  }
  return csv.str();
}

// cluster.csv: per second over the cluster (crashed nodes' rates left out).
std::string ClusterCsv(const std::vector<TickRow>& rows, const std::set<uint32_t>& crashed) {
  struct Second {
    std::vector<double> rates;
    size_t pending_bytes = 0, cache_bytes = 0;
    double rtt_p50 = 0, rtt_p99 = 0, latency_p99 = 0;
    std::set<std::string> faults;
  };
  std::map<long, Second> seconds;
  for (const TickRow& r : rows) {
    const Tick& t = *r.tick;
    Second& sec = seconds[std::lround(t.t_s)];
    if (!crashed.contains(t.node_id)) sec.rates.push_back(r.delivered_per_s);
    sec.pending_bytes += t.pending_bytes;
    sec.cache_bytes = std::max(sec.cache_bytes, t.cache_bytes);
    if (t.token_rtt_p99_ms > sec.rtt_p99) {
      sec.rtt_p50 = t.token_rtt_p50_ms;
      sec.rtt_p99 = t.token_rtt_p99_ms;
    }
    sec.latency_p99 = std::max(sec.latency_p99, t.latency_p99_ms);
    std::stringstream faults(r.faults);
    for (std::string f; std::getline(faults, f, ';');) sec.faults.insert(f + "@" + std::to_string(t.node_id));
  }
  std::ostringstream cluster;
  cluster << "t_s,receivers,delivered_per_s_mean,delivered_per_s_min,pending_bytes,cache_bytes_max,"
             "token_rtt_p50_ms,token_rtt_p99_ms,latency_p99_ms_max,faults\n";
  for (const auto& [t, sec] : seconds) {
    double sum = 0, min = sec.rates.empty() ? 0 : sec.rates.front();
    for (double r : sec.rates) {
      sum += r;
      min = std::min(min, r);
    }
    std::string faults;
    for (const auto& f : sec.faults) Append(faults, f, ";");
    char line[512];
    std::snprintf(line, sizeof line, "%ld,%zu,%.1f,%.1f,%zu,%zu,%.3f,%.3f,%.3f,%s\n", t, sec.rates.size(),
                  sec.rates.empty() ? 0.0 : sum / static_cast<double>(sec.rates.size()), min,
                  sec.pending_bytes, sec.cache_bytes, sec.rtt_p50, sec.rtt_p99, sec.latency_p99,
                  faults.c_str());
    cluster << line;
  }
  return cluster.str();
}

// latency_percentiles.csv: the merged latency spectrum, down to the percentiles the data holds.
// One histogram of every node's, merged: `of` picks it from a node's result.
Histogram Merged(const RunRecord& record, Histogram NodeResult::*of) {
  Histogram merged;
  for (const auto& [id, r] : record.results) merged.Merge(r.*of);
  return merged;
}
Histogram MergedLatency(const RunRecord& record) { return Merged(record, &NodeResult::latency_ns); }

std::string LatencyPercentilesCsv(const RunRecord& record) {
  const Histogram latency = MergedLatency(record);
  std::ostringstream spectrum;
  spectrum << "percentile,nines,latency_ms\n";
  for (double p :
       {0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.995, 99.999, 100.0}) {
    if (latency.count() == 0) break;
    if (p > 0 && p < 100 && 1.0 / (1.0 - p / 100) > static_cast<double>(latency.count()))
      continue;  // beyond the data
    const double nines =
        p >= 100 ? std::log10(static_cast<double>(latency.count())) : -std::log10(1 - p / 100);
    char line[128];
    std::snprintf(line, sizeof line, "%g,%.4f,%.4f\n", p, nines, Ms(latency.Quantile(p / 100)));
    spectrum << line;
  }
  return spectrum.str();
}

}  // namespace

std::string PercentileDistribution(const Histogram& h) {
  std::string out;
  char line[160];
  std::snprintf(line, sizeof line, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount",
                "1/(1-Percentile)");
  out += line;
  const uint64_t total = h.count();
  double sum_squares = 0;  // of the deviation from the mean, at bucket midpoints
  for (size_t b = 0; b < Histogram::kBuckets && total > 0; ++b) {
    if (h.bucket_count(b) == 0) continue;
    const double mid = (static_cast<double>(Histogram::BucketLow(b)) + static_cast<double>(Histogram::BucketHigh(b))) / 2;
    sum_squares += static_cast<double>(h.bucket_count(b)) * (mid - h.mean()) * (mid - h.mean());
  }
  if (total > 0) {
    size_t next_bucket = 0;
    uint64_t cumulative = 0;
    for (double percent = 0;;) {
      const auto needed = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(percent / 100 * static_cast<double>(total))));
      while (cumulative < needed) cumulative += h.bucket_count(next_bucket++);
      if (cumulative >= total) break;
      std::snprintf(line, sizeof line, "%12.3f %2.12f %10llu %14.2f\n", Ms(h.Quantile(percent / 100)), percent / 100,
                    static_cast<unsigned long long>(cumulative), 1 / (1 - percent / 100));
      out += line;
      // HdrHistogram's ticks: 5 per halving of the distance to 100%.
      const double halvings = std::floor(std::log2(100 / (100 - percent)));
      percent += 100 / (5 * std::exp2(halvings + 1));
    }
    std::snprintf(line, sizeof line, "%12.3f %2.12f %10llu\n", Ms(h.max()), 1.0, static_cast<unsigned long long>(total));
    out += line;
  }
  const double stddev = total > 0 ? std::sqrt(sum_squares / static_cast<double>(total)) : 0;
  std::snprintf(line, sizeof line, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n", h.mean() / 1e6, stddev / 1e6);
  out += line;
  std::snprintf(line, sizeof line, "#[Max     = %12.3f, Total count    = %12llu]\n", Ms(h.max()),
                static_cast<unsigned long long>(total));
  out += line;
  std::snprintf(line, sizeof line, "#[Buckets = %12zu, SubBuckets     = %12zu]\n", Histogram::kBuckets / Histogram::kSub,
                Histogram::kSub);
  out += line;
  return out;
}

namespace {

std::string FaultsCsv(const std::vector<FaultWindow>& windows) {
  std::ostringstream faults;
  faults << "type,nodes,start_s,end_s,via\n";
  for (const FaultWindow& w : windows) {
    std::string nodes;
    for (uint32_t n : w.nodes) Append(nodes, std::to_string(n), ";");
    faults << FaultTypeName(w.type) << "," << nodes << "," << ToSeconds(w.start) << "," << ToSeconds(w.end)
           << "," << ViaOf(w) << "\n";
  }
  return faults.str();
}

// scenario.yaml: the scenario as given, with the overrides applied noted at the end.
std::string ScenarioYaml(const RunRecord& record) {
  std::string scenario = record.run.scenario.text;
  if (!record.run.scenario.overrides.empty()) {
    scenario += "\n# overrides applied (--set or sweep):\n";
    for (const auto& [k, v] : record.run.scenario.overrides) scenario += "#   " + k + "=" + v + "\n";
  }
  return scenario;
}

}  // namespace

Result<json> WriteRunFolder(const std::string& dir, const RunRecord& record, const CheckReport& check) {
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "nodes", ec);
  if (ec) return MakeError(ErrorCode::kIo, "cannot create " + dir + ": " + ec.message());
  json summary = BuildSummary(record, check);
  const std::vector<TickRow> rows = TickRows(record);
  const std::pair<const char*, std::string> files[] = {
      {"summary.json", summary.dump(2) + "\n"},
      {"timeseries.csv", TimeseriesCsv(rows)},
      {"cluster.csv", ClusterCsv(rows, record.crashed)},
      {"latency_percentiles.csv", LatencyPercentilesCsv(record)},
      {"latency.hgrm", PercentileDistribution(MergedLatency(record))},
      {"token_rtt.hgrm", PercentileDistribution(Merged(record, &NodeResult::region_rtt_ns))},
      {"timer_lateness.hgrm", PercentileDistribution(Merged(record, &NodeResult::timer_lateness_ns))},
      {"faults.csv", FaultsCsv(record.run.windows)},
      {"scenario.yaml", ScenarioYaml(record)},
  };
  for (const auto& [name, text] : files) {
    if (auto s = WriteFile(dir + "/" + name, text); !s) return std::unexpected(s.error());
  }
  for (const auto& [id, r] : record.results) {
    const std::string path = dir + "/nodes/node-" + std::to_string(id) + ".json";
    if (!fs::exists(path)) {
      if (auto s = WriteFile(path, ResultToJson(r)); !s) return std::unexpected(s.error());
    }
  }
  return summary;
}

Result<std::vector<std::string>> WriteSweepTables(const std::string& dir,
                                                  const std::vector<json>& summaries) {
  std::map<std::string, std::vector<const json*>> sweeps;
  for (const json& s : summaries) {
    if (s.contains("sweep") && s["sweep"].is_object())
      sweeps[s["sweep"]["of"].get<std::string>()].push_back(&s);
  }
  auto number = [](const json& j) { return j.is_number() ? j.get<double>() : -1.0; };
  std::error_code ec;
  if (!sweeps.empty()) fs::create_directories(dir, ec);
  if (ec) return MakeError(ErrorCode::kIo, "cannot create " + dir + ": " + ec.message());
  std::vector<std::string> files;
  for (auto& [name, runs] : sweeps) {
    // Rows by swept value (numerically where it is a number), so a line through them is a curve.
    auto x_of = [](const json* s) {
      const json& point = (*s)["sweep"]["point"];
      const std::string x = point.empty() ? "" : point.begin().value().get<std::string>();
      char* end = nullptr;
      const double v = std::strtod(x.c_str(), &end);
      return std::pair{end != x.c_str() ? v : std::numeric_limits<double>::infinity(), x};
    };
    std::stable_sort(runs.begin(), runs.end(),
                     [&](const json* a, const json* b) { return x_of(a) < x_of(b); });
    std::ostringstream csv;
    csv << "run,x_key,x,nodes,replication,token_rate,rate,groups,message_size,faults,throughput_min,"
           "throughput_median,sender_cpu_pct,receiver_cpu_pct,token_rtt_region_p50_ms,token_rtt_region_p99_"
           "ms,"
           "token_rtt_partition_p50_ms,token_rtt_partition_p99_ms,peak_pending_bytes,peak_pending_messages,"
           "peak_cache_bytes,latency_p50_ms,latency_p99_ms,timer_lateness_p99_ms,max_rss_bytes,lost,ok\n";
    for (const json* run : runs) {
      const json& s = *run;
      const json& sc = s["scenario"];
      const json& point = s["sweep"]["point"];
      const std::string x_key = point.empty() ? "" : point.begin().key();
      const std::string x = point.empty() ? "" : point.begin().value().get<std::string>();
      std::set<std::string> fault_types;
      for (const json& w : s["fault_windows"]) fault_types.insert(w["type"].get<std::string>());
      std::string faults;
      for (const auto& f : fault_types) Append(faults, f, ";");
      char line[1024];
      std::snprintf(line, sizeof line,
                    "%s,%s,%s,%d,%d,%g,%s,%d,%d,%s,%.1f,%.1f,%.1f,%.1f,%.3f,%.3f,%.3f,%.3f,%llu,%llu,%llu,%."
                    "3f,%.3f,%.3f,%.0f,"
                    "%llu,%d\n",
                    sc["name"].get<std::string>().c_str(), x_key.c_str(), x.c_str(), sc["nodes"].get<int>(),
                    sc["engine"]["replication"].get<int>(), sc["engine"]["token_rate"].get<double>(),
                    RateText(sc["rate"]).c_str(), sc["groups"].get<int>(), sc["message_size"].get<int>(),
                    faults.c_str(), s["throughput"]["msgs_per_s"]["min"].get<double>(),
                    s["throughput"]["msgs_per_s"]["median"].get<double>(),
                    number(s["cpu_percent"]["senders_mean"]), number(s["cpu_percent"]["receivers_mean"]),
                    s["token_rtt"]["region"]["p50_ms"].get<double>(),
                    s["token_rtt"]["region"]["p99_ms"].get<double>(),
                    s["token_rtt"]["partition"]["p50_ms"].get<double>(),
                    s["token_rtt"]["partition"]["p99_ms"].get<double>(),
                    s["peak_pending_ack"]["bytes"].get<unsigned long long>(),
                    s["peak_pending_ack"]["messages"].get<unsigned long long>(),
                    s["peak_cache_bytes"].get<unsigned long long>(), s["latency"]["p50_ms"].get<double>(),
                    s["latency"]["p99_ms"].get<double>(), s["timer_lateness"]["p99_ms"].get<double>(),
                    number(s["max_rss_bytes"]), s["messages"]["lost"].get<unsigned long long>(),
                    s["check"]["ok"].get<bool>() ? 1 : 0);
      csv << line;
    }
    const std::string path = dir + "/sweep-" + name + ".csv";
    if (auto st = WriteFile(path, csv.str()); !st) return std::unexpected(st.error());
    files.push_back(path);
  }
  return files;
}

Result<std::vector<std::string>> RunFolders(const std::string& dir) {
  if (fs::exists(fs::path(dir) / "summary.json")) return std::vector<std::string>{dir};
  std::vector<std::string> runs;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (fs::exists(e.path() / "summary.json")) runs.push_back(e.path().string());
  }
  if (ec) return MakeError(ErrorCode::kInvalidArgument, dir + ": " + ec.message());
  if (runs.empty()) return MakeError(ErrorCode::kInvalidArgument, dir + ": no summary.json here or in its subfolders");
  // "10-x" after "9-x".
  std::sort(runs.begin(), runs.end(), [](const std::string& a, const std::string& b) {
    const std::string x = fs::path(a).filename().string(), y = fs::path(b).filename().string();
    const unsigned long nx = std::strtoul(x.c_str(), nullptr, 10), ny = std::strtoul(y.c_str(), nullptr, 10);
    return nx != ny ? nx < ny : x < y;
  });
  return runs;
}

Result<json> ReadSummary(const std::string& run_dir) {
  const std::string file = (fs::path(run_dir) / "summary.json").string();
  auto text = ReadFile(file);
  if (!text) return std::unexpected(text.error());
  json s = json::parse(*text, nullptr, false);
  if (s.is_discarded() || !s.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, file + ": not valid JSON (an object)");
  }
  const std::string format = s.contains("format") && s["format"].is_string() ? s["format"].get<std::string>() : "";
  if (format != kSummaryFormat) {
    return MakeError(ErrorCode::kInvalidArgument, file + ": format '" + format +
                                                      "' is not one this qsm-harness reads (" + kSummaryFormat + ")");
  }
  return s;
}

std::string EngineKindOf(const json& summary) {
  const json::json_pointer kind("/scenario/engine/kind");
  return summary.contains(kind) && summary[kind].is_string() ? summary[kind].get<std::string>() : "qsm";
}

Result<RunRecord> ReadRunFolder(const std::string& dir) {
  auto parsed = ReadSummary(dir);
  if (!parsed) return std::unexpected(parsed.error());
  RunRecord record;
  Scenario& sc = record.run.scenario;
  const json* scenario = JsonFields(*parsed, "summary.json").Find("scenario");
  if (scenario == nullptr || !scenario->is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, dir + "/summary.json: 'scenario' is missing");
  }
  const JsonFields f(*scenario, dir + "/summary.json: scenario");
  std::vector<uint32_t> crashed;
  for (Status s : {f.Read("name", sc.name), f.Read("nodes", sc.nodes), f.Read("senders", sc.senders),
                   f.Read("groups", sc.groups), f.Read("message_size", sc.message_size),
                   JsonFields(*parsed, dir + "/summary.json").Read("crashed", crashed)}) {
    if (!s) return std::unexpected(s.error());
  }
  if (const json* engine = f.Find("engine"); engine != nullptr && engine->is_object()) {
    // Runs from before engine drivers have no kind: they ran QSM.
    if (auto s = JsonFields(*engine, dir + "/summary.json: scenario.engine").Read("kind", sc.engine.kind, false); !s)
      return std::unexpected(s.error());
  }
  record.crashed.insert(crashed.begin(), crashed.end());
  for (uint32_t id = 1; id <= sc.nodes; ++id) {
    // The groups each node joined: from its plan, or (a run without plan files) all of them.
    const std::string plan_path = dir + "/nodes/node-" + std::to_string(id) + ".plan.json";
    NodePlan plan{.node_id = id};
    if (fs::exists(plan_path)) {
      auto plan_text = ReadFile(plan_path);
      if (!plan_text) return std::unexpected(plan_text.error());
      auto parsed_plan = PlanFromJson(*plan_text);
      if (!parsed_plan)
        return MakeError(ErrorCode::kInvalidArgument, plan_path + ": " + parsed_plan.error().message);
      plan = std::move(*parsed_plan);
    } else {
      for (uint32_t g = 1; g <= sc.groups; ++g) plan.joined.push_back(g);
    }
    record.run.plans.push_back(std::move(plan));
    const std::string path = dir + "/nodes/node-" + std::to_string(id) + ".json";
    if (!fs::exists(path)) continue;
    auto result = ReadResultFile(path);
    if (!result) return std::unexpected(result.error());
    record.results[id] = std::move(*result);
  }
  return record;
}

std::string TableHeader() {
  char line[256];
  std::snprintf(line, sizeof line, "%-36s %6s %12s %17s %17s %17s %12s  %s", "run", "nodes", "min msgs/s",
                "delivered/expected", "latency p50/p99", "token RTT p50/p99", "peak pending", "check");
  return line;
}

std::string TableRow(const json& s) {
  const json& m = s["messages"];
  const json& lat = s["latency"];
  const json& rtt = s["token_rtt"]["region"];
  char delivered[64], latency[64], token[64], pending[32];
  std::snprintf(delivered, sizeof delivered, "%llu/%llu", m["delivered"].get<unsigned long long>(),
                m["expected"].get<unsigned long long>());
  std::snprintf(latency, sizeof latency, "%.1f/%.1f ms", lat["p50_ms"].get<double>(),
                lat["p99_ms"].get<double>());
  std::snprintf(token, sizeof token, "%.1f/%.1f ms", rtt["p50_ms"].get<double>(),
                rtt["p99_ms"].get<double>());
  std::snprintf(pending, sizeof pending, "%.1f MB", s["peak_pending_ack"]["bytes"].get<double>() / 1e6);
  char line[512];
  std::snprintf(line, sizeof line, "%-36s %6d %12.0f %17s %17s %17s %12s  %s",
                s["scenario"]["name"].get<std::string>().c_str(), s["scenario"]["nodes"].get<int>(),
                s["throughput"]["msgs_per_s"]["min"].get<double>(), delivered, latency, token, pending,
                s["check"]["ok"].get<bool>() ? "OK" : "FAILED");
  return line;
}

std::vector<std::string> EnginesTable(const std::vector<json>& summaries) {
  std::vector<std::string> kinds, names;
  std::map<std::pair<std::string, std::string>, const json*> cell;  // (name, kind) -> summary
  for (const json& s : summaries) {
    const std::string kind = EngineKindOf(s);
    std::string name = s["scenario"]["name"].get<std::string>();
    if (name.size() > kind.size() + 1 && name.ends_with("-" + kind)) name.resize(name.size() - kind.size() - 1);
    if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) kinds.push_back(kind);
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    cell.try_emplace({name, kind}, &s);
  }
  if (kinds.size() < 2) return {};
  constexpr int kWidth = 40;
  std::vector<std::string> lines;
  std::string header = "run";
  header.resize(28, ' ');
  for (const std::string& k : kinds) {
    char column[64];
    std::snprintf(column, sizeof column, "%-*s", kWidth, k.c_str());
    header += column;
  }
  lines.push_back(header);
  std::string legend = "";
  legend.resize(28, ' ');
  for (size_t i = 0; i < kinds.size(); ++i) {
    char column[64];
    std::snprintf(column, sizeof column, "%-*s", kWidth, "min msgs/s  p99 ms  delivered  check");
    legend += column;
  }
  lines.push_back(legend);
  for (const std::string& name : names) {
    std::string line = name.substr(0, 27);
    line.resize(28, ' ');
    for (const std::string& k : kinds) {
      auto it = cell.find({name, k});
      char column[64];
      if (it == cell.end()) {
        std::snprintf(column, sizeof column, "%-*s", kWidth, "-");
      } else {
        const json& s = *it->second;
        const double expected = s["messages"]["expected"].get<double>();
        const double delivered = s["messages"]["delivered"].get<double>();
        std::snprintf(column, sizeof column, "%10.0f %7.1f %9.2f%%  %-6s", s["throughput"]["msgs_per_s"]["min"].get<double>(),
                      s["latency"]["p99_ms"].get<double>(), expected > 0 ? 100 * delivered / expected : 100.0,
                      s["check"]["ok"].get<bool>() ? "OK" : "FAILED");
        std::string padded = column;
        padded.resize(kWidth, ' ');
        std::snprintf(column, sizeof column, "%s", padded.c_str());
      }
      line += column;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

}  // namespace qsm::harness
