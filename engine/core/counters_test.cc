#include "engine/core/counters.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace qsm {
namespace {

TEST(CountersTest, EveryCounterHasAUniqueName) {
  std::set<std::string> names;
  for (size_t i = 0; i < kCounterCount; ++i) {
    auto name = CounterName(static_cast<Counter>(i));
    EXPECT_FALSE(name.empty()) << "counter " << i << " has no name";
    EXPECT_TRUE(names.insert(std::string(name)).second) << name;
  }
}

TEST(CountersTest, AddsAndSnapshots) {
  Counters c;
  c.Add(Counter::kPacketsSent);
  c.Add(Counter::kPacketsSent, 4);
  EXPECT_EQ(c.Get(Counter::kPacketsSent), 5u);
  EXPECT_EQ(c.Snapshot()[static_cast<size_t>(Counter::kPacketsSent)], 5u);
}

}  // namespace
}  // namespace qsm
