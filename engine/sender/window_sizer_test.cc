#include "engine/sender/window_sizer.h"

#include <gtest/gtest.h>

namespace qsm {
namespace {

constexpr TimePoint kT0 = TimePoint(1s);

TEST(WindowSizerTest, startsAtMinBytes) {
  WindowSizer sizer({.min_bytes = 1000, .max_bytes = 100'000});
  EXPECT_EQ(sizer.limit_bytes(), 1000u);
}

// A steady path: 1 message of 100 B transmitted every 0.1 ms (1 MB/s), each acknowledged 5 ms
// later, ACKs every millisecond. BDP = 1 MB/s x 5 ms = 5,000 B; the limit is twice that.
TEST(WindowSizerTest, settlesAtGainTimesRateTimesAckDelay) {
  WindowSizer sizer({.min_bytes = 1000, .max_bytes = 100'000, .gain = 2});
  uint64_t seq = 0;
  for (int us = 0; us <= 500'000; us += 100) {
    const TimePoint now = kT0 + std::chrono::microseconds(us);
    sizer.OnTransmit(++seq, now);
    if (us % 1000 == 0 && seq > 50) sizer.OnRelease(seq - 50, 1000, now);  // 10 messages per ms, 5 ms late
  }
  EXPECT_NEAR(sizer.max_rate_bytes_per_s(), 1e6, 1e4);
  EXPECT_EQ(sizer.max_ack_delay(), 5ms);
  EXPECT_NEAR(static_cast<double>(sizer.limit_bytes()), 10'000, 200);
}

TEST(WindowSizerTest, isClampedToMaxBytes) {
  WindowSizer sizer({.min_bytes = 1000, .max_bytes = 4000, .gain = 2});
  sizer.OnTransmit(1, kT0);
  sizer.OnRelease(1, 100, kT0 + 100ms);
  sizer.OnTransmit(2, kT0 + 100ms);
  sizer.OnRelease(2, 1'000'000, kT0 + 200ms);  // 10 MB/s x 100 ms
  EXPECT_EQ(sizer.limit_bytes(), 4000u);
}

// A stall (a member asleep 500 ms: one ACK after a long pause) is covered: for the span after it
// the window holds what the sender sends in such a wait, so a sleep does not stall the sender
// sooner than the fixed window did; then the estimate follows the recent samples again.
TEST(WindowSizerTest, coversAStallForTheSpanAfterIt) {
  WindowSizer sizer({.min_bytes = 1000, .max_bytes = 100'000'000, .gain = 2, .span = 2s});
  uint64_t seq = 0;
  TimePoint now = kT0;
  auto steady = [&](int ms_count) {
    for (int ms = 0; ms < ms_count; ++ms) {
      now += 1ms;
      for (int i = 0; i < 10; ++i) sizer.OnTransmit(++seq, now);  // sampled once per ms
      if (seq > 50) sizer.OnRelease(seq - 50, 10 * 100, now);      // 1 MB/s, about 5 ms late
    }
  };
  steady(100);
  const size_t before = sizer.limit_bytes();
  EXPECT_NEAR(static_cast<double>(before), 2 * 1e6 * 0.006, 2'000);
  now += 500ms;  // asleep: the next ACK releases what waited 500 ms
  sizer.OnRelease(seq, 50 * 100, now);
  EXPECT_GT(sizer.max_ack_delay(), 500ms);
  EXPECT_GT(sizer.limit_bytes(), 2 * 1e6 * 0.5 * 0.9);
  steady(2100);  // the span passes
  EXPECT_EQ(sizer.limit_bytes(), before);
}

// After a stall, an ACK 10 ms after the previous one releases what was sent over 100 ms: the rate
// is 1 MB/s, not 100 KB over 10 ms.
TEST(WindowSizerTest, measuresTheRateOverTheTimeTheReleasedBytesWereSentIn) {
  WindowSizer sizer({.min_bytes = 1000, .max_bytes = 100'000'000, .gain = 2});
  for (int ms = 0; ms <= 100; ++ms) sizer.OnTransmit(1 + ms, kT0 + std::chrono::milliseconds(ms));
  sizer.OnRelease(1, 1000, kT0 + 580ms);  // a member slept until 580 ms
  sizer.OnRelease(2, 1000, kT0 + 590ms);
  sizer.OnRelease(101, 99'000, kT0 + 600ms);
  EXPECT_NEAR(sizer.max_rate_bytes_per_s(), 1e6, 1e5);
}

TEST(WindowSizerTest, restartKeepsTheEstimateButNotTheSeqSamples) {
  WindowSizer sizer({.min_bytes = 1000, .max_bytes = 100'000});
  sizer.OnTransmit(1, kT0);
  sizer.OnRelease(1, 100, kT0 + 10ms);
  sizer.OnTransmit(2, kT0 + 10ms);
  sizer.OnRelease(2, 100'000, kT0 + 60ms);
  const size_t limit = sizer.limit_bytes();
  EXPECT_GT(limit, 1000u);
  sizer.Restart();
  EXPECT_EQ(sizer.limit_bytes(), limit);
  sizer.OnRelease(5, 100, kT0 + 70ms);  // a new view's seq 5: no transmit sample, no delay sample
  EXPECT_EQ(sizer.max_ack_delay(), 50ms);
}

}  // namespace
}  // namespace qsm
