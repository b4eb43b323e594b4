#include "engine/core/alarm_queue.h"

#include <gtest/gtest.h>

#include <vector>

namespace qsm {
namespace {

class AlarmQueueTest : public ::testing::Test {
 protected:
  AlarmId At(Duration offset, int tag) {
    return alarms_.Schedule(TimePoint(offset), [this, tag](TimePoint) { fired_.push_back(tag); });
  }
  size_t AdvanceTo(Duration t) {
    clock_.AdvanceTo(TimePoint(t));
    return alarms_.FireDue(clock_, 5ms);
  }

  VirtualClock clock_;
  Counters counters_;
  AlarmQueue alarms_{&counters_};
  std::vector<int> fired_;
};

TEST_F(AlarmQueueTest, FiresInDeadlineOrderAndFifoAmongEqualDeadlines) {
  At(30ms, 3);
  At(10ms, 1);
  At(20ms, 21);
  At(20ms, 22);
  EXPECT_EQ(AdvanceTo(25ms), 3u);
  EXPECT_EQ(fired_, (std::vector<int>{1, 21, 22}));
  EXPECT_EQ(AdvanceTo(30ms), 1u);
  EXPECT_EQ(alarms_.size(), 0u);
}

TEST_F(AlarmQueueTest, DoesNotFireBeforeDeadline) {
  At(10ms, 1);
  EXPECT_EQ(AdvanceTo(9ms), 0u);
  EXPECT_EQ(alarms_.NextDeadline(), TimePoint(10ms));
}

TEST_F(AlarmQueueTest, CancelledAlarmNeverFires) {
  AlarmId a = At(10ms, 1);
  At(10ms, 2);
  EXPECT_TRUE(alarms_.Cancel(a));
  EXPECT_FALSE(alarms_.Cancel(a));
  AdvanceTo(10ms);
  EXPECT_EQ(fired_, (std::vector<int>{2}));
  EXPECT_EQ(counters_.Get(Counter::kAlarmsCancelled), 1u);
}

TEST_F(AlarmQueueTest, StaleIdCannotCancelTheSlotsNextAlarm) {
  AlarmId a = At(10ms, 1);
  AdvanceTo(10ms);
  AlarmId b = At(20ms, 2);  // reuses a's slot
  EXPECT_EQ(a.slot, b.slot);
  EXPECT_FALSE(alarms_.Cancel(a));
  EXPECT_TRUE(alarms_.IsPending(b));
  AdvanceTo(20ms);
  EXPECT_EQ(fired_, (std::vector<int>{1, 2}));
}

TEST_F(AlarmQueueTest, AlarmScheduledByCallbackWaitsForNextRound) {
  alarms_.Schedule(TimePoint(10ms), [this](TimePoint now) {
    fired_.push_back(1);
    alarms_.Schedule(now, [this](TimePoint) { fired_.push_back(2); });
  });
  EXPECT_EQ(AdvanceTo(10ms), 1u);
  EXPECT_EQ(alarms_.FireDue(clock_, 5ms), 1u);
  EXPECT_EQ(fired_, (std::vector<int>{1, 2}));
}

TEST_F(AlarmQueueTest, ManyCancellationsKeepHeapBounded) {
  for (int i = 0; i < 100000; ++i) alarms_.Cancel(At(1s, i));
  EXPECT_EQ(alarms_.size(), 0u);
  EXPECT_EQ(alarms_.NextDeadline(), std::nullopt);
  AdvanceTo(2s);
  EXPECT_TRUE(fired_.empty());
}

TEST_F(AlarmQueueTest, RecordsLateness) {
  At(10ms, 1);
  AdvanceTo(13ms);
  EXPECT_EQ(counters_.Get(Counter::kTimerLatenessNanos), 3'000'000u);
}

}  // namespace
}  // namespace qsm
