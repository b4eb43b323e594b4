#include "exporters/prometheus/node_metrics.h"

#include <algorithm>

namespace qsm::exporters {
namespace {

using Labels = std::map<std::string, std::string>;

Labels With(Labels base, const std::string& key, const std::string& value) {
  base[key] = value;
  return base;
}

}  // namespace

const std::vector<double>& NodeMetrics::Buckets() {
  static const std::vector<double> buckets = {1e-5,   2.5e-5, 5e-5, 1e-4,  2.5e-4, 5e-4, 1e-3,
                                              2.5e-3, 5e-3,   0.01, 0.025, 0.05,   0.1,  0.25,
                                              0.5,    1,      2.5,  5,     10};
  return buckets;
}

NodeMetrics::NodeMetrics(prometheus::Registry& registry, const Labels& labels) {
  auto counter = [&](const char* name, const char* help) -> prometheus::Family<prometheus::Counter>& {
    return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
  };
  auto& sent = counter("qsm_messages_sent_total", "Application messages this node sent.");
  auto& delivered = counter("qsm_messages_delivered_total", "Messages delivered to the application.");
  auto& bytes = counter("qsm_bytes_delivered_total", "Payload bytes delivered to the application.");
  auto& recovery = counter("qsm_recovery_packets_total", "Recovery packets this node sent, by kind.");
  auto& dropped = counter("qsm_packets_dropped_total", "Inbound datagrams dropped, by reason.");
  auto& views = counter("qsm_view_changes_total", "Region views installed.");
  auto& tokens = counter("qsm_token_rounds_total", "Region token rounds completed (region leader).");
  auto& skips = counter("qsm_ring_members_skipped_total",
                        "Token hops passed over a ring member that did not answer (it is suspected).");
  const std::pair<Counter, prometheus::Counter*> list[] = {
      {Counter::kMessagesSent, &sent.Add(labels)},
      {Counter::kMessagesDelivered, &delivered.Add(labels)},
      {Counter::kBytesDelivered, &bytes.Add(labels)},
      {Counter::kRecoveryPush, &recovery.Add(With(labels, "kind", "push"))},
      {Counter::kRecoveryPull, &recovery.Add(With(labels, "kind", "pull"))},
      {Counter::kRecoveryNak, &recovery.Add(With(labels, "kind", "nak"))},
      {Counter::kRecoveryRetransmit, &recovery.Add(With(labels, "kind", "retransmit"))},
      {Counter::kDroppedMalformed, &dropped.Add(With(labels, "reason", "malformed"))},
      {Counter::kDroppedChecksum, &dropped.Add(With(labels, "reason", "checksum"))},
      {Counter::kDroppedVersion, &dropped.Add(With(labels, "reason", "version"))},
      {Counter::kDroppedTruncated, &dropped.Add(With(labels, "reason", "truncated"))},
      {Counter::kDroppedFault, &dropped.Add(With(labels, "reason", "fault"))},
      {Counter::kWrongView, &dropped.Add(With(labels, "reason", "wrong_view"))},
      {Counter::kDroppedFutureView, &dropped.Add(With(labels, "reason", "future_view"))},
      {Counter::kDroppedSource, &dropped.Add(With(labels, "reason", "source"))},
      {Counter::kDroppedAuth, &dropped.Add(With(labels, "reason", "auth"))},
      {Counter::kDroppedTokenRound, &dropped.Add(With(labels, "reason", "token_round"))},
      {Counter::kDuplicatesDropped, &dropped.Add(With(labels, "reason", "duplicate"))},
      {Counter::kViewChanges, &views.Add(labels)},
      {Counter::kTokenRounds, &tokens.Add(labels)},
      {Counter::kRingMembersSkipped, &skips.Add(labels)},
  };
  counters_.assign(std::begin(list), std::end(list));
  last_counters_.assign(counters_.size(), 0);

  auto gauge = [&](const char* name, const char* help) -> prometheus::Family<prometheus::Gauge>& {
    return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
  };
  pending_messages_ =
      &gauge("qsm_pending_ack_messages", "Messages this sender holds until every member ACKs them.")
           .Add(labels);
  pending_bytes_ = &gauge("qsm_pending_ack_bytes", "Payload bytes of the pending-ACK messages.").Add(labels);
  cache_bytes_ = &gauge("qsm_cache_bytes", "Bytes this node caches for its peers' recovery.").Add(labels);
  regions_ = &gauge("qsm_regions", "Regions this node is a member of.").Add(labels);
  groups_ = &gauge("qsm_groups", "Groups this node has joined.").Add(labels);
  auto& queues = gauge("qsm_core_queue_depth", "Events waiting in the core thread's queues.");
  for (size_t c = 0; c < kIoClassCount; ++c) {
    queue_depths_.push_back(
        &queues.Add(With(labels, "queue", std::string(IoClassName(static_cast<IoClass>(c))))));
  }
  queue_depths_.push_back(&queues.Add(With(labels, "queue", "alarms")));

  auto histogram = [&](const char* name, const char* help) -> prometheus::Family<prometheus::Histogram>& {
    return prometheus::BuildHistogram().Name(name).Help(help).Register(registry);
  };
  auto& rtt = histogram("qsm_token_rtt_seconds", "Token round times at ring leaders, by level.");
  partition_rtt_.metric = &rtt.Add(With(labels, "level", "partition"), Buckets());
  region_rtt_.metric = &rtt.Add(With(labels, "level", "region"), Buckets());
  latency_.metric =
      &histogram("qsm_delivery_latency_seconds", "Delivery latency from the intended send time.")
           .Add(labels, Buckets());
  timer_lateness_.metric =
      &histogram("qsm_timer_lateness_seconds", "How late the core thread ran its timers.")
           .Add(labels, Buckets());
}

void NodeMetrics::Feed(Histo& h, const Histogram& now) {
  const Histogram delta = now.Since(h.last);
  h.last = now;
  if (delta.count() == 0) return;
  const std::vector<double>& bounds = Buckets();
  std::vector<double> increments(bounds.size() + 1, 0.0);  // the last is +Inf
  for (size_t b = 0; b < Histogram::kBuckets; ++b) {
    const uint64_t n = delta.bucket_count(b);
    if (n == 0) continue;
    // A bucket's values lie in [low, high]; its middle picks the Prometheus bucket (within 3%).
    const double seconds =
        (static_cast<double>(Histogram::BucketLow(b)) + static_cast<double>(Histogram::BucketHigh(b))) / 2e9;
    const size_t at = std::lower_bound(bounds.begin(), bounds.end(), seconds) - bounds.begin();
    increments[at] += static_cast<double>(n);
  }
  h.metric->ObserveMultiple(increments, static_cast<double>(delta.sum()) / 1e9);
}

void NodeMetrics::Update(const NodeStats& s) {
  for (size_t i = 0; i < counters_.size(); ++i) {
    const uint64_t now = s.counter(counters_[i].first);
    if (now > last_counters_[i]) counters_[i].second->Increment(static_cast<double>(now - last_counters_[i]));
    last_counters_[i] = now;
  }
  pending_messages_->Set(static_cast<double>(s.pending_messages));
  pending_bytes_->Set(static_cast<double>(s.pending_bytes));
  cache_bytes_->Set(static_cast<double>(s.cache_bytes));
  regions_->Set(static_cast<double>(s.regions));
  groups_->Set(static_cast<double>(s.groups_joined));
  for (size_t c = 0; c < kIoClassCount; ++c) queue_depths_[c]->Set(static_cast<double>(s.io_queue_depths[c]));
  queue_depths_.back()->Set(static_cast<double>(s.alarms_pending));
  Feed(partition_rtt_, s.partition_rtt_ns);
  Feed(region_rtt_, s.region_rtt_ns);
  Feed(latency_, s.delivery_latency_ns);
  Feed(timer_lateness_, s.timer_lateness_ns);
}

}  // namespace qsm::exporters
