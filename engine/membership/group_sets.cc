#include "engine/membership/group_sets.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "engine/core/random.h"

namespace qsm::membership {

namespace {

// One set under construction: the partition of the nodes it covers into regions.
class SetBuilder {
 public:
  SetBuilder(size_t nodes, size_t min_region_size) : region_of_(nodes + 1, kNone), min_(min_region_size) {}

  // Adds g (node ids index region_of_) if every part it produces is empty or >= min_, or always
  // if `force` (the group that starts a set).
  bool TryAdd(const std::vector<NodeId>& g, bool force) {
    size_t outside = 0;
    touched_.clear();
    for (NodeId n : g) {
      const uint32_t r = region_of_[n];
      if (r == kNone) {
        ++outside;
        continue;
      }
      if (inside_[r]++ == 0) touched_.push_back(r);
    }
    bool fits = force || outside == 0 || outside >= min_;
    for (uint32_t r : touched_) {
      const size_t in = inside_[r], out = size_[r] - in;
      fits = force || (fits && in >= min_ && (out == 0 || out >= min_));
    }
    if (fits) {
      // Regions entirely inside g stay as they are; the others split off their part in g.
      for (uint32_t r : touched_) split_to_[r] = inside_[r] == size_[r] ? r : NewRegion();
      const uint32_t fresh = outside > 0 ? NewRegion() : kNone;
      for (NodeId n : g) {
        const uint32_t r = region_of_[n];
        const uint32_t to = r == kNone ? fresh : split_to_[r];
        if (to == r) continue;
        if (r != kNone) --size_[r];
        region_of_[n] = to;
        ++size_[to];
      }
    }
    for (uint32_t r : touched_) inside_[r] = 0;
    return fits;
  }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  uint32_t NewRegion() {
    size_.push_back(0);
    inside_.push_back(0);
    split_to_.push_back(kNone);
    return static_cast<uint32_t>(size_.size() - 1);
  }

  std::vector<uint32_t> region_of_;  // by node id
  std::vector<size_t> size_;         // by region
  std::vector<size_t> inside_;       // scratch: members of the candidate in each region
  std::vector<uint32_t> split_to_;   // scratch
  std::vector<uint32_t> touched_;
  size_t min_;
};

}  // namespace

std::unordered_map<GroupId, SetId> PartitionGroupSets(const std::map<GroupId, std::vector<NodeId>>& members,
                                                      GroupSetConfig config) {
  NodeId max_node = 0;
  std::vector<const std::pair<const GroupId, std::vector<NodeId>>*> order;
  for (const auto& entry : members) {
    order.push_back(&entry);
    for (NodeId n : entry.second) max_node = std::max(max_node, n);
  }
  std::stable_sort(order.begin(), order.end(),
                   [](const auto* a, const auto* b) { return a->second.size() > b->second.size(); });
  std::unordered_map<GroupId, SetId> set_of;
  std::vector<bool> placed(order.size(), false);
  size_t left = order.size();
  SetId set = 0;
  for (size_t start = 0; left > 0; ++set) {
    while (placed[start]) ++start;
    SetBuilder builder(max_node, config.min_region_size);
    for (size_t i = start; i < order.size(); ++i) {
      if (placed[i]) continue;
      if (builder.TryAdd(order[i]->second, /*force=*/i == start)) {
        placed[i] = true;
        --left;
        set_of[order[i]->first] = set;
      }
    }
  }
  return set_of;
}

std::map<GroupId, std::vector<NodeId>> MakeZipfMembership(const ZipfWorkload& w) {
  // c such that sum over ranks of min(1, c r^-alpha) = fraction * groups (bisection; the sum
  // grows with c).
  auto expected = [&](double c) {
    double sum = 0;
    for (size_t r = 1; r <= w.groups; ++r)
      sum += std::min(1.0, c * std::pow(static_cast<double>(r), -w.alpha));
    return sum;
  };
  const double target = w.fraction * static_cast<double>(w.groups);
  double lo = 0, hi = 1;
  while (expected(hi) < target && hi < 1e30) hi *= 2;
  for (int i = 0; i < 100; ++i) {
    const double mid = (lo + hi) / 2;
    (expected(mid) < target ? lo : hi) = mid;
  }
  Random random(w.seed);
  std::map<GroupId, std::vector<NodeId>> out;
  for (size_t r = 1; r <= w.groups; ++r) {
    const double p = std::min(1.0, hi * std::pow(static_cast<double>(r), -w.alpha));
    auto& members = out[static_cast<GroupId>(r)];
    for (size_t n = 1; n <= w.nodes; ++n) {
      if (random.NextDouble() < p) members.push_back(static_cast<NodeId>(n));
    }
    if (members.empty()) out.erase(static_cast<GroupId>(r));
  }
  return out;
}

RegionStatistics ComputeRegionStatistics(const Membership& m) {
  RegionStatistics s;
  s.nodes = m.nodes().size();
  std::set<SetId> sets;
  std::vector<size_t> sizes;
  for (const auto& [id, r] : m.regions()) {
    if (r.members.empty()) continue;
    sizes.push_back(r.members.size());
    sets.insert(r.set);
  }
  s.sets = sets.size();
  s.regions = sizes.size();
  std::vector<double> shares;
  double share_by_size_sum = 0;
  s.concentration_equal.assign(RegionStatistics::kConcentrationRanks, 0);
  s.concentration_by_size.assign(RegionStatistics::kConcentrationRanks, 0);
  size_t region_memberships = 0, counted = 0;
  // The cumulative share of `load` (sorted, busiest first) in its top k, added into `out`.
  auto accumulate_concentration = [](std::vector<double> load, std::vector<double>& out) {
    std::sort(load.rbegin(), load.rend());
    const double total = std::accumulate(load.begin(), load.end(), 0.0);
    double running = 0;
    for (size_t k = 0; k < out.size(); ++k) {
      if (k < load.size()) running += load[k];
      out[k] += total > 0 ? running / total : 0;
    }
    return total > 0 ? ((load.size() > 0 ? load[0] : 0) + (load.size() > 1 ? load[1] : 0)) / total : 0.0;
  };
  for (const auto& [id, n] : m.nodes()) {
    std::vector<double> equal, by_size;
    for (RegionId r : m.RegionsOf(id)) {
      const Region& region = *m.region(r);
      equal.push_back(static_cast<double>(region.signature.size()));
      double size_weighted = 0;
      for (GroupId g : region.signature) size_weighted += static_cast<double>(m.group(g)->members.size());
      by_size.push_back(size_weighted);
    }
    region_memberships += equal.size();
    s.regions_per_node_max = std::max(s.regions_per_node_max, equal.size());
    if (equal.empty()) continue;
    ++counted;
    shares.push_back(accumulate_concentration(equal, s.concentration_equal));
    share_by_size_sum += accumulate_concentration(by_size, s.concentration_by_size);
  }
  if (s.nodes > 0)
    s.regions_per_node_mean = static_cast<double>(region_memberships) / static_cast<double>(s.nodes);
  if (counted > 0) {
    for (double& c : s.concentration_equal) c /= static_cast<double>(counted);
    for (double& c : s.concentration_by_size) c /= static_cast<double>(counted);
    s.top2_traffic_share_by_size_mean = share_by_size_sum / static_cast<double>(counted);
  }
  if (!shares.empty()) {
    s.top2_traffic_share_mean =
        std::accumulate(shares.begin(), shares.end(), 0.0) / static_cast<double>(shares.size());
    std::sort(shares.begin(), shares.end());
    s.top2_traffic_share_p5 = shares[shares.size() / 20];
  }
  size_t group_regions = 0;
  std::set<GroupId> groups;
  for (const auto& [id, n] : m.nodes()) groups.insert(n.groups.begin(), n.groups.end());
  s.groups = groups.size();
  for (GroupId g : groups) {
    const size_t spans = m.group(g)->regions.size();
    group_regions += spans;
    s.regions_per_group_max = std::max(s.regions_per_group_max, spans);
  }
  if (s.groups > 0)
    s.regions_per_group_mean = static_cast<double>(group_regions) / static_cast<double>(s.groups);
  if (!sizes.empty()) {
    std::sort(sizes.begin(), sizes.end());
    s.region_size_mean = static_cast<double>(std::accumulate(sizes.begin(), sizes.end(), size_t{0})) /
                         static_cast<double>(sizes.size());
    s.region_size_median = sizes[sizes.size() / 2];
    s.region_size_p10 = sizes[sizes.size() / 10];
    s.region_size_p90 = sizes[sizes.size() * 9 / 10];
  }
  return s;
}

}  // namespace qsm::membership
