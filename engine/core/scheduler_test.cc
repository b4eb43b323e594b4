#include "engine/core/scheduler.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace qsm {
namespace {

// Records the order in which the scheduler hands it events.
class RecordingHandler : public IoHandler {
 public:
  void HandleIo(IoClass c, IoEvent& e) override {
    log.push_back(std::string(IoClassName(c)) + ":" + std::to_string(e.peer.port));
    if (on_event) on_event(c);
  }
  std::vector<std::string> log;
  std::function<void(IoClass)> on_event;
};

// An input source whose pending events appear when the test says so.
class ScriptedSource : public IoSource {
 public:
  ScriptedSource(Scheduler& s, IoHandler& h) : scheduler(s), handler(h) {}
  size_t PollInput() override {
    ++polls;
    size_t n = pending.size();
    for (auto& [c, port] : pending) scheduler.PostIo(c, IoEvent{&handler, {}, Endpoint{0, port}, {}});
    pending.clear();
    return n;
  }
  Scheduler& scheduler;
  IoHandler& handler;
  std::vector<std::pair<IoClass, uint16_t>> pending;
  int polls = 0;
};

class SchedulerTest : public ::testing::Test {
 protected:
  void Post(IoClass c, uint16_t tag) { scheduler_.PostIo(c, IoEvent{&handler_, {}, Endpoint{0, tag}, {}}); }

  VirtualClock clock_;
  Counters counters_;
  Scheduler scheduler_{clock_, counters_};
  RecordingHandler handler_;
};

TEST_F(SchedulerTest, HandlesIoHighestClassFirstFifoWithinClass) {
  Post(IoClass::kOutboundData, 1);
  Post(IoClass::kInboundData, 2);
  Post(IoClass::kInboundData, 3);
  Post(IoClass::kOutboundControl, 4);
  Post(IoClass::kInboundControl, 5);
  Post(IoClass::kInboundRecovery, 6);
  Post(IoClass::kOutboundRecovery, 7);
  EXPECT_TRUE(scheduler_.RunOnce());
  EXPECT_EQ(handler_.log, (std::vector<std::string>{"inbound_control:5", "inbound_recovery:6",
                                                    "inbound_data:2", "inbound_data:3", "outbound_control:4",
                                                    "outbound_recovery:7", "outbound_data:1"}));
  EXPECT_EQ(counters_.Get(Counter::kIoInboundData), 2u);
}

TEST_F(SchedulerTest, TokenArrivingBehindDataBurstOvertakesTheRestOfTheBurst) {
  ScriptedSource source(scheduler_, handler_);
  scheduler_.AddIoSource(&source);
  for (uint16_t i = 0; i < 200; ++i) source.pending.emplace_back(IoClass::kInboundData, i);
  // While the first batch of data is handled, a token arrives at the socket.
  handler_.on_event = [&](IoClass) {
    if (handler_.log.size() == 10) source.pending.emplace_back(IoClass::kInboundControl, 999);
  };
  scheduler_.RunOnce();
  ASSERT_EQ(handler_.log.size(), 201u);
  auto token = std::find(handler_.log.begin(), handler_.log.end(), "inbound_control:999");
  // It is handled at the next drain (one dispatch batch later), not after all 200 data packets.
  EXPECT_LE(token - handler_.log.begin(), 64 + 1);
}

TEST_F(SchedulerTest, RoundRobinRunsIoThenTimersThenRequests) {
  std::vector<std::string> order;
  handler_.on_event = [&](IoClass) { order.emplace_back("io"); };
  scheduler_.requests().Post([&] { order.emplace_back("request"); });
  scheduler_.alarms().Schedule(clock_.Now(), [&](TimePoint) { order.emplace_back("timer"); });
  Post(IoClass::kInboundData, 1);
  scheduler_.RunOnce();
  EXPECT_EQ(order, (std::vector<std::string>{"io", "timer", "request"}));
  EXPECT_FALSE(scheduler_.RunOnce());
}

// A clock that moves forward by a fixed step each time it is read, so quanta expire.
class SteppingClock : public Clock {
 public:
  explicit SteppingClock(Duration step) : step_(step) {}
  TimePoint Now() const override { return now_ += step_; }

 private:
  Duration step_;
  mutable TimePoint now_{};
};

TEST(SchedulerQuantumTest, IoQuantumBoundsTheIoPhaseSoTimersStillRun) {
  SteppingClock clock(1ms);
  Counters counters;
  Scheduler scheduler(clock, counters, SchedulerQuanta{.io = 10ms, .timers = 5ms});
  RecordingHandler handler;
  for (uint16_t i = 0; i < 5000; ++i) scheduler.PostIo(IoClass::kInboundData, IoEvent{&handler, {}, {}, {}});
  bool timer_fired = false;
  scheduler.alarms().Schedule(TimePoint{}, [&](TimePoint) { timer_fired = true; });
  scheduler.RunOnce();
  EXPECT_TRUE(timer_fired);
  EXPECT_LT(handler.log.size(), 5000u);  // the rest waits for the next round
  EXPECT_GT(scheduler.io_queue_depth(IoClass::kInboundData), 0u);
}

// Issue 15: a sender on an always-writable path kept its I/O phase busy with its own outbound
// batches for the whole 50 ms quantum, so round starts and token re-sends waited that long.
TEST_F(SchedulerTest, ADueTimerEndsTheIoPhaseOnceOnlyOutboundWorkIsLeft) {
  for (uint16_t i = 1; i <= 3; ++i) Post(IoClass::kInboundData, i);
  for (uint16_t i = 11; i <= 15; ++i) Post(IoClass::kOutboundData, i);
  std::vector<std::string> order;
  handler_.on_event = [&](IoClass) { order.push_back(handler_.log.back()); };
  scheduler_.alarms().Schedule(clock_.Now(), [&](TimePoint) { order.emplace_back("timer"); });
  scheduler_.RunOnce();
  // Every inbound event first, then one outbound batch, then the timer; the rest of the outbound
  // work waits for the next round.
  EXPECT_EQ(order, (std::vector<std::string>{"inbound_data:1", "inbound_data:2", "inbound_data:3",
                                             "outbound_data:11", "timer"}));
  EXPECT_EQ(scheduler_.io_queue_depth(IoClass::kOutboundData), 4u);
}

TEST_F(SchedulerTest, WithoutADueTimerTheIoPhaseRunsItsOutboundWorkToTheEnd) {
  for (uint16_t i = 11; i <= 15; ++i) Post(IoClass::kOutboundData, i);
  scheduler_.alarms().Schedule(clock_.Now() + 1ms, [](TimePoint) {});
  scheduler_.RunOnce();
  EXPECT_EQ(handler_.log.size(), 5u);
}

TEST_F(SchedulerTest, WakeupTimeIsNowWithPendingWorkElseNextAlarm) {
  EXPECT_EQ(scheduler_.WakeupTime(), std::nullopt);
  scheduler_.alarms().Schedule(TimePoint(7ms), [](TimePoint) {});
  EXPECT_EQ(scheduler_.WakeupTime(), TimePoint(7ms));
  scheduler_.requests().Post([] {});
  EXPECT_EQ(scheduler_.WakeupTime(), clock_.Now());
}

}  // namespace
}  // namespace qsm
