// The group-set experiment (paper §3, Fig 5-6; PROTOCOL.md §7): for each number of nodes and of
// groups, the paper's irregular workload (each node in about `fraction` of the groups, Zipf
// popularity `alpha`) is partitioned into group sets, the GMS's view computation runs over it, and
// the statistics the paper reports are taken: regions per node, traffic concentration, regions
// per group, region sizes. Writes DIR/groupsets.csv (one row per size) and
// DIR/traffic-concentration.csv (the largest size: share of a node's traffic in its k busiest
// regions), and draws DIR/plots/fig05_06.{png,svg}.
// Threading: none.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/core/status.h"
#include "engine/membership/group_sets.h"
#include "harness/run/plot.h"

namespace qsm::harness {

struct GroupSetExperiment {
  std::vector<uint32_t> nodes{250, 500, 1000, 2000};
  std::vector<uint32_t> groups{1000, 2500, 5000, 10000};
  double alpha = 1.5;
  double fraction = 0.1;
  size_t min_region_size = 5;
  uint64_t seed = 1;
};

struct GroupSetRow {
  uint32_t nodes = 0, groups = 0;
  membership::RegionStatistics stats;
  double partition_seconds = 0;  // the greedy partitioning
  double views_seconds = 0;      // every region and group view, from scratch
};

// Runs every size (printing a line per size to `progress`, if given) and writes the CSV files.
Result<std::vector<GroupSetRow>> RunGroupSetExperiment(const GroupSetExperiment& e, const std::string& dir,
                                                       FILE* progress);

// The table printed at the end, with the paper's figures beside ours.
std::string GroupSetTable(const std::vector<GroupSetRow>& rows);

// Draws DIR/plots/fig05_06.{png,svg} from the CSV files.
Result<std::vector<std::string>> PlotGroupSets(const std::string& dir, const PlotOptions& options);

}  // namespace qsm::harness
