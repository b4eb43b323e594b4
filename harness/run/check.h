// The delivery check: from the node result files, what every receiver lost, got twice or got out
// of order. The rules (harness/RESULTS.md, "Delivery check"):
//  - every node that was not crashed by the harness must have written a result file;
//  - a surviving receiver delivers, for every surviving sender and every group it joined, exactly
//    the group sequence numbers 1..n the sender sent (n from the sender's file), each once, in order;
//  - for a sender the harness crashed, whose file does not exist: each survivor delivered a
//    gap-free prefix 1..k of its messages. Survivors may differ in k: what the sender had had
//    acknowledged everyone delivers, what it had not is delivered by those that got it
//    (engine/README.md, "Guarantees across view changes"); the spread is reported as a note;
//  - crashed nodes are not checked as receivers.
// What a receiver did not deliver of a stream is "lost" if it lies below a message of the stream it
// did deliver (a hole: an ordered stream never goes back), and "behind" if it lies above all of
// them (the run ended before the receiver got there). Both fail the check; they say different things.
// An engine that does not promise reliability (raw UDP) or order (NORM) is held to what it
// promises: its losses, or its messages out of order, are counted and reported in the notes, not
// violations (workload/engine_driver.h, EngineGuarantees).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "harness/workload/engine_driver.h"
#include "harness/workload/node_result.h"

namespace qsm::harness {

struct CheckInput {
  uint32_t nodes = 0;
  std::set<uint32_t> senders;
  std::set<uint32_t> crashed;                        // killed by the harness on purpose
  std::map<uint32_t, NodeResult> results;            // node id -> its result (missing: no file)
  std::map<uint32_t, std::vector<uint32_t>> joined;  // node id -> the groups it joined
  EngineGuarantees guarantees;                       // of the engine that ran
};

struct ReceiverCheck {
  uint32_t node = 0;
  uint64_t expected = 0;
  uint64_t delivered = 0;  // distinct messages delivered
  uint64_t lost = 0;       // expected, not delivered, below a message it did deliver: a hole
  uint64_t behind = 0;     // expected, not delivered, above everything it delivered: the drain
                           // ended before it got there (slow, not lost)
  uint64_t behind_streams = 0;  // (sender, group) streams it was behind in
  uint64_t duplicates = 0;
  uint64_t out_of_order = 0;
  uint64_t unexpected = 0;  // delivered but never sent (phantoms)
};

struct CheckReport {
  bool ok = true;
  std::vector<std::string> violations;  // human-readable, most important first; capped
  std::vector<std::string> notes;       // facts worth knowing that are not violations
  size_t violations_total = 0;
  std::vector<ReceiverCheck> receivers;
  uint64_t sent = 0;  // by surviving senders
  uint64_t expected = 0, delivered = 0, lost = 0, behind = 0, duplicates = 0, out_of_order = 0;
};

CheckReport CheckDeliveries(const CheckInput& input);

}  // namespace qsm::harness
