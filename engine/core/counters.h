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
