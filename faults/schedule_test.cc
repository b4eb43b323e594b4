#include "faults/schedule.h"

#include <gtest/gtest.h>

namespace qsm::faults {
namespace {

TEST(ScheduleTest, PeriodicWindowsStartAtEveryMultipleAndStopAtTheRunEnd) {
  Random random(1);
  const auto windows = Expand({.kind = Schedule::Kind::kPeriodic, .every = 5s, .length = 500ms}, 17s, random);
  ASSERT_EQ(windows.size(), 3u);
  EXPECT_EQ(windows[0], (Window{5s, 5500ms}));
  EXPECT_EQ(windows[2], (Window{15s, 15500ms}));
}

TEST(ScheduleTest, AWindowIsCutAtTheRunEnd) {
  Random random(1);
  const auto windows = Expand({.kind = Schedule::Kind::kAt, .at = 9s, .length = 5s}, 10s, random);
  ASSERT_EQ(windows.size(), 1u);
  EXPECT_EQ(windows[0], (Window{9s, 10s}));
}

TEST(ScheduleTest, AlwaysCoversTheWholeRun) {
  Random random(1);
  EXPECT_EQ(Expand({}, 30s, random), (std::vector<Window>{{0s, 30s}}));
}

TEST(ScheduleTest, PoissonWindowsAreSeededOrderedAndDisjointWithTheRightMeanRate) {
  Random a(7), b(7), c(8);
  const Schedule s{.kind = Schedule::Kind::kPoisson, .every = 1s, .length = 100ms};
  const auto windows = Expand(s, 1000s, a);
  EXPECT_EQ(windows, Expand(s, 1000s, b));
  EXPECT_NE(windows, Expand(s, 1000s, c));
  EXPECT_GT(windows.size(), 800u);  // mean gap 1 s (+ no overlap): about 1000 / 1.0x
  EXPECT_LT(windows.size(), 1100u);
  for (size_t i = 1; i < windows.size(); ++i) EXPECT_GE(windows[i].start, windows[i - 1].end);
}

TEST(ScheduleTest, FromAndUntilBoundPeriodicWindows) {
  Random random(1);
  const auto windows = Expand(
      {.kind = Schedule::Kind::kPeriodic, .every = 1s, .length = 10ms, .from = 3s, .until = 6s}, 20s, random);
  ASSERT_EQ(windows.size(), 2u);
  EXPECT_EQ(windows[0].start, 4s);
  EXPECT_EQ(windows[1].start, 5s);
}

TEST(ScheduleTest, DurationsParseWithUnitsAndRejectGarbage) {
  EXPECT_EQ(*ParseDuration("500ms"), 500ms);
  EXPECT_EQ(*ParseDuration("1.5s"), 1500ms);
  EXPECT_EQ(*ParseDuration("2m"), 120s);
  EXPECT_EQ(*ParseDuration("250us"), 250us);
  EXPECT_EQ(*ParseDuration("0"), 0s);
  EXPECT_FALSE(ParseDuration("5").has_value());
  EXPECT_FALSE(ParseDuration("fast").has_value());
  EXPECT_FALSE(ParseDuration("-1s").has_value());
  EXPECT_FALSE(ParseDuration("3 weeks").has_value());
  EXPECT_NE(ParseDuration("5").error().message.find("needs a unit"), std::string::npos);
  EXPECT_EQ(FormatDuration(500ms), "500ms");
  EXPECT_EQ(FormatDuration(120s), "2m");
  EXPECT_EQ(FormatDuration(1500ms), "1500ms");
}

}  // namespace
}  // namespace qsm::faults
