#include "harness/workload/node_result.h"

#include <cmath>

#include "harness/workload/text.h"
#include "harness/workload/json_fields.h"

namespace qsm::harness {
namespace {

using nlohmann::json;

json HistogramToJson(const Histogram& h) {
  json buckets = json::array();
  for (size_t i = 0; i < Histogram::kBuckets; ++i) {
    if (h.bucket_count(i) > 0) buckets.push_back({i, h.bucket_count(i)});
  }
  return {{"count", h.count()}, {"sum", h.sum()}, {"min", h.min()}, {"max", h.max()}, {"buckets", buckets}};
}

Status ReadHistogram(const JsonFields& f, const char* key, Histogram& out) {
  const json* j = f.Find(key);
  if (j == nullptr) return {};
  if (!j->is_object()) return std::unexpected(f.Fail(std::string("'") + key + "' must be an object"));
  const JsonFields hf(*j, "node result: '" + std::string(key) + "'");
  uint64_t sum = 0, min = 0, max = 0;
  std::vector<std::pair<size_t, uint64_t>> buckets;
  for (Status s :
       {hf.Read("sum", sum), hf.Read("min", min), hf.Read("max", max), hf.Read("buckets", buckets)}) {
    if (!s) return s;
  }
  if (!out.Restore(buckets, sum, min, max)) return std::unexpected(hf.Fail("bucket index out of range"));
  return {};
}

}  // namespace

uint64_t NodeResult::delivered_total() const {
  uint64_t n = 0;
  for (const auto& [key, stream] : delivered) n += stream.seqs.count();
  return n;
}

uint64_t NodeResult::sent_total() const {
  uint64_t n = 0;
  for (const auto& [group, count] : sent) n += count;
  return n;
}

std::string ResultToJson(const NodeResult& r) {
  json sent = json::array();
  for (const auto& [group, count] : r.sent) sent.push_back({{"group", group}, {"count", count}});
  json delivered = json::array();
  for (const auto& [key, d] : r.delivered) {
    json ranges = json::array();
    for (const auto& [lo, hi] : d.seqs.ranges()) ranges.push_back({lo, hi});
    delivered.push_back({{"sender", key.first},
                         {"group", key.second},
                         {"count", d.seqs.count()},
                         {"ranges", ranges},
                         {"duplicates", d.duplicates},
                         {"out_of_order", d.out_of_order}});
  }
  const json j = {{"format", "qsm-node-result/1"},
                  {"node_id", r.node_id},
                  {"end", r.end},
                  {"elapsed_s", r.elapsed_s},
                  {"first_delivery_s", r.first_delivery_s},
                  {"last_delivery_s", r.last_delivery_s},
                  {"load_start_s", r.load_start_s},
                  {"absent_at_load_start", r.absent_at_load_start},
                  {"sent", sent},
                  {"delivered", delivered},
                  {"latency_ns", HistogramToJson(r.latency_ns)},
                  {"partition_token_rtt_ns", HistogramToJson(r.partition_rtt_ns)},
                  {"region_token_rtt_ns", HistogramToJson(r.region_rtt_ns)},
                  {"timer_lateness_ns", HistogramToJson(r.timer_lateness_ns)},
                  {"peak_pending_messages", r.peak_pending_messages},
                  {"peak_pending_bytes", r.peak_pending_bytes},
                  {"peak_cache_bytes", r.peak_cache_bytes},
                  {"cpu_seconds", r.cpu_seconds},
                  {"max_rss_bytes", r.max_rss_bytes},
                  {"counters", r.counters},
                  {"build", r.build}};
  return j.dump(1);
}

Result<NodeResult> ResultFromJson(const std::string& text) {
  auto parsed = ParseJsonObject(text, "node result");
  if (!parsed) return std::unexpected(parsed.error());
  const JsonFields f(*parsed, "node result");
  NodeResult r;
  std::string format;
  for (Status s :
       {f.Read("format", format), f.Read("node_id", r.node_id), f.Read("end", r.end),
        f.Read("elapsed_s", r.elapsed_s), f.Read("first_delivery_s", r.first_delivery_s, false),
        f.Read("last_delivery_s", r.last_delivery_s, false), f.Read("load_start_s", r.load_start_s, false),
        f.Read("absent_at_load_start", r.absent_at_load_start, false),
        f.Read("peak_pending_messages", r.peak_pending_messages),
        f.Read("peak_pending_bytes", r.peak_pending_bytes), f.Read("peak_cache_bytes", r.peak_cache_bytes),
        f.Read("cpu_seconds", r.cpu_seconds, false), f.Read("max_rss_bytes", r.max_rss_bytes, false),
        ReadHistogram(f, "timer_lateness_ns", r.timer_lateness_ns), f.Read("counters", r.counters, false),
        f.Read("build", r.build, false),
        ReadHistogram(f, "latency_ns", r.latency_ns),
        ReadHistogram(f, "partition_token_rtt_ns", r.partition_rtt_ns),
        ReadHistogram(f, "region_token_rtt_ns", r.region_rtt_ns)}) {
    if (!s) return std::unexpected(s.error());
  }
  if (format != "qsm-node-result/1") return std::unexpected(f.Fail("unknown format '" + format + "'"));
  const json* sent = f.Find("sent");
  const json* delivered = f.Find("delivered");
  if (sent == nullptr || !sent->is_array()) return std::unexpected(f.Fail("'sent' must be a list"));
  if (delivered == nullptr || !delivered->is_array())
    return std::unexpected(f.Fail("'delivered' must be a list"));
  for (const json& e : *sent) {
    if (!e.is_object()) return std::unexpected(f.Fail("'sent': entries must be objects"));
    const JsonFields ef(e, "node result: 'sent'");
    uint32_t group = 0;
    uint64_t count = 0;
    for (Status s : {ef.Read("group", group), ef.Read("count", count)}) {
      if (!s) return std::unexpected(s.error());
    }
    r.sent[group] = count;
  }
  for (const json& e : *delivered) {
    if (!e.is_object()) return std::unexpected(f.Fail("'delivered': entries must be objects"));
    const JsonFields ef(e, "node result: 'delivered'");
    uint32_t sender = 0, group = 0;
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    StreamDeliveries d;
    for (Status s : {ef.Read("sender", sender), ef.Read("group", group), ef.Read("ranges", ranges),
                     ef.Read("duplicates", d.duplicates), ef.Read("out_of_order", d.out_of_order)}) {
      if (!s) return std::unexpected(s.error());
    }
    for (const auto& [lo, hi] : ranges) {
      if (lo == 0 || hi < lo || !d.seqs.InsertRange(lo, hi)) {
        return std::unexpected(ef.Fail("ranges must be disjoint [lo, hi] with 1 <= lo <= hi"));
      }
    }
    d.last = d.seqs.max();
    r.delivered[{sender, group}] = std::move(d);
  }
  return r;
}

Result<NodeResult> ReadResultFile(const std::string& path) {
  auto text = ReadFile(path);
  if (!text) return std::unexpected(text.error());
  auto result = ResultFromJson(*text);
  if (!result) return MakeError(ErrorCode::kInvalidArgument, path + ": " + result.error().message);
  return result;
}

std::string TickToJson(const Tick& t) {
  const json j = {{"tick", t.t_s},
                  {"node_id", t.node_id},
                  {"sent", t.sent},
                  {"delivered", t.delivered},
                  {"pending_messages", t.pending_messages},
                  {"pending_bytes", t.pending_bytes},
                  {"cache_bytes", t.cache_bytes},
                  {"token_rtt_p50_ms", t.token_rtt_p50_ms},
                  {"token_rtt_p99_ms", t.token_rtt_p99_ms},
                  {"latency_p50_ms", t.latency_p50_ms},
                  {"latency_p99_ms", t.latency_p99_ms},
                  {"sending", t.sending},
                  {"idle", t.idle}};
  return j.dump();
}

Result<Tick> TickFromJson(const std::string& line) {
  auto parsed = ParseJsonObject(line, "tick");
  if (!parsed) return std::unexpected(parsed.error());
  const JsonFields f(*parsed, "tick");
  Tick t;
  for (Status s :
       {f.Read("tick", t.t_s), f.Read("node_id", t.node_id), f.Read("sent", t.sent),
        f.Read("delivered", t.delivered), f.Read("pending_messages", t.pending_messages),
        f.Read("pending_bytes", t.pending_bytes), f.Read("cache_bytes", t.cache_bytes),
        f.Read("token_rtt_p50_ms", t.token_rtt_p50_ms), f.Read("token_rtt_p99_ms", t.token_rtt_p99_ms),
        f.Read("latency_p50_ms", t.latency_p50_ms), f.Read("latency_p99_ms", t.latency_p99_ms),
        f.Read("sending", t.sending), f.Read("idle", t.idle)}) {
    if (!s) return std::unexpected(s.error());
  }
  return t;
}

}  // namespace qsm::harness
