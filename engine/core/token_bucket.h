// A token bucket rate limiter on a Clock's time: `rate` tokens per second, at most `burst` saved.
// Rate 0 means unlimited. Threading: one owner.
#pragma once

#include <algorithm>

#include "engine/core/time.h"

namespace qsm {

class TokenBucket {
 public:
  TokenBucket(double rate, double burst) : rate_(rate), burst_(std::max(burst, 1.0)), tokens_(burst_) {}

  void set_rate(double rate) { rate_ = rate; }
  double rate() const { return rate_; }

  // Takes one token if there is one.
  bool Take(TimePoint now) {
    if (rate_ <= 0) return true;
    Refill(now);
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }
  // When `n` tokens (at most the burst) will be there: waking for a batch rather than for every
  // token keeps a paced sender from paying one timer per message.
  TimePoint NextAvailable(TimePoint now, double n = 1) {
    if (rate_ <= 0) return now;
    Refill(now);
    n = std::min(n, burst_);
    if (tokens_ >= n) return now;
    return now + Duration(static_cast<int64_t>((n - tokens_) / rate_ * 1e9) + 1);
  }

 private:
  void Refill(TimePoint now) {
    if (last_ != TimePoint{}) tokens_ = std::min(burst_, tokens_ + ToSeconds(now - last_) * rate_);
    last_ = now;
  }

  double rate_;
  double burst_;
  double tokens_;
  TimePoint last_{};
};

}  // namespace qsm
