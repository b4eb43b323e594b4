#include "harness/run/check.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace qsm::harness {
namespace {

class CheckTest : public ::testing::Test {
 protected:
  // Node `id` sent `n` messages to group 1.
  void Sent(uint32_t id, uint64_t n) { Result(id).sent[1] = n; }
  // Node `id` delivered seqs `lo`..`hi` from `sender` in `group`, in order.
  void Delivered(uint32_t id, uint32_t sender, uint64_t lo, uint64_t hi, uint32_t group = 1) {
    StreamDeliveries& s = Result(id).delivered[{sender, group}];
    for (uint64_t v = lo; v <= hi; ++v) {
      if (!s.seqs.Insert(v)) ++s.duplicates;
      if (v < s.last) ++s.out_of_order;
      s.last = std::max(s.last, v);
    }
  }
  NodeResult& Result(uint32_t id) {
    NodeResult& r = input_.results[id];
    r.node_id = id;
    r.end = "stopped";
    return r;
  }
  CheckReport Check() { return CheckDeliveries(input_); }
  static bool Mentions(const CheckReport& r, const std::string& text) {
    for (const auto& v : r.violations) {
      if (v.find(text) != std::string::npos) return true;
    }
    return false;
  }

  CheckInput input_{.nodes = 3, .senders = {1}, .joined = {{1, {1}}, {2, {1}}, {3, {1}}}};
};

TEST_F(CheckTest, EverythingDeliveredOncePasses) {
  Sent(1, 100);
  for (uint32_t id : {1, 2, 3}) Delivered(id, 1, 1, 100);
  const CheckReport r = Check();
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.expected, 300u);
  EXPECT_EQ(r.delivered, 300u);
  EXPECT_EQ(r.sent, 100u);
}

TEST_F(CheckTest, MissingMessagesAreLostAndNamed) {
  Sent(1, 100);
  Delivered(1, 1, 1, 100);
  Delivered(2, 1, 1, 40);
  Delivered(2, 1, 51, 100);
  Delivered(3, 1, 1, 100);
  const CheckReport r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.lost, 10u);
  EXPECT_TRUE(Mentions(r, "node 2 lost 10 of 100 messages from node 1 in group 1 (first missing: 41)"));
}

// Raw UDP promises nothing: its holes and its tail are counted and noted, not violations; but
// duplicates and phantoms still are (no engine may make messages up).
TEST_F(CheckTest, AnUnreliableEnginesLossIsReportedNotAViolation) {
  input_.guarantees = GuaranteesOf("udp");
  Sent(1, 100);
  Delivered(1, 1, 1, 100);
  Delivered(2, 1, 1, 40);
  Delivered(2, 1, 51, 90);
  Delivered(3, 1, 1, 100);
  CheckReport r = Check();
  EXPECT_TRUE(r.ok) << (r.violations.empty() ? "" : r.violations[0]);
  EXPECT_EQ(r.lost, 10u);
  EXPECT_EQ(r.behind, 10u);
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_EQ(r.notes[0], "node 2 did not get 20 of 100 messages (20.00%): the engine does not repair loss, so this "
                        "is reported, not a violation");
  Delivered(3, 1, 100, 100);
  r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(Mentions(r, "node 3 delivered 1 duplicate(s)"));
}

// NORM is reliable but not FIFO: order is noted; a loss still fails.
TEST_F(CheckTest, AnUnorderedEnginesOrderIsReportedButItsLossFails) {
  input_.guarantees = GuaranteesOf("norm");
  Sent(1, 100);
  for (uint32_t id : {1, 3}) Delivered(id, 1, 1, 100);
  Delivered(2, 1, 51, 100);
  Delivered(2, 1, 1, 50);
  CheckReport r = Check();
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.out_of_order, 50u) << "1..50 came after 100";
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_EQ(r.notes[0].find("50 of 300 deliveries came out of order (16.67%)"), 0u) << r.notes[0];
  Result(3).delivered.clear();
  Delivered(3, 1, 1, 99);
  r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(Mentions(r, "node 3 had not delivered the last 1 of 100"));
}

TEST_F(CheckTest, ALossFromAMemberTheSenderDidNotWaitForSaysSo) {
  Sent(1, 100);
  Result(1).load_start_s = 123.456;
  Result(1).absent_at_load_start = {3};
  for (uint32_t id : {1, 2}) Delivered(id, 1, 1, 100);
  Delivered(3, 1, 31, 100);
  const CheckReport r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(Mentions(r, "node 3 lost 30 of 100 messages from node 1 in group 1 (first missing: 1); it was "
                          "not yet in node 1's view when its load started at 123.46 s"));
}

TEST_F(CheckTest, AReceiverThatHadNotCaughtUpIsBehindNotLost) {
  Sent(1, 100);
  Delivered(1, 1, 1, 100);
  Delivered(2, 1, 1, 30);  // a hole at 31..35, then behind from 61
  Delivered(2, 1, 36, 60);
  Delivered(3, 1, 1, 100);
  const CheckReport r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.lost, 5u);
  EXPECT_EQ(r.behind, 40u);
  ASSERT_EQ(r.receivers.size(), 3u);
  EXPECT_EQ(r.receivers[1].behind, 40u);
  EXPECT_EQ(r.receivers[1].behind_streams, 1u);
  EXPECT_TRUE(Mentions(r, "node 2 lost 5 of 100 messages from node 1 in group 1 (first missing: 31)"));
  EXPECT_TRUE(Mentions(r, "node 2 had not delivered the last 40 of 100 messages from node 1 in group 1 when the "
                          "run ended (delivered through 60: behind, not lost)"));
}

TEST_F(CheckTest, DuplicatesOutOfOrderAndPhantomsAreViolations) {
  Sent(1, 10);
  Delivered(1, 1, 1, 10);
  Delivered(2, 1, 1, 10);
  Delivered(2, 1, 5, 5);  // again
  Delivered(3, 1, 2, 10);
  Delivered(3, 1, 1, 1);    // late
  Delivered(3, 1, 11, 12);  // never sent
  const CheckReport r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.duplicates, 1u);
  EXPECT_TRUE(Mentions(r, "node 2 delivered 1 duplicate(s)"));
  EXPECT_TRUE(Mentions(r, "node 3 delivered"));
  EXPECT_TRUE(Mentions(r, "out of order"));
  EXPECT_TRUE(Mentions(r, "2 message(s) that no sender sent"));
}

TEST_F(CheckTest, ANodeWithoutAResultFileIsAViolationUnlessTheHarnessCrashedIt) {
  Sent(1, 5);
  Delivered(1, 1, 1, 5);
  Delivered(2, 1, 1, 5);
  EXPECT_TRUE(Mentions(Check(), "node 3 wrote no result file"));
  input_.crashed = {3};
  EXPECT_TRUE(Check().ok);
}

TEST_F(CheckTest, SurvivorsOfACrashedSenderEachDeliverAGapFreePrefix) {
  input_.crashed = {1};
  Delivered(2, 1, 1, 70);
  Delivered(3, 1, 1, 70);
  EXPECT_TRUE(Check().ok);
  EXPECT_TRUE(Check().notes.empty());
  // Beyond what the sender had had acknowledged, survivors may get different amounts: a note.
  Delivered(3, 1, 71, 72);
  const CheckReport r = Check();
  EXPECT_TRUE(r.ok);
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_EQ(r.notes[0],
            "survivors delivered 70 to 72 of crashed node 1's messages in group 1 (those beyond what it "
            "had had acknowledged)");
  input_.results.erase(3);
  input_.crashed = {1, 3};
  Delivered(2, 1, 80, 80);
  const CheckReport gaps = Check();
  EXPECT_TRUE(Mentions(gaps, "node 2 has gaps"));
  EXPECT_EQ(gaps.lost, 9u) << "71..79 below the 80 it delivered";
}

// Raw UDP and a sender that crashes: the holes in what survivors got of it are its loss, stated
// like any other, not a violation (found with 20 simulated nodes, 5 senders, 10% loss at two).
TEST_F(CheckTest, AnUnreliableEnginesHolesInACrashedSendersStreamAreLossNotAViolation) {
  input_.guarantees = GuaranteesOf("udp");
  input_.crashed = {1};
  Delivered(2, 1, 1, 70);
  Delivered(3, 1, 1, 30);
  Delivered(3, 1, 36, 72);
  const CheckReport r = Check();
  EXPECT_TRUE(r.ok) << (r.violations.empty() ? "" : r.violations[0]);
  EXPECT_EQ(r.lost, 5u);
  EXPECT_EQ(r.expected, 70u + 72u);
  ASSERT_EQ(r.notes.size(), 2u);
  EXPECT_EQ(r.notes[0].find("node 3 did not get 5 of 72 messages"), 0u) << r.notes[0];
  EXPECT_EQ(r.notes[1].find("survivors delivered 70 to 72 of crashed node 1's messages"), 0u) << r.notes[1];
}

TEST_F(CheckTest, EachReceiverIsCheckedForItsOwnGroups) {
  input_.joined = {{1, {1, 2}}, {2, {1}}, {3, {2}}};
  Sent(1, 10);
  Result(1).sent[2] = 5;
  Delivered(1, 1, 1, 10);
  Delivered(1, 1, 1, 5, /*group=*/2);
  Delivered(2, 1, 1, 10);
  Delivered(3, 1, 1, 4, /*group=*/2);
  const CheckReport r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.expected, 10u + 5u + 10u + 5u);
  EXPECT_TRUE(Mentions(r, "node 3 had not delivered the last 1 of 5 messages from node 1 in group 2 when the run "
                          "ended (delivered through 4: behind, not lost)"));
}

TEST_F(CheckTest, AnInterruptedNodeFailsTheCheck) {
  Sent(1, 1);
  for (uint32_t id : {1, 2, 3}) Delivered(id, 1, 1, 1);
  Result(2).end = "interrupted";
  EXPECT_TRUE(Mentions(Check(), "node 2 was interrupted"));
}

}  // namespace
}  // namespace qsm::harness
