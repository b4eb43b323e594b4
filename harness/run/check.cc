#include "harness/run/check.h"

#include <algorithm>
#include <cstdio>

namespace qsm::harness {
namespace {

constexpr size_t kMaxViolations = 20;

void Violation(CheckReport& report, std::string text) {
  report.ok = false;
  ++report.violations_total;
  if (report.violations.size() < kMaxViolations) report.violations.push_back(std::move(text));
}

std::string Stream(uint32_t sender, uint32_t group) {
  return "from node " + std::to_string(sender) + " in group " + std::to_string(group);
}

// Why a receiver may have missed a sender's first messages: the sender stopped waiting for it.
std::string AbsentNote(const NodeResult& sender, uint32_t receiver) {
  const auto& absent = sender.absent_at_load_start;
  if (std::find(absent.begin(), absent.end(), receiver) == absent.end()) return "";
  char at[32];
  std::snprintf(at, sizeof at, "%.2f", sender.load_start_s);
  return "; it was not yet in node " + std::to_string(sender.node_id) + "'s view when its load started at " +
         at + " s";
}

// Every node the harness did not crash wrote a result, and none was interrupted.
void CheckResultFiles(const CheckInput& in, CheckReport& report) {
  for (uint32_t id = 1; id <= in.nodes; ++id) {
    if (in.crashed.count(id) == 0 && in.results.count(id) == 0) {
      Violation(report, "node " + std::to_string(id) +
                            " wrote no result file (it exited or was killed unexpectedly)");
    }
  }
  for (const auto& [id, r] : in.results) {
    if (r.end == "interrupted")
      Violation(report, "node " + std::to_string(id) + " was interrupted before the end");
  }
}

std::string Percent(uint64_t part, uint64_t whole) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f%%",
                whole > 0 ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0);
  return text;
}

// What an engine that does not promise reliability or order did not deliver, or delivered out of
// order: stated, since the check does not count it as a violation.
void AddEngineNotes(const EngineGuarantees& guarantees, CheckReport& report) {
  if (!guarantees.reliable) {
    for (const ReceiverCheck& rc : report.receivers) {
      if (rc.lost + rc.behind == 0) continue;
      report.notes.push_back("node " + std::to_string(rc.node) + " did not get " + std::to_string(rc.lost + rc.behind) +
                             " of " + std::to_string(rc.expected) + " messages (" +
                             Percent(rc.lost + rc.behind, rc.expected) +
                             "): the engine does not repair loss, so this is reported, not a violation");
    }
  }
  if (!guarantees.fifo && report.out_of_order > 0) {
    report.notes.push_back(std::to_string(report.out_of_order) + " of " + std::to_string(report.delivered) +
                           " deliveries came out of order (" + Percent(report.out_of_order, report.delivered) +
                           "): the engine does not promise order, so this is reported, not a violation");
  }
}

}  // namespace

CheckReport CheckDeliveries(const CheckInput& in) {
  CheckReport report;
  // (crashed sender, group) -> the shortest and longest prefix survivors delivered.
  std::map<std::pair<uint32_t, uint32_t>, std::pair<uint64_t, uint64_t>> crashed_prefixes;
  CheckResultFiles(in, report);
  for (uint32_t s : in.senders) {
    auto it = in.results.find(s);
    if (it != in.results.end()) report.sent += it->second.sent_total();
  }
  for (const auto& [receiver, r] : in.results) {
    if (in.crashed.count(receiver) > 0) continue;
    ReceiverCheck rc{.node = receiver};
    for (uint32_t sender : in.senders) {
      auto sender_result = in.results.find(sender);
      const bool sender_crashed = in.crashed.count(sender) > 0 || sender_result == in.results.end();
      auto joined = in.joined.find(receiver);
      if (joined == in.joined.end()) continue;
      for (uint32_t group : joined->second) {
        auto d = r.delivered.find({sender, group});
        const StreamDeliveries empty;
        const StreamDeliveries& got = d == r.delivered.end() ? empty : d->second;
        rc.duplicates += got.duplicates;
        rc.out_of_order += got.out_of_order;
        if (got.duplicates > 0) {
          Violation(report, "node " + std::to_string(receiver) + " delivered " +
                                std::to_string(got.duplicates) + " duplicate(s) " + Stream(sender, group));
        }
        if (got.out_of_order > 0 && in.guarantees.fifo) {
          Violation(report, "node " + std::to_string(receiver) + " delivered " +
                                std::to_string(got.out_of_order) + " message(s) out of order " +
                                Stream(sender, group));
        }
        if (sender_crashed) {
          // Each survivor delivered a prefix 1..k; how long may differ (see check.h). What is
          // missing below the highest it delivered is a hole: lost (a violation if the engine is
          // reliable).
          const auto ranges = got.seqs.ranges();
          const uint64_t count = got.seqs.count();
          const uint64_t reached = ranges.empty() ? 0 : ranges.back().second;
          if (reached > count) {
            rc.lost += reached - count;
            if (in.guarantees.reliable) {
              Violation(report, "node " + std::to_string(receiver) + " has gaps in what it delivered " +
                                    Stream(sender, group) + " (a crashed sender)");
            }
          }
          auto& [lowest, highest] =
              crashed_prefixes.try_emplace({sender, group}, UINT64_MAX, 0).first->second;
          lowest = std::min(lowest, reached);
          highest = std::max(highest, reached);
          rc.delivered += count;
          rc.expected += reached;
          continue;
        }
        auto sent_it = sender_result->second.sent.find(group);
        const uint64_t sent = sent_it == sender_result->second.sent.end() ? 0 : sent_it->second;
        rc.expected += sent;
        uint64_t within = 0;
        for (const auto& [lo, hi] : got.seqs.ranges()) {
          if (lo > sent) {
            rc.unexpected += hi - lo + 1;
          } else {
            within += std::min(hi, sent) - lo + 1;
            if (hi > sent) rc.unexpected += hi - sent;
          }
        }
        rc.delivered += within;
        if (within < sent) {
          uint64_t expect = 1, highest = 0;
          for (const auto& [lo, hi] : got.seqs.ranges()) {
            if (lo <= sent) highest = std::min(hi, sent);
            if (lo <= expect) expect = std::max(expect, hi + 1);
          }
          const uint64_t behind = sent - highest;  // none of highest+1..sent was delivered
          const uint64_t holes = sent - within - behind;
          rc.lost += holes;
          rc.behind += behind;
          if (!in.guarantees.reliable) continue;  // reported below, in the notes
          if (holes > 0) {
            Violation(report, "node " + std::to_string(receiver) + " lost " + std::to_string(holes) + " of " +
                                  std::to_string(sent) + " messages " + Stream(sender, group) +
                                  " (first missing: " + std::to_string(expect) + ")" +
                                  AbsentNote(sender_result->second, receiver));
          }
          if (behind > 0) {
            ++rc.behind_streams;
            Violation(report, "node " + std::to_string(receiver) + " had not delivered the last " +
                                  std::to_string(behind) + " of " + std::to_string(sent) + " messages " +
                                  Stream(sender, group) + " when the run ended (delivered through " +
                                  std::to_string(highest) + ": behind, not lost)");
          }
        }
      }
    }
    for (const auto& [key, stream] : r.delivered) {
      if (in.senders.count(key.first) == 0) rc.unexpected += stream.seqs.count();
    }
    if (rc.unexpected > 0) {
      Violation(report, "node " + std::to_string(receiver) + " delivered " + std::to_string(rc.unexpected) +
                            " message(s) that no sender sent");
    }
    report.expected += rc.expected;
    report.delivered += rc.delivered;
    report.lost += rc.lost;
    report.behind += rc.behind;
    report.duplicates += rc.duplicates;
    report.out_of_order += rc.out_of_order;
    report.receivers.push_back(rc);
  }
  AddEngineNotes(in.guarantees, report);
  for (const auto& [key, range] : crashed_prefixes) {
    if (range.first == range.second) continue;
    report.notes.push_back("survivors delivered " + std::to_string(range.first) + " to " +
                           std::to_string(range.second) + " of crashed node " + std::to_string(key.first) +
                           "'s messages in group " + std::to_string(key.second) +
                           " (those beyond what it had had acknowledged)");
  }
  return report;
}

}  // namespace qsm::harness
