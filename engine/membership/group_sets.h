// Group sets (PROTOCOL.md §7, paper §3): when groups overlap irregularly, regions computed over all
// groups at once fragment into many tiny regions, and one group spans many of them. The GMS then
// partitions the groups into sets with regular overlap and computes regions per set, so a node is
// in at most one region per set.
//
// The greedy partitioning implemented here: take the largest group not yet placed and start a set
// with it. Walk the remaining groups from the largest down; add a group to the set if the regions
// it produces are all big enough: adding group g splits every region R of the set into R ∩ g and
// R \ g and makes the members of g outside the set a new region; g fits when each of those parts
// is empty or has at least `min_region_size` members. (A group contained in a region fits exactly
// when it leaves at least that many on either side; the paper's "contained in it, or overlaps
// with it in a way that doesn't produce small regions" is this one rule.) When the walk ends, start
// the next set from the largest group left.
//
// Also here: the paper's irregular workload (Zipf popularity) and the statistics of Fig 5-6.
// Threading: plain functions, no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <unordered_map>
#include <vector>

#include "engine/membership/membership.h"

namespace qsm::membership {

struct GroupSetConfig {
  size_t min_region_size = 5;
};

// `members`: every group's members (any order, no duplicates). Returns each group's set; sets are
// numbered 0, 1, ... in the order they were started (set 0 holds the largest group).
std::unordered_map<GroupId, SetId> PartitionGroupSets(const std::map<GroupId, std::vector<NodeId>>& members,
                                                      GroupSetConfig config = {});

// The paper's workload (§3, Fig 5-6): `nodes` nodes and `groups` groups; group of popularity rank
// r (1 = most popular) is joined by each node independently with probability min(1, c / r^alpha),
// c chosen so that a node is in `fraction` of the groups on average. Deterministic from `seed`.
// Node ids are 1..nodes, group ids 1..groups (id = rank).
struct ZipfWorkload {
  size_t nodes = 2000;
  size_t groups = 10000;
  double alpha = 1.5;
  double fraction = 0.1;
  uint64_t seed = 1;
};
std::map<GroupId, std::vector<NodeId>> MakeZipfMembership(const ZipfWorkload& w);

// What Fig 5-6 report, over the regions of a committed Membership. A node's traffic in one of its
// regions is the traffic of the groups in that region's signature, under two models: every group
// carries the same rate ("equal"), or every member of a group sends at the same rate, so a group's
// traffic grows with its size ("by size").
struct RegionStatistics {
  static constexpr size_t kConcentrationRanks = 16;
  size_t nodes = 0;
  size_t groups = 0;
  size_t sets = 0;
  size_t regions = 0;
  double regions_per_node_mean = 0;
  size_t regions_per_node_max = 0;
  double top2_traffic_share_mean = 0;  // share of a node's traffic in its 2 busiest regions (equal)
  double top2_traffic_share_p5 = 0;    // ...the 5th percentile over nodes
  double top2_traffic_share_by_size_mean = 0;
  // concentration[k-1]: mean share of a node's traffic in its k busiest regions, k = 1..16.
  std::vector<double> concentration_equal;
  std::vector<double> concentration_by_size;
  double regions_per_group_mean = 0;
  size_t regions_per_group_max = 0;
  double region_size_mean = 0;
  size_t region_size_median = 0;
  size_t region_size_p10 = 0;
  size_t region_size_p90 = 0;
};
RegionStatistics ComputeRegionStatistics(const Membership& m);

}  // namespace qsm::membership
