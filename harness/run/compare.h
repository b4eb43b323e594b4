// `qsm-harness compare`: results folders side by side, run by run, with ratios against the first,
// and the regressions past the thresholds a user gives (for CI). Runs are matched by name: the
// run folder's name without its "N-" position in the suite and without a repetition's "-rep=K"
// (repetitions of a run, from `repeat:` in its scenario, are pooled: the table shows their median
// and spread). Format of what is read: harness/RESULTS.md (summary.json).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/core/status.h"

namespace qsm::harness {

// What is compared. Every metric is a number in summary.json, better when higher or when lower.
struct CompareMetric {
  const char* key;    // for --max-regression KEY=FRACTION
  const char* label;  // in the table
  const char* pointer;  // JSON pointer into summary.json
  bool higher_is_better;
};
const std::vector<CompareMetric>& CompareMetrics();

// One results folder (a folder of run folders, or one run folder).
struct ResultSet {
  std::string folder;
  std::vector<std::string> run_order;                       // run names, in the folder's order
  std::map<std::string, std::vector<nlohmann::json>> runs;  // run name -> its repetitions' summaries
};

// Reads every run folder's summary.json. Errors (kInvalidArgument): no run, a summary that is not
// JSON, or one of a format version this harness does not read.
Result<ResultSet> LoadResultSet(const std::string& folder);

struct CompareOptions {
  // metric key -> the largest worsening allowed, as a fraction of the first set's value (0.1: 10%).
  std::map<std::string, double> max_regression;
};
// Parses "KEY=FRACTION" or "KEY=PERCENT%" for a known metric key.
Status ParseMaxRegression(const std::string& text, CompareOptions& options);

struct Comparison {
  std::string table;                      // printable
  std::vector<std::string> regressions;  // empty: nothing crossed a threshold, no check newly failed
};
// Compares sets[1..] with sets[0]. A run whose delivery check passed in sets[0] and fails in
// another is always a regression; a metric is one only with a threshold. Runs missing from a set
// are noted in the table, not counted.
Comparison Compare(const std::vector<ResultSet>& sets, const CompareOptions& options);

}  // namespace qsm::harness
