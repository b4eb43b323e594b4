// Every engine counter in one enum (as Aeron does), with one name table. The core thread is the
// only writer; any thread may read (relaxed atomics, no locks), which is how exporters take
// snapshots without touching the hot path.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace qsm {

enum class Counter : uint16_t {
  kPacketsReceived,
  kBytesReceived,
  kPacketsSent,
  kBytesSent,
  // Inbound packets dropped, by reason (qsm_packets_dropped_total{reason}).
  kDroppedMalformed,  // does not decode: truncated, bad length or field
  kDroppedChecksum,   // checksum mismatch
  kDroppedVersion,    // unknown protocol version or magic
  kPoolExhausted,     // a poll found no free receive buffer (input stays in the socket)
  kDroppedTruncated,  // datagram larger than a pool buffer
  kDroppedFault,      // dropped by an injected fault
  kSendErrors,        // the OS refused a send
  kSendWouldBlock,    // a send found the socket buffer full
  // Scheduler.
  kIoInboundControl,
  kIoInboundRecovery,
  kIoInboundData,
  kIoOutboundControl,
  kIoOutboundRecovery,
  kIoOutboundData,
  kAlarmsFired,
  kAlarmsCancelled,
  kRequestsRun,
  kSchedulerRounds,
  kTimerLatenessNanos,  // sum over fired alarms of (fire time - deadline)
  // Protocol.
  kMessagesSent,       // application messages accepted and assigned a sequence number
  kMessagesDelivered,  // delivered to the application
  kBytesDelivered,
  kDuplicatesDropped,   // data that had already arrived, or was delivered before a view change
  kDeliveryGaps,        // a group sequence number skipped at delivery (must stay 0)
  kRecoveryPush,        // forwards sent because the ring predecessor lacked them
  kRecoveryPull,        // forwards sent because a member asked for them
  kRecoveryNak,         // NAK packets sent to a sender
  kRecoveryRetransmit,  // retransmissions sent by a sender
  kRecoverySkipped,     // lazily built recovery that was no longer needed or possible
  kPullRequests,        // pull requests sent
  kTokenRounds,         // region rounds completed (region leader)
  kTokensRegenerated,   // rounds restarted after a token was lost
  kTokenHopsResent,     // token hops re-sent because no acknowledgement came
  kStaleTokens,         // tokens dropped: old round, old view, or already handled
  kWrongView,           // packets dropped for a region view this node is not in
  kTailProbes,          // sender retransmissions of its highest message after an ACK timeout
  kViewChanges,         // region views installed
  kHeldFutureView,      // packets held for a region view not installed yet (a join or change under way)
  kDroppedFutureView,   // held packets dropped: too many held, or the view never came
  kSendSuspended,       // times data to a region paused after a view that added members
  kTokenRecordsDeferred,  // sender records left out of a token that was full (carried in a later round)
  kCarriedToNewRegion,    // pending messages copied to a region new to their group (a member may have moved there)
  kMulticastJoinFailures,  // a region's multicast group could not be joined (the view is installed anyway)
  kControlQueued,   // control datagrams that waited for a full socket to drain (node/control_outbox.h)
  kControlDropped,  // ...and that were dropped because too many waited
  kRingMembersSkipped,  // partition-token hops passed over an unanswering member (it is suspected)
  kCatchUpSkipped,      // catch-up copies not delivered: this node joined the group in their view
  // Control packets from a node that may not send them (qsm_packets_dropped_total{reason="source"}):
  // an ACK not from the region leader of its view, a NAK or pull request not from a member.
  kDroppedSource,
  // Datagrams without a valid cluster-key trailer (qsm_packets_dropped_total{reason="auth"}): no
  // trailer, an unknown key id, or a bad tag (engine/transport/auth/).
  kDroppedAuth,
  // Tokens whose round is further ahead than rounds can have been started since the last one
  // (qsm_packets_dropped_total{reason="token_round"}; region/region_member.h).
  kDroppedTokenRound,
  // Recovery refused (region/region_member.h): once per pull request cut short by its requester's
  // budget for the round, and once per forward the full recovery queue did not take.
  kRecoveryRefused,
  kCount,
};

inline constexpr size_t kCounterCount = static_cast<size_t>(Counter::kCount);

// Snake-case name of a counter, e.g. "packets_received".
std::string_view CounterName(Counter c);

class Counters {
 public:
  // Core thread only.
  void Add(Counter c, uint64_t n = 1) {
    auto& slot = values_[static_cast<size_t>(c)];
    slot.store(slot.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  // Any thread.
  uint64_t Get(Counter c) const { return values_[static_cast<size_t>(c)].load(std::memory_order_relaxed); }
  std::array<uint64_t, kCounterCount> Snapshot() const;

 private:
  std::array<std::atomic<uint64_t>, kCounterCount> values_{};
};

}  // namespace qsm
