#include "engine/core/counters.h"

namespace qsm {

std::string_view CounterName(Counter c) {
  static constexpr std::array<std::string_view, kCounterCount> kNames = {
      "packets_received",     "bytes_received",      "packets_sent",         "bytes_sent",
      "dropped_malformed",    "dropped_checksum",    "dropped_version",      "pool_exhausted",
      "dropped_truncated",    "dropped_fault",       "send_errors",          "send_would_block",
      "io_inbound_control",   "io_inbound_recovery", "io_inbound_data",      "io_outbound_control",
      "io_outbound_recovery", "io_outbound_data",    "alarms_fired",         "alarms_cancelled",
      "requests_run",         "scheduler_rounds",    "timer_lateness_nanos", "messages_sent",
      "messages_delivered",   "bytes_delivered",     "duplicates_dropped",   "delivery_gaps",
      "recovery_push",        "recovery_pull",       "recovery_nak",         "recovery_retransmit",
      "recovery_skipped",     "pull_requests",       "token_rounds",         "tokens_regenerated",
      "token_hops_resent",    "stale_tokens",        "wrong_view",           "tail_probes",
      "view_changes",         "held_future_view",    "dropped_future_view",  "send_suspended",
      "token_records_deferred", "carried_to_new_region", "multicast_join_failures",
      "control_queued",       "control_dropped",     "ring_members_skipped", "catch_up_skipped",
      "dropped_source",
      "dropped_auth",
      "dropped_token_round",
      "recovery_refused",
  };
  return kNames[static_cast<size_t>(c)];
}

std::array<uint64_t, kCounterCount> Counters::Snapshot() const {
  std::array<uint64_t, kCounterCount> out{};
  for (size_t i = 0; i < kCounterCount; ++i) out[i] = values_[i].load(std::memory_order_relaxed);
  return out;
}

}  // namespace qsm
