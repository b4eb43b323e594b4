#include "engine/sender/window_sizer.h"

#include <algorithm>
#include <optional>

namespace qsm {
namespace {

constexpr Duration kTransmitSampleEvery = 1ms;
constexpr size_t kMaxTransmitSamples = 8192;
constexpr Duration kMinRateInterval = 10ms;

}  // namespace

void WindowSizer::OnTransmit(uint64_t seq, TimePoint now) {
  if (!transmitted_.empty() && (seq <= transmitted_.back().first || now - transmitted_.back().second < kTransmitSampleEvery)) {
    return;
  }
  if (transmitted_.size() >= kMaxTransmitSamples) transmitted_.pop_front();
  transmitted_.emplace_back(seq, now);
}

void WindowSizer::OnRelease(uint64_t stable, size_t bytes, TimePoint now) {
  // The oldest message this ACK releases waited longest: every message sent in one ACK interval
  // stays in the window that long, so that (not the newest's wait, about one token round) is
  // what the window must cover.
  std::optional<TimePoint> oldest_sent;
  std::optional<TimePoint> newest_sent;
  while (!transmitted_.empty() && transmitted_.front().first <= stable) {
    if (!oldest_sent) oldest_sent = transmitted_.front().second;
    newest_sent = transmitted_.front().second;
    transmitted_.pop_front();
  }
  if (oldest_sent) Push(delays_, {now, static_cast<double>((now - *oldest_sent).count())}, config_.span, /*keep_max=*/true);
  if (rate_since_ == TimePoint{}) {  // the first ACK starts the first interval
    rate_since_ = now;
    sent_since_ = newest_sent.value_or(now);
    return;
  }
  bytes_since_ += bytes;
  const Duration acked_over = now - rate_since_;
  if (acked_over < kMinRateInterval) return;
  // Bytes released at once after a stall were sent over a longer time: the rate is over whichever
  // interval is longer, as BBR's delivery rate is (so a stall never looks like a fast path).
  const Duration sent_over = newest_sent ? *newest_sent - sent_since_ : Duration::zero();
  const Duration interval = std::max(acked_over, sent_over);
  Push(rates_, {now, static_cast<double>(bytes_since_) / ToSeconds(interval)}, config_.span, /*keep_max=*/true);
  rate_since_ = now;
  if (newest_sent) sent_since_ = *newest_sent;
  bytes_since_ = 0;
}

void WindowSizer::Restart() {
  transmitted_.clear();
  rate_since_ = {};
  bytes_since_ = 0;
}

size_t WindowSizer::limit_bytes() const {
  const double bdp = max_rate_bytes_per_s() * ToSeconds(max_ack_delay());
  const double limit = std::clamp(config_.gain * bdp, static_cast<double>(config_.min_bytes),
                                  static_cast<double>(std::max(config_.min_bytes, config_.max_bytes)));
  return static_cast<size_t>(limit);
}

void WindowSizer::Push(std::deque<Sample>& filter, Sample s, Duration span, bool keep_max) {
  while (!filter.empty() && (keep_max ? filter.back().value <= s.value : filter.back().value >= s.value)) {
    filter.pop_back();
  }
  filter.push_back(s);
  while (s.at - filter.front().at > span) filter.pop_front();
}

}  // namespace qsm
