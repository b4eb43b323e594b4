// Scheduler costs: dispatch of one I/O event, an alarm schedule+fire, a cancel, and a request post
// from one and from several threads.
#include <benchmark/benchmark.h>

#include <atomic>
#include <thread>

#include "engine/core/scheduler.h"

namespace qsm {
namespace {

class NullHandler : public IoHandler {
 public:
  void HandleIo(IoClass, IoEvent&) override { benchmark::DoNotOptimize(++handled); }
  uint64_t handled = 0;
};

void BM_IoDispatchPerEvent(benchmark::State& state) {
  RealClock clock;
  Counters counters;
  Scheduler scheduler(clock, counters);
  NullHandler handler;
  const auto batch = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    for (size_t i = 0; i < batch; ++i) {
      scheduler.PostIo(static_cast<IoClass>(i % kIoClassCount), IoEvent{&handler, {}, {}, {}});
    }
    scheduler.RunOnce();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
}
BENCHMARK(BM_IoDispatchPerEvent)->Arg(1)->Arg(64)->Arg(1024);

void BM_AlarmScheduleAndFire(benchmark::State& state) {
  VirtualClock clock;
  AlarmQueue alarms;
  uint64_t fired = 0;
  const auto n = static_cast<size_t>(state.range(0));  // alarms pending at once
  for (auto _ : state) {
    for (size_t i = 0; i < n; ++i) {
      alarms.Schedule(clock.Now() + Duration((i * 7919) % 1000), [&fired](TimePoint) { ++fired; });
    }
    clock.Advance(1us);
    alarms.FireDue(clock, 1h);
  }
  benchmark::DoNotOptimize(fired);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_AlarmScheduleAndFire)->Arg(16)->Arg(4096);

void BM_AlarmScheduleAndCancel(benchmark::State& state) {
  AlarmQueue alarms;
  TimePoint t{};
  for (auto _ : state) {
    AlarmId id = alarms.Schedule(t + 1s, [](TimePoint) {});
    alarms.Cancel(id);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_AlarmScheduleAndCancel);

// Cost per Post() as seen by the posting thread(s); the core thread drains concurrently.
void BM_RequestQueuePost(benchmark::State& state) {
  static RequestQueue* queue = nullptr;
  static std::atomic<bool> stop{false};
  static std::thread consumer;
  if (state.thread_index() == 0) {
    queue = new RequestQueue();
    stop = false;
    consumer = std::thread([] {
      while (!stop.load(std::memory_order_relaxed)) queue->RunAll();
      queue->RunAll();
    });
  }
  for (auto _ : state) queue->Post([] { benchmark::ClobberMemory(); });
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  if (state.thread_index() == 0) {
    stop = true;
    consumer.join();
    delete queue;
  }
}
BENCHMARK(BM_RequestQueuePost)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace qsm

BENCHMARK_MAIN();
