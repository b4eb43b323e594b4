#include "engine/core/ring_queue.h"

#include <gtest/gtest.h>

#include <memory>

namespace qsm {
namespace {

TEST(RingQueueTest, KeepsFifoOrderAcrossGrowthAndWrapAround) {
  RingQueue<int> q(4);
  int next_in = 0, next_out = 0;
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < round % 7 + 1; ++i) q.Push(next_in++);
    for (int i = 0; i < round % 5 && !q.empty(); ++i) EXPECT_EQ(q.Pop(), next_out++);
  }
  while (!q.empty()) EXPECT_EQ(q.Pop(), next_out++);
  EXPECT_EQ(next_in, next_out);
}

TEST(RingQueueTest, HoldsMoveOnlyValues) {
  RingQueue<std::unique_ptr<int>> q(1);
  for (int i = 0; i < 10; ++i) q.Push(std::make_unique<int>(i));
  EXPECT_EQ(q.size(), 10u);
  EXPECT_EQ(*q.Front(), 0);
  EXPECT_EQ(*q.Pop(), 0);
}

}  // namespace
}  // namespace qsm
