#include "harness/run/groupsets.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "harness/workload/text.h"

namespace qsm::harness {
namespace {

namespace fs = std::filesystem;

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Result<std::vector<GroupSetRow>> RunGroupSetExperiment(const GroupSetExperiment& e, const std::string& dir,
                                                       FILE* progress) {
  std::vector<GroupSetRow> rows;
  std::ostringstream csv;
  csv << "nodes,groups,sets,regions,regions_per_node_mean,regions_per_node_max,top2_share_equal,"
         "top2_share_equal_p5,top2_share_by_size,regions_per_group_mean,regions_per_group_max,"
         "region_size_mean,region_size_median,region_size_p10,region_size_p90,partition_s,views_s\n";
  // Groups-major, so that each group count's rows are consecutive (one line each in the figure).
  for (uint32_t groups : e.groups) {
    for (uint32_t nodes : e.nodes) {
      GroupSetRow row{.nodes = nodes, .groups = groups};
      const auto members = membership::MakeZipfMembership(
          {.nodes = nodes, .groups = groups, .alpha = e.alpha, .fraction = e.fraction, .seed = e.seed});
      auto start = std::chrono::steady_clock::now();
      const auto sets = membership::PartitionGroupSets(members, {.min_region_size = e.min_region_size});
      row.partition_seconds = SecondsSince(start);
      std::map<uint32_t, std::vector<uint32_t>> by_node;
      for (const auto& [g, ids] : members) {
        for (uint32_t n : ids) by_node[n].push_back(g);
      }
      start = std::chrono::steady_clock::now();
      membership::Membership m{membership::AddressPool(Endpoint::FromOctets(239, 0, 0, 1, 7400), 1u << 20)};
      if (auto s = m.SetGroupSets(sets); !s) return std::unexpected(s.error());
      for (const auto& [n, g] : by_node) {
        m.Upsert(
            {.id = n, .incarnation = 1, .endpoint = Endpoint::FromOctets(198, 18, 0, 1, 7000), .groups = g});
      }
      m.Commit();
      row.views_seconds = SecondsSince(start);
      row.stats = membership::ComputeRegionStatistics(m);
      const auto& s = row.stats;
      if (progress != nullptr) {
        std::fprintf(progress, "groupsets: %u nodes, %u groups: %zu sets, %.1f regions per node (%.1f s)\n",
                     nodes, groups, s.sets, s.regions_per_node_mean,
                     row.partition_seconds + row.views_seconds);
      }
      char line[512];
      std::snprintf(
          line, sizeof line, "%u,%u,%zu,%zu,%.3f,%zu,%.4f,%.4f,%.4f,%.3f,%zu,%.2f,%zu,%zu,%zu,%.3f,%.3f\n",
          nodes, groups, s.sets, s.regions, s.regions_per_node_mean, s.regions_per_node_max,
          s.top2_traffic_share_mean, s.top2_traffic_share_p5, s.top2_traffic_share_by_size_mean,
          s.regions_per_group_mean, s.regions_per_group_max, s.region_size_mean, s.region_size_median,
          s.region_size_p10, s.region_size_p90, row.partition_seconds, row.views_seconds);
      csv << line;
      rows.push_back(std::move(row));
    }
  }
  if (rows.empty()) return MakeError(ErrorCode::kInvalidArgument, "groupsets: no sizes given");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return MakeError(ErrorCode::kIo, dir + ": " + ec.message());
  if (auto s = WriteFile((fs::path(dir) / "groupsets.csv").string(), csv.str()); !s)
    return std::unexpected(s.error());
  // The concentration curve of the largest size (the paper's Fig 6: 2000 nodes, 10,000 groups).
  const GroupSetRow* largest = &rows.front();
  for (const GroupSetRow& r : rows) {
    if (uint64_t{r.nodes} * r.groups > uint64_t{largest->nodes} * largest->groups) largest = &r;
  }
  std::ostringstream curve;
  curve << "k,share_equal,share_by_size,nodes,groups\n";
  for (size_t k = 0; k < largest->stats.concentration_equal.size(); ++k) {
    char line[128];
    std::snprintf(line, sizeof line, "%zu,%.4f,%.4f,%u,%u\n", k + 1, largest->stats.concentration_equal[k],
                  largest->stats.concentration_by_size[k], largest->nodes, largest->groups);
    curve << line;
  }
  if (auto s = WriteFile((fs::path(dir) / "traffic-concentration.csv").string(), curve.str()); !s) {
    return std::unexpected(s.error());
  }
  return rows;
}

std::string GroupSetTable(const std::vector<GroupSetRow>& rows) {
  std::ostringstream out;
  char line[256];
  std::snprintf(line, sizeof line, "%6s %6s %6s %8s %16s %13s %13s %12s %18s\n", "nodes", "groups", "sets",
                "regions", "regions/node", "top-2 share", "top-2 share", "regions per", "region size");
  out << line;
  std::snprintf(line, sizeof line, "%6s %6s %6s %8s %16s %13s %13s %12s %18s\n", "", "", "", "", "mean (max)",
                "equal rate", "rate ~ size", "group: max", "p10/median/p90");
  out << line;
  for (const GroupSetRow& r : rows) {
    const auto& s = r.stats;
    char per_node[32], sizes[32];
    std::snprintf(per_node, sizeof per_node, "%.1f (%zu)", s.regions_per_node_mean, s.regions_per_node_max);
    std::snprintf(sizes, sizeof sizes, "%zu/%zu/%zu", s.region_size_p10, s.region_size_median,
                  s.region_size_p90);
    std::snprintf(line, sizeof line, "%6u %6u %6zu %8zu %16s %12.0f%% %12.0f%% %12zu %18s\n", r.nodes,
                  r.groups, s.sets, s.regions, per_node, 100 * s.top2_traffic_share_mean,
                  100 * s.top2_traffic_share_by_size_mean, s.regions_per_group_max, sizes);
    out << line;
  }
  out << "paper (Fig 5-6): 4-14 regions per node, 95% of traffic in 2 regions, at most ~5 regions per group, "
         "regions of 5-10 members\n";
  return out.str();
}

Result<std::vector<std::string>> PlotGroupSets(const std::string& dir, const PlotOptions& options) {
  return PlotTables(
      (fs::path(options.scripts_dir) / "fig05_06.gp").string(),
      {(fs::path(dir) / "groupsets.csv").string(), (fs::path(dir) / "traffic-concentration.csv").string()},
      (fs::path(dir) / "plots" / "fig05_06").string(), options);
}

}  // namespace qsm::harness
