#include "engine/core/random.h"

#include <gtest/gtest.h>

namespace qsm {
namespace {

TEST(RandomTest, SameSeedSameStream) {
  Random a(42), b(42), c(43);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    uint64_t x = a.Next();
    EXPECT_EQ(x, b.Next());
    differs |= x != c.Next();
  }
  EXPECT_TRUE(differs);
}

TEST(RandomTest, UniformStaysInRangeAndCoversIt) {
  Random r(1);
  int counts[10] = {};
  for (int i = 0; i < 100000; ++i) {
    uint64_t v = r.Uniform(10);
    ASSERT_LT(v, 10u);
    ++counts[v];
  }
  for (int c : counts) EXPECT_NEAR(c, 10000, 600);
}

TEST(RandomTest, BernoulliMatchesProbability) {
  Random r(7);
  int hits = 0;
  for (int i = 0; i < 100000; ++i) hits += r.Bernoulli(0.1);
  EXPECT_NEAR(hits, 10000, 600);
  EXPECT_FALSE(r.Bernoulli(0));
  EXPECT_TRUE(r.Bernoulli(1));
}

TEST(RandomTest, ExponentialHasTheRequestedMean) {
  Random r(9);
  double sum = 0;
  for (int i = 0; i < 100000; ++i) sum += r.Exponential(2.0);
  EXPECT_NEAR(sum / 100000, 2.0, 0.05);
}

}  // namespace
}  // namespace qsm
