#include "engine/core/ring_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <random>

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

// Against std::deque as the model: random pushes and pops at both ends, resizes and compactions.
TEST(RingQueueTest, BehavesAsADoubleEndedQueueAcrossGrowthWrapAroundAndCompaction) {
  RingQueue<int> q(2);
  std::deque<int> model;
  std::mt19937 random(7);
  int next = 0;
  size_t peak_capacity = 0;
  for (int step = 0; step < 20000; ++step) {
    // Phases: grow for a while, then shrink, so the capacity has to follow both ways.
    const bool growing = (step / 2000) % 2 == 0;
    switch (random() % 7) {
      case 0: case 1: if (growing || model.empty()) { q.Push(next); model.push_back(next++); } break;
      case 2: if (growing) { q.PushFront(next); model.push_front(next++); } break;
      case 3: if (!model.empty()) { EXPECT_EQ(q.Pop(), model.front()); model.pop_front(); } break;
      case 4: if (!model.empty()) { EXPECT_EQ(q.PopBack(), model.back()); model.pop_back(); } break;
      case 5: {
        const size_t n = growing ? model.size() + random() % 5 : model.size() / 2;
        q.Resize(n);
        model.resize(n, 0);
        break;
      }
      default: q.Compact(); break;
    }
    ASSERT_EQ(q.size(), model.size());
    for (size_t i = 0; i < model.size(); i += 1 + model.size() / 8) ASSERT_EQ(q[i], model[i]);
    if (!model.empty()) {
      ASSERT_EQ(q.Front(), model.front());
      ASSERT_EQ(q.Back(), model.back());
    }
    peak_capacity = std::max(peak_capacity, q.capacity());
  }
  q.Clear();
  q.Compact();
  EXPECT_EQ(q.capacity(), 2u);  // back to the initial capacity
  EXPECT_GT(peak_capacity, 64u);
}

// Compact shrinks to twice the peak since the last Compact, and only when that peak used at most
// a quarter: a steady load that empties and refills to the same peak never reallocates.
TEST(RingQueueTest, CompactsToTwiceTheRecentPeakOnlyWhenThatPeakIsAQuarterOrLess) {
  RingQueue<int> q(4);
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 40; ++i) q.Push(i);
    while (!q.empty()) q.Pop();
    q.Compact();
    EXPECT_EQ(q.capacity(), 64u) << "round " << round;  // peak 40: more than a quarter of 64
  }
  for (int i = 0; i < 16; ++i) q.Push(i);
  q.Compact();  // peak 16 of 64 since the last Compact: to 32
  EXPECT_EQ(q.capacity(), 32u);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(q[static_cast<size_t>(i)], i);
  q.Compact();  // peak 16 of 32: stays
  EXPECT_EQ(q.capacity(), 32u);
  q.Clear();
  q.Compact();  // peak since the last Compact is 16: not yet
  EXPECT_EQ(q.capacity(), 32u);
  q.Compact();  // peak 0: to the initial capacity
  EXPECT_EQ(q.capacity(), 4u);
}

}  // namespace
}  // namespace qsm
