#include "exporters/prometheus/gms_metrics.h"

#include <set>

namespace qsm::exporters {

GmsMetrics::GmsMetrics(prometheus::Registry& registry) {
  auto gauge = [&](const char* name, const char* help) {
    return &prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
  };
  nodes_ = gauge("qsm_gms_nodes", "Nodes registered and alive.");
  regions_ = gauge("qsm_gms_regions", "Regions (sets of nodes with equal groups).");
  groups_ = gauge("qsm_gms_groups", "Groups with at least one member.");
  epoch_ = gauge("qsm_gms_epoch", "Commits of membership changes since the cluster began.");
  auto counter = [&](const char* name, const char* help, uint64_t membership::GmsStats::*field) {
    counters_.push_back(
        {&prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({}), field});
  };
  using S = membership::GmsStats;
  counter("qsm_gms_commits_total", "Batches of membership changes committed.", &S::commits);
  counter("qsm_gms_registrations_total", "Nodes that registered (new, or a new incarnation).",
          &S::registrations);
  counter("qsm_gms_group_changes_total", "Group-set changes of registered nodes.", &S::group_changes);
  counter("qsm_gms_failures_total", "Nodes removed by the failure detector.", &S::failures);
  counter("qsm_gms_departures_total", "Nodes that left the cluster.", &S::departures);
  counter("qsm_gms_view_updates_sent_total", "View update datagrams sent.", &S::updates_sent);
  counter("qsm_gms_snapshots_sent_total", "Full snapshots sent to repair a node that missed updates.",
          &S::snapshots_sent);
  counter("qsm_gms_state_save_errors_total", "Commits whose state could not be saved.", &S::save_errors);
  auto& dropped = prometheus::BuildCounter()
                      .Name("qsm_gms_packets_dropped_total")
                      .Help("Inbound datagrams the GMS dropped, by reason.")
                      .Register(registry);
  for (const auto& [c, reason] : {std::pair{Counter::kDroppedMalformed, "malformed"},
                                  std::pair{Counter::kDroppedChecksum, "checksum"},
                                  std::pair{Counter::kDroppedVersion, "version"},
                                  std::pair{Counter::kDroppedTruncated, "truncated"},
                                  std::pair{Counter::kDroppedAuth, "auth"}}) {
    dropped_.push_back({&dropped.Add({{"reason", reason}}), c});
  }
}

void GmsMetrics::Update(const membership::Gms& gms, const Counters& counters) {
  const membership::Membership& m = gms.membership();
  nodes_->Set(static_cast<double>(m.nodes().size()));
  size_t live = 0;
  std::set<wire::GroupId> groups;
  for (const auto& [id, r] : m.regions()) {
    if (r.members.empty()) continue;
    ++live;
    groups.insert(r.signature.begin(), r.signature.end());
  }
  regions_->Set(static_cast<double>(live));
  groups_->Set(static_cast<double>(groups.size()));
  epoch_->Set(static_cast<double>(gms.epoch()));
  for (Followed& f : counters_) {
    const uint64_t now = gms.stats().*f.field;
    if (now > f.last) f.metric->Increment(static_cast<double>(now - f.last));
    f.last = now;
  }
  for (Dropped& d : dropped_) {
    const uint64_t now = counters.Get(d.counter);
    if (now > d.last) d.metric->Increment(static_cast<double>(now - d.last));
    d.last = now;
  }
}

}  // namespace qsm::exporters
