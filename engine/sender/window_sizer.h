// WindowSizer: the adaptive size of one sender's pending-ACK window in bytes (issue 15), from the
// bandwidth-delay product of the path from transmission to acknowledgement:
//   limit = clamp(gain x max delivery rate x max ACK delay, min_bytes, max_bytes)
// where the delivery rate is payload bytes released by ACKs per second (over the time between the
// ACKs or, if longer, between the transmissions of what they released, as BBR measures it), and
// the ACK delay is the time from the first transmission of the oldest message an ACK releases to
// that ACK (what every message sent in one ACK interval spends in the window), each the highest
// of the last `span`. The delay's max, not its min as in BBR: here extra delay is not a queue the
// window builds but repair (a lossy member's prefix lags) or a member that does not answer, and
// the window must cover it or the sender stalls (a min-filtered window held a 50,000 msgs/s
// sender with one 10%-lossy receiver to 0.89 of its rate, latency p99 3.5 s, in simulation).
// Why: a fixed message count is either too small for a fast path (the sender waits on the ACK
// clock) or, at full speed, a queue of that many messages waiting at the sender (memory and
// latency). With adaptive rounds the ACK delay is about one round period plus one token round,
// so the limit settles near gain x (pending_target + rate x token RTT) messages.
// Threading: core thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

#include "engine/core/time.h"

namespace qsm {

class WindowSizer {
 public:
  struct Config {
    size_t min_bytes = 1 << 20;
    size_t max_bytes = 64 << 20;
    double gain = 2;
    Duration span = 2s;
  };
  explicit WindowSizer(Config config) : config_(config) {}

  // Message `seq` was transmitted for the first time at `now` (seqs ascending). Kept as a sample
  // at most once per millisecond.
  void OnTransmit(uint64_t seq, TimePoint now);
  // An ACK released `bytes` of payload, every message up to `stable`, at `now`.
  void OnRelease(uint64_t stable, size_t bytes, TimePoint now);
  // The sequence numbers start again (a new region view): keeps the estimate, drops the samples.
  void Restart();

  size_t limit_bytes() const;
  // The current estimate's parts (0 before the first sample), for tests and stats.
  double max_rate_bytes_per_s() const { return rates_.empty() ? 0 : rates_.front().value; }
  Duration max_ack_delay() const { return delays_.empty() ? Duration::zero() : Duration(static_cast<Duration::rep>(delays_.front().value)); }

 private:
  // A windowed max (or min) filter: the extreme of the samples of the last `span`.
  struct Sample {
    TimePoint at;
    double value;
  };
  static void Push(std::deque<Sample>& filter, Sample s, Duration span, bool keep_max);

  Config config_;
  std::deque<std::pair<uint64_t, TimePoint>> transmitted_;  // (seq, first transmission), ascending
  std::deque<Sample> rates_;                                // values descending: front is the max
  std::deque<Sample> delays_;                               // in ns, descending: front is the max
  TimePoint rate_since_{};  // when the current rate interval began (an ACK)...
  TimePoint sent_since_{};  // ...and when the newest message released then was sent
  size_t bytes_since_ = 0;
};

}  // namespace qsm
