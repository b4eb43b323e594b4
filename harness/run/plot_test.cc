// Figures drawn from real (simulated) runs by the real gnuplot scripts.
#include "harness/run/plot.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness/run/groupsets.h"
#include "harness/run/launcher.h"
#include "harness/workload/text.h"

namespace qsm::harness {
namespace {

namespace fs = std::filesystem;

class PlotTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("qsm-plot-test-" + std::to_string(getpid()));
    fs::create_directories(root_);
    // Two runs of a small simulated region: a baseline and one with a sleeping receiver.
    baseline_ = Simulate("baseline", "[]", 1);
    perturbed_ = Simulate("sleep", "[{type: sleep, nodes: [3], every: 1s, for: 300ms}]", 2);
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  static std::string Simulate(const std::string& name, const std::string& faults, int index) {
    auto sc = ParseScenario("name: " + name +
                                "\nlauncher: sim\nnodes: 5\nrate: 2000\nduration: 3s\nwarmup: 500ms\n"
                                "faults: " +
                                faults + "\n",
                            "test.yaml");
    EXPECT_TRUE(sc.has_value()) << sc.error().message;
    auto points = ExpandRuns(*sc);
    const std::string dir = (root_ / (std::to_string(index) + "-" + name)).string();
    auto record = RunSimulation(points->front(), LaunchOptions{.run_dir = dir, .progress = false});
    EXPECT_TRUE(record.has_value());
    const CheckReport check = CheckDeliveries(CheckInputOf(*record));
    EXPECT_TRUE(WriteRunFolder(dir, *record, check).has_value());
    summaries_.push_back(BuildSummary(*record, check));
    return dir;
  }
  static std::string Copy(const std::string& run, const std::string& name) {
    const fs::path to = root_ / name;
    fs::remove_all(to);
    fs::copy(run, to, fs::copy_options::recursive);
    return to.string();
  }
  static std::string Read(const std::string& path) { return ReadFile(path).value_or(""); }
  // A PNG of at least 800 x 300 with enough content not to be a blank canvas: an empty frame with
  // axes renders to about 7 KB at these sizes, one panel of real series to about 19 KB.
  static void ExpectRealPng(const std::string& path) {
    const std::string bytes = Read(path);
    ASSERT_GT(bytes.size(), 24u) << path;
    EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << path;
    EXPECT_EQ(bytes.substr(12, 4), "IHDR");
    auto be32 = [&](size_t at) {
      return (uint32_t{static_cast<uint8_t>(bytes[at])} << 24) |
             (uint32_t{static_cast<uint8_t>(bytes[at + 1])} << 16) |
             (uint32_t{static_cast<uint8_t>(bytes[at + 2])} << 8) |
             uint32_t{static_cast<uint8_t>(bytes[at + 3])};
    };
    EXPECT_GE(be32(16), 800u) << path;
    EXPECT_GE(be32(20), 300u) << path;
    EXPECT_GT(bytes.size(), 12000u) << path << " looks blank";
  }
  // An SVG document with drawn series: gnuplot puts each series in a group "gnuplot_plot_N";
  // at least two of them must hold a line through several points.
  static void ExpectRealSvg(const std::string& path) {
    const std::string text = Read(path);
    EXPECT_NE(text.find("<svg"), std::string::npos) << path;
    EXPECT_NE(text.find("</svg>"), std::string::npos) << path;
    size_t drawn_series = 0;
    for (size_t at = 0; (at = text.find("id=\"gnuplot_plot_", at)) != std::string::npos; ++at) {
      const size_t next = text.find("id=\"gnuplot_plot_", at + 1);
      const std::string group = text.substr(at, next == std::string::npos ? std::string::npos : next - at);
      size_t points = 0;
      for (size_t p = 0; (p = group.find(" L", p)) != std::string::npos; ++p) ++points;
      if (points >= 3) ++drawn_series;
    }
    EXPECT_GE(drawn_series, 2u) << path << " has almost nothing drawn";
  }
  PlotOptions Options() const { return PlotOptions{.scripts_dir = QSM_SOURCE_DIR "/plots"}; }

  static inline fs::path root_;
  static inline std::string baseline_, perturbed_;
  static inline std::vector<nlohmann::json> summaries_;
};

TEST_F(PlotTest, ARunDrawsItsTimeSeriesAndLatencySpectrumAsPngAndSvg) {
  auto drawn = PlotRun(perturbed_, Options());
  ASSERT_TRUE(drawn.has_value()) << drawn.error().message;
  ASSERT_EQ(drawn->size(), 4u);
  for (const auto& f : *drawn) {
    if (f.ends_with(".png"))
      ExpectRealPng(f);
    else
      ExpectRealSvg(f);
  }
  EXPECT_TRUE(fs::exists(perturbed_ + "/plots/timeseries.png"));
  EXPECT_TRUE(fs::exists(perturbed_ + "/plots/latency.svg"));
}

TEST_F(PlotTest, ARunOverlaysItsBaseline) {
  auto drawn =
      PlotOverlay({baseline_, perturbed_}, (root_ / "cmp" / "sleep-over-baseline").string(), Options());
  ASSERT_TRUE(drawn.has_value()) << drawn.error().message;
  ASSERT_EQ(drawn->size(), 4u);
  ExpectRealPng((root_ / "cmp" / "sleep-over-baseline-timeseries.png").string());
  EXPECT_FALSE(PlotOverlay({baseline_}, "x", Options()).has_value());
}

// Raw UDP has no token ring and nothing pending: its run figure and an overlay of two of its runs
// still draw (the token panel says so) instead of failing on empty series.
TEST_F(PlotTest, AnEngineWithoutATokenRingStillDraws) {
  std::vector<std::string> runs;
  for (const char* faults : {"[]", "[{type: sleep, nodes: [3], every: 1s, for: 300ms}]"}) {
    auto sc = ParseScenario("name: udp\nlauncher: sim\nnodes: 3\nrate: 2000\nduration: 2s\nwarmup: 500ms\n"
                            "engine: {kind: udp}\nfaults: " + std::string(faults) + "\n",
                            "test.yaml");
    ASSERT_TRUE(sc.has_value()) << sc.error().message;
    const std::string dir = (root_ / ("udp-" + std::to_string(runs.size()))).string();
    auto record = RunSimulation(*sc, LaunchOptions{.run_dir = dir, .progress = false});
    ASSERT_TRUE(record.has_value()) << record.error().message;
    ASSERT_TRUE(WriteRunFolder(dir, *record, CheckDeliveries(CheckInputOf(*record))).has_value());
    runs.push_back(dir);
  }
  auto run = PlotRun(runs[1], Options());
  ASSERT_TRUE(run.has_value()) << run.error().message;
  ExpectRealPng(runs[1] + "/plots/timeseries.png");
  EXPECT_NE(Read(runs[1] + "/plots/timeseries.svg").find("no token ring in this engine"), std::string::npos);
  auto overlay = PlotOverlay(runs, (root_ / "cmp" / "udp-sleep-over-udp").string(), Options());
  ASSERT_TRUE(overlay.has_value()) << overlay.error().message;
  EXPECT_NE(Read((root_ / "cmp" / "udp-sleep-over-udp-timeseries.svg").string()).find("no token ring in these engines"),
            std::string::npos);
}

TEST_F(PlotTest, SweepTablesDrawThePapersFigures) {
  auto sc = ParseScenario(
      "name: size\nlauncher: sim\nrate: 1000\nduration: 2s\nwarmup: 500ms\nsweep: {nodes: [3, 5, 8]}\n",
      "test.yaml");
  ASSERT_TRUE(sc.has_value());
  auto points = ExpandRuns(*sc);
  ASSERT_TRUE(points.has_value());
  const fs::path dir = root_ / "sweep";
  std::vector<nlohmann::json> summaries;
  for (const Scenario& point : *points) {
    auto record = RunSimulation(point, LaunchOptions{.progress = false});
    ASSERT_TRUE(record.has_value());
    summaries.push_back(BuildSummary(*record, CheckDeliveries(CheckInputOf(*record))));
  }
  std::reverse(summaries.begin(), summaries.end());  // as a folder listing may order them
  auto tables = WriteSweepTables(dir.string(), summaries);
  ASSERT_TRUE(tables.has_value()) << tables.error().message;
  ASSERT_EQ(tables->size(), 1u);
  std::vector<std::string> xs;  // rows come out by swept value
  std::stringstream rows(Read(tables->front()));
  std::string row;
  std::getline(rows, row);
  while (std::getline(rows, row))
    xs.push_back(row.substr(row.find(",nodes,") + 7,
                            row.find(',', row.find(",nodes,") + 7) - row.find(",nodes,") - 7));
  EXPECT_EQ(xs, (std::vector<std::string>{"3", "5", "8"}));
  auto drawn = PlotSweeps(dir.string(), Options());
  ASSERT_TRUE(drawn.has_value()) << drawn.error().message;
  ASSERT_EQ(drawn->size(), 2u);
  ExpectRealPng((dir / "plots" / "fig14_15.png").string());
  EXPECT_EQ(FigureFor("engine.replication", false), "fig19_20.gp");
  EXPECT_EQ(FigureFor("nodes", true), "fig21_23.gp");
  EXPECT_EQ(FigureFor("rate", false), "fig24_26.gp");
  EXPECT_EQ(FigureFor("groups", false), "fig27_29.gp");
}

TEST_F(PlotTest, TheGroupSetExperimentWritesItsTablesAndDrawsFig5And6) {
  const fs::path dir = root_ / "groupsets";
  auto rows =
      RunGroupSetExperiment({.nodes = {60, 120}, .groups = {100, 200}, .seed = 2}, dir.string(), nullptr);
  ASSERT_TRUE(rows.has_value()) << rows.error().message;
  ASSERT_EQ(rows->size(), 4u);
  for (const GroupSetRow& r : *rows) {
    EXPECT_GT(r.stats.sets, 0u);
    EXPECT_GE(r.stats.regions_per_node_mean, 1.0);
    EXPECT_GE(r.stats.regions_per_node_max, r.stats.regions_per_node_mean);
    EXPECT_GT(r.stats.top2_traffic_share_mean, 0.0);
    EXPECT_LE(r.stats.top2_traffic_share_mean, 1.0);
  }
  // Rows are groups-major (one line per group count in the figure), with the columns it needs.
  const std::string csv = Read((dir / "groupsets.csv").string());
  EXPECT_EQ(csv.substr(0, csv.find('\n')).rfind("nodes,groups,sets,regions,regions_per_node_mean", 0), 0u);
  EXPECT_NE(csv.find("\n60,100,"), std::string::npos);
  EXPECT_LT(csv.find("\n120,100,"), csv.find("\n60,200,"));
  EXPECT_NE(Read((dir / "traffic-concentration.csv").string()).find("\n16,"), std::string::npos);
  EXPECT_NE(GroupSetTable(*rows).find("paper (Fig 5-6)"), std::string::npos);
  auto drawn = PlotGroupSets(dir.string(), Options());
  ASSERT_TRUE(drawn.has_value()) << drawn.error().message;
  ExpectRealPng((dir / "plots" / "fig05_06.png").string());
  ExpectRealSvg((dir / "plots" / "fig05_06.svg").string());
}

TEST_F(PlotTest, AMissingColumnIsNamed) {
  const std::string run = Copy(perturbed_, "missing-column");
  std::string text = Read(run + "/timeseries.csv");
  text.replace(text.find(",pending_bytes,"), 15, ",pending_bites,");
  std::ofstream(run + "/timeseries.csv") << text;
  auto drawn = PlotRun(run, Options());
  ASSERT_FALSE(drawn.has_value());
  EXPECT_EQ(drawn.error().message,
            run + "/timeseries.csv: column 'pending_bytes' is missing (run.gp needs it)");
}

TEST_F(PlotTest, AnEmptySeriesIsAnErrorNotABlankFigure) {
  const std::string run = Copy(perturbed_, "no-data");
  const std::string text = Read(run + "/timeseries.csv");
  std::ofstream(run + "/timeseries.csv") << text.substr(0, text.find('\n') + 1);  // the header only
  auto drawn = PlotRun(run, Options());
  ASSERT_FALSE(drawn.has_value());
  EXPECT_NE(drawn.error().message.find("no data to plot for throughput"), std::string::npos)
      << drawn.error().message;
}

}  // namespace
}  // namespace qsm::harness
