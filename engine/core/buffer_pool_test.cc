#include "engine/core/buffer_pool.h"

#include <gtest/gtest.h>

namespace qsm {
namespace {

TEST(BufferPoolTest, HandsOutDistinctBuffersUntilExhausted) {
  BufferPool pool(128, 2);
  PooledBuffer a = pool.Acquire();
  PooledBuffer b = pool.Acquire();
  ASSERT_TRUE(a && b);
  EXPECT_NE(a.space().data(), b.space().data());
  EXPECT_EQ(a.space().size(), 128u);
  EXPECT_FALSE(pool.Acquire());
  a.Reset();
  EXPECT_EQ(pool.available(), 1u);
  EXPECT_TRUE(pool.Acquire());  // temporary returns its buffer at once
  EXPECT_EQ(pool.available(), 1u);
}

TEST(BufferPoolTest, MoveTransfersOwnership) {
  BufferPool pool(64, 1);
  PooledBuffer a = pool.Acquire();
  a.set_size(10);
  PooledBuffer b = std::move(a);
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  EXPECT_EQ(b.size(), 10u);
  EXPECT_EQ(b.bytes().size(), 10u);
  b = PooledBuffer();
  EXPECT_EQ(pool.available(), 1u);
}

TEST(BufferPoolDeathTest, SetSizeBeyondCapacityAborts) {
  BufferPool pool(64, 1);
  PooledBuffer a = pool.Acquire();
  EXPECT_DEATH(a.set_size(65), "out of range");
}

}  // namespace
}  // namespace qsm
