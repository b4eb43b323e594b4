#include "engine/region/receive_window.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "engine/core/random.h"

namespace qsm {
namespace {

using R = ReceiveWindow::InsertResult;

TEST(ReceiveWindowTest, PrefixAdvancesOverFilledGaps) {
  ReceiveWindow w;
  EXPECT_EQ(w.Insert(1), R::kNew);
  EXPECT_EQ(w.Insert(3), R::kNew);
  EXPECT_EQ(w.contiguous(), 1u);
  EXPECT_EQ(w.highest(), 3u);
  EXPECT_EQ(w.Insert(2), R::kNew);
  EXPECT_EQ(w.contiguous(), 3u);
  EXPECT_EQ(w.Insert(2), R::kDuplicate);
  EXPECT_EQ(w.Insert(0), R::kOutOfRange);
}

TEST(ReceiveWindowTest, RefusesSequenceNumbersBeyondTheSpan) {
  ReceiveWindow w;
  EXPECT_EQ(w.Insert(ReceiveWindow::kMaxSpan + 1), R::kOutOfRange);
  EXPECT_EQ(w.Insert(ReceiveWindow::kMaxSpan), R::kNew);
}

TEST(ReceiveWindowTest, ReportsMissingRangesUpToAGivenPoint) {
  ReceiveWindow w;
  for (uint64_t s : {1, 2, 5, 6, 9}) w.Insert(s);
  std::vector<wire::SeqRange> missing;
  w.MissingRanges(12, 10, missing);
  EXPECT_EQ(missing, (std::vector<wire::SeqRange>{{3, 4}, {7, 8}, {10, 12}}));
  missing.clear();
  w.MissingRanges(12, 1, missing);
  EXPECT_EQ(missing, (std::vector<wire::SeqRange>{{3, 4}}));
}

TEST(ReceiveWindowTest, MatchesASetUnderRandomInsertionOrder) {
  Random r(7);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<uint64_t> seqs(1000);
    std::iota(seqs.begin(), seqs.end(), 1);
    for (size_t i = seqs.size(); i > 1; --i) std::swap(seqs[i - 1], seqs[r.Uniform(i)]);
    ReceiveWindow w;
    std::set<uint64_t> seen;
    for (uint64_t s : seqs) {
      ASSERT_EQ(w.Insert(s), R::kNew);
      seen.insert(s);
      uint64_t prefix = 0;
      while (seen.contains(prefix + 1)) ++prefix;
      ASSERT_EQ(w.contiguous(), prefix);
      ASSERT_EQ(w.highest(), *seen.rbegin());
      const uint64_t probe = r.Uniform(1100) + 1;
      ASSERT_EQ(w.Contains(probe), seen.contains(probe)) << probe;
    }
    EXPECT_EQ(w.contiguous(), 1000u);
  }
}

TEST(ReceiveWindowTest, skipToMakesEverythingBelowArrivedAndKeepsWhatArrivedAbove) {
  ReceiveWindow w;
  for (uint64_t s : {3, 70, 72, 200}) w.Insert(s);
  w.SkipTo(69);
  EXPECT_EQ(w.contiguous(), 70u);  // 70 had arrived
  EXPECT_EQ(w.highest(), 200u);
  EXPECT_TRUE(w.Contains(72));
  EXPECT_FALSE(w.Contains(71));
  EXPECT_EQ(w.Insert(5), ReceiveWindow::InsertResult::kDuplicate);
  EXPECT_EQ(w.Insert(71), ReceiveWindow::InsertResult::kNew);
  EXPECT_EQ(w.contiguous(), 72u);
  w.SkipTo(10);  // below the prefix: nothing changes
  EXPECT_EQ(w.contiguous(), 72u);
  w.SkipTo(5000);
  EXPECT_EQ(w.contiguous(), 5000u);
  EXPECT_EQ(w.highest(), 5000u);
  EXPECT_EQ(w.Insert(5000 + ReceiveWindow::kMaxSpan), ReceiveWindow::InsertResult::kNew);
}

}  // namespace
}  // namespace qsm
