#include "engine/core/request_queue.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace qsm {
namespace {

class CountingWaker : public Waker {
 public:
  void Wake() override { wakes.fetch_add(1); }
  std::atomic<int> wakes{0};
};

TEST(RequestQueueTest, RunsInPostingOrderAndWakesOncePerBatch) {
  RequestQueue q;
  CountingWaker waker;
  q.SetWaker(&waker);
  std::vector<int> ran;
  for (int i = 0; i < 3; ++i) q.Post([&ran, i] { ran.push_back(i); });
  EXPECT_EQ(waker.wakes.load(), 1);
  EXPECT_TRUE(q.HasPending());
  EXPECT_EQ(q.RunAll(), 3u);
  EXPECT_EQ(ran, (std::vector<int>{0, 1, 2}));
  EXPECT_FALSE(q.HasPending());
}

TEST(RequestQueueTest, RequestPostedWhileRunningWaitsForNextBatch) {
  RequestQueue q;
  int second = 0;
  q.Post([&] { q.Post([&] { ++second; }); });
  EXPECT_EQ(q.RunAll(), 1u);
  EXPECT_EQ(second, 0);
  EXPECT_EQ(q.RunAll(), 1u);
  EXPECT_EQ(second, 1);
}

TEST(RequestQueueTest, LosesNothingUnderConcurrentPosts) {
  RequestQueue q;
  constexpr int kThreads = 4, kPerThread = 20000;
  int64_t sum = 0;  // touched by the consumer (this thread) only
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 1; i <= kPerThread; ++i) q.Post([&sum, i] { sum += i; });
      done.fetch_add(1);
    });
  }
  while (done.load() < kThreads) q.RunAll();
  for (auto& t : threads) t.join();
  q.RunAll();
  EXPECT_EQ(sum, int64_t{kThreads} * kPerThread * (kPerThread + 1) / 2);
}

}  // namespace
}  // namespace qsm
