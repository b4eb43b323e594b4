// qsm-harness: runs scenarios against the QSM engine and checks what was delivered.
//   run SCENARIO      one scenario (or each point of its sweep) on its launcher
//   suite FILE|DIR    the scenarios a suite lists (or every scenario in a folder), then a table
//   sim SCENARIO      run on the simulator, whatever launcher the file names
//   check RESULTS     re-check a results folder (one run, or a folder of runs)
//   plot RESULTS      redraw the figures of a results folder; plot --overlay RUN RUN... overlays runs
//   compare A B...    results folders side by side, run by run, ratios against A; with
//                     --max-regression METRIC=FRACTION, exit 1 when one is crossed
//   list              the bundled scenarios and suites
// Exit status: 0 all checks passed; 1 a delivery check failed or a node died (compare: a
// regression); 2 bad input;
// 130 interrupted (Ctrl-C; what was measured is still written).
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/core/build_info.h"
#include "harness/run/compare.h"
#include "harness/run/doctor.h"
#include "harness/run/groupsets.h"
#include "harness/run/launcher.h"
#include "harness/run/plot.h"
#include "harness/run/report.h"
#include "harness/run/serve.h"
#include "harness/scenario/scenario.h"

#ifndef QSM_SOURCE_DIR
#define QSM_SOURCE_DIR "."
#endif

namespace qsm::harness {
namespace {

namespace fs = std::filesystem;

std::atomic<bool> g_interrupted{false};
extern "C" void OnInterrupt(int) { g_interrupted.store(true); }

struct Options {
  std::string target;
  std::vector<std::string> set;
  std::string out;
  std::string launcher;
  std::string node_binary;
  std::string inventory;
  std::string playbooks = QSM_SOURCE_DIR "/playbooks";
  std::string scenarios = QSM_SOURCE_DIR "/harness/scenarios";
  std::string plots = QSM_SOURCE_DIR "/plots";
  std::vector<std::string> formats{"png", "svg"};
  std::vector<std::string> overlay;
  std::vector<std::string> compare;
  std::vector<std::string> max_regression;
  bool quiet = false;
  bool no_plot = false;
  bool prometheus = false;
  uint16_t serve_port = 8080;
  GroupSetExperiment groupsets;
};

constexpr int kOk = 0, kFailed = 1, kBadInput = 2, kInterrupted = 130;

std::string DefaultNodeBinary() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path sibling = self.parent_path().parent_path() / "daemons" / "qsm-node";
    if (fs::exists(sibling)) return sibling.string();
  }
  return "qsm-node";
}

std::string Timestamp() {
  const std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%d-%H%M%S", std::gmtime(&now));
  return text;
}

std::string SafeName(std::string name) {
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '=' && c != '.') c = '_';
  }
  return name;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "qsm-harness: %s\n", message.c_str());
  return kBadInput;
}

PlotOptions PlotOptionsOf(const Options& o) {
  return PlotOptions{.scripts_dir = o.plots, .formats = o.formats};
}

// Prints what was drawn, or why not; returns false on an error.
bool Report(const Result<std::vector<std::string>>& drawn, const char* what) {
  if (!drawn) {
    std::fprintf(stderr, "qsm-harness: plot %s: %s\n", what, drawn.error().message.c_str());
    return false;
  }
  return true;
}

// Draws a folder of runs: each run, the sweeps, and each run over the baseline (a run whose
// name starts with "baseline"), if there is one. Returns false if any drawing failed.
// For each run, the run it is compared with: the first run named baseline* of the same engine
// (suite engines has one per engine); none for those baselines and where there is none.
std::vector<std::optional<size_t>> Baselines(const std::vector<nlohmann::json>& summaries) {
  const auto is_baseline = [&](size_t i) {
    return summaries[i]["scenario"]["name"].get<std::string>().rfind("baseline", 0) == 0;
  };
  std::map<std::string, size_t> by_engine;
  for (size_t i = 0; i < summaries.size(); ++i) {
    if (is_baseline(i)) by_engine.try_emplace(EngineKindOf(summaries[i]), i);
  }
  std::vector<std::optional<size_t>> out(summaries.size());
  for (size_t i = 0; i < summaries.size(); ++i) {
    auto b = by_engine.find(EngineKindOf(summaries[i]));
    if (b != by_engine.end() && !is_baseline(i)) out[i] = b->second;
  }
  return out;
}

bool PlotFolder(const std::string& out, const std::vector<std::string>& run_dirs,
                const std::vector<nlohmann::json>& summaries, const Options& o) {
  bool ok = true;
  for (const auto& dir : run_dirs) ok = Report(PlotRun(dir, PlotOptionsOf(o)), dir.c_str()) && ok;
  auto tables = WriteSweepTables(out, summaries);
  if (!tables) {
    std::fprintf(stderr, "qsm-harness: %s\n", tables.error().message.c_str());
    return false;
  }
  if (!tables->empty()) ok = Report(PlotSweeps(out, PlotOptionsOf(o)), "sweeps") && ok;
  const std::vector<std::optional<size_t>> baselines = Baselines(summaries);
  for (size_t i = 0; i < run_dirs.size(); ++i) {
    if (!baselines[i]) continue;
    const std::string prefix = out + "/plots/overlay-" + fs::path(run_dirs[i]).filename().string();
    ok = Report(PlotOverlay({run_dirs[*baselines[i]], run_dirs[i]}, prefix, PlotOptionsOf(o)), "overlay") && ok;
  }
  return ok;
}

// Runs one scenario into `dir`, prints the verdict; returns the summary (null if it did not run).
nlohmann::json RunOne(const Scenario& sc, const std::string& dir, const Options& o, int& status) {
  LaunchOptions launch{.node_binary = o.node_binary.empty() ? DefaultNodeBinary() : o.node_binary,
                       .run_dir = dir,
                       .progress = !o.quiet,
                       .interrupted = &g_interrupted,
                       .prometheus = o.prometheus,
                       .rules_file = QSM_SOURCE_DIR "/exporters/prometheus/rules.yml",
                       .inventory = o.inventory,
                       .playbooks_dir = o.playbooks};
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    status = std::max(status, Fail("cannot create " + dir + ": " + ec.message()));
    return nullptr;
  }
  Result<RunRecord> record;
  if ((sc.launcher == "sim" || sc.launcher == "inventory") && o.prometheus) {
    record = MakeError(ErrorCode::kInvalidArgument,
                       "--prometheus runs a Prometheus beside local or netns nodes (an inventory's comes from "
                       "playbooks/site.yml)");
  } else if (sc.launcher == "sim") {
    record = RunSimulation(sc, launch);
  } else if (sc.launcher == "local" || sc.launcher == "netns") {
    record = RunProcesses(sc, launch);
  } else {
    record = RunInventory(sc, launch);
  }
  if (!record) {
    status = std::max(status, Fail(record.error().message));
    return nullptr;
  }
  const CheckReport check = CheckDeliveries(CheckInputOf(*record));
  auto written = WriteRunFolder(dir, *record, check);
  if (!written) status = std::max(status, Fail(written.error().message));
  nlohmann::json summary = written ? *written : BuildSummary(*record, check);
  const bool ok = summary["check"]["ok"].get<bool>();
  if (!ok) {
    std::printf("%s: FAILED\n", sc.name.c_str());
    for (const auto& i : record->incidents) std::printf("  incident: %s\n", i.c_str());
    for (const auto& v : check.violations) std::printf("  violation: %s\n", v.c_str());
    for (const auto& n : check.notes) std::printf("  note: %s\n", n.c_str());
    if (check.violations_total > check.violations.size()) {
      std::printf("  ... %zu violations in all (summary.json)\n", check.violations_total);
    }
  }
  if (record->interrupted)
    status = std::max(status, kInterrupted);
  else if (!ok)
    status = std::max(status, kFailed);
  return summary;
}

void PrintTable(const std::vector<nlohmann::json>& summaries) {
  std::printf("\n%s\n", TableHeader().c_str());
  for (const auto& s : summaries) std::printf("%s\n", TableRow(s).c_str());
  if (const std::vector<std::string> engines = EnginesTable(summaries); !engines.empty()) {
    std::printf("\nengines side by side (the slowest receiver's msgs/s; delivered: of the messages expected):\n");
    for (const std::string& line : engines) std::printf("%s\n", line.c_str());
  }
  const std::vector<std::optional<size_t>> baselines = Baselines(summaries);
  if (std::none_of(baselines.begin(), baselines.end(), [](const auto& b) { return b.has_value(); })) return;
  std::printf("\nthroughput as a fraction of the baseline of the same engine (slowest receiver):\n");
  const auto name = [&](size_t i) { return summaries[i]["scenario"]["name"].get<std::string>(); };
  const auto rate = [&](size_t i) { return summaries[i]["throughput"]["msgs_per_s"]["min"].get<double>(); };
  for (size_t i = 0; i < summaries.size(); ++i) {
    if (!baselines[i]) continue;
    const double base = rate(*baselines[i]);
    std::printf("  %-28s %.2f of %s\n", name(i).c_str(), base > 0 ? rate(i) / base : 0.0, name(*baselines[i]).c_str());
  }
}

// Loads a scenario (bundled name or path) with overrides, expanded into its sweep's runs.
Result<std::vector<Scenario>> LoadRuns(const std::string& target, const Overrides& overrides,
                                       const Options& o) {
  auto path = ResolveBundled(target, o.scenarios);
  if (!path) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "no scenario '" + target + "' (not a file, not bundled; see: qsm-harness list)");
  }
  auto sc = LoadScenario(*path, overrides);
  if (!sc) return std::unexpected(sc.error());
  return ExpandRuns(*sc);
}

int RunScenarios(const std::vector<std::pair<std::string, Overrides>>& entries, const std::string& label,
                 const Options& o) {
  auto cli = ParseOverrides(o.set);
  if (!cli) return Fail(cli.error().message);
  std::vector<Scenario> runs;
  for (const auto& [target, overrides] : entries) {  // everything is validated before anything runs
    Overrides all = overrides;
    all.insert(all.end(), cli->begin(), cli->end());
    if (!o.launcher.empty()) all.emplace_back("launcher", o.launcher);
    auto expanded = LoadRuns(target, all, o);
    if (!expanded) return Fail(expanded.error().message);
    runs.insert(runs.end(), expanded->begin(), expanded->end());
  }
  const std::string out = o.out.empty() ? "results/" + Timestamp() + "-" + SafeName(label) : o.out;
  int status = kOk;
  std::vector<nlohmann::json> summaries;
  std::vector<std::string> run_dirs;
  for (size_t i = 0; i < runs.size() && !g_interrupted.load(); ++i) {
    const std::string dir =
        out + "/" + (runs.size() > 1 ? std::to_string(i + 1) + "-" : "") + SafeName(runs[i].name);
    if (!o.quiet)
      std::fprintf(stderr, "== %s (%s, %u nodes)\n", runs[i].name.c_str(), runs[i].launcher.c_str(),
                   runs[i].nodes);
    nlohmann::json summary = RunOne(runs[i], dir, o, status);
    if (!summary.is_null()) {
      summaries.push_back(std::move(summary));
      run_dirs.push_back(dir);
    }
  }
  if (!summaries.empty()) PrintTable(summaries);
  if (!summaries.empty() && !o.no_plot) {
    if (PlotFolder(out, run_dirs, summaries, o))
      std::printf("\nfigures: %s/*/plots/ and %s/plots/\n", out.c_str(), out.c_str());
  }
  if (auto pages = WriteReports(out); pages) {
    std::printf("\nreport: %s/index.html (qsm-harness serve %s: browse every results folder there)\n", out.c_str(),
                fs::path(out).parent_path().empty() ? "." : fs::path(out).parent_path().c_str());
  } else {
    std::fprintf(stderr, "qsm-harness: the HTML report: %s\n", pages.error().message.c_str());
  }
  std::printf("\nresults: %s\n", out.c_str());
  if (status == kInterrupted) std::printf("interrupted: the results hold what was measured until then\n");
  return status;
}

int Check(const std::string& dir) {
  auto runs = RunFolders(dir);
  if (!runs) return Fail(runs.error().message);
  int status = kOk;
  for (const auto& run : *runs) {
    auto record = ReadRunFolder(run);
    if (!record) {
      status = std::max(status, Fail(record.error().message));
      continue;
    }
    const CheckReport report = CheckDeliveries(CheckInputOf(*record));
    for (const auto& v : report.violations) std::printf("%s: violation: %s\n", run.c_str(), v.c_str());
    for (const auto& n : report.notes) std::printf("%s: note: %s\n", run.c_str(), n.c_str());
    std::printf(
        "%s: %s: %llu of %llu expected deliveries, %llu lost, %llu behind, %llu duplicate, %llu out of order\n",
        run.c_str(), report.ok ? "OK" : "FAILED", static_cast<unsigned long long>(report.delivered),
        static_cast<unsigned long long>(report.expected), static_cast<unsigned long long>(report.lost),
        static_cast<unsigned long long>(report.behind),
                static_cast<unsigned long long>(report.duplicates),
                static_cast<unsigned long long>(report.out_of_order));
    if (!report.ok) status = std::max(status, kFailed);
  }
  return status;
}

// `plot RESULTS`: redraws a run folder or a folder of runs; `plot --overlay RUN RUN... --out P`.
int Plot(const Options& o) {
  if (!o.overlay.empty()) {
    const std::string prefix = o.out.empty() ? "overlay" : o.out;
    auto drawn = PlotOverlay(o.overlay, prefix, PlotOptionsOf(o));
    if (!drawn) return Fail(drawn.error().message);
    for (const auto& f : *drawn) std::printf("%s\n", f.c_str());
    return kOk;
  }
  if (o.target.empty()) return Fail("plot: give a results folder, or --overlay RUN RUN...");
  auto found = RunFolders(o.target);
  if (!found) return Fail(found.error().message);
  const std::vector<std::string>& run_dirs = *found;
  if (run_dirs.size() == 1 && run_dirs[0] == o.target) {
    auto drawn = PlotRun(o.target, PlotOptionsOf(o));
    if (!drawn) return Fail(drawn.error().message);
    for (const auto& f : *drawn) std::printf("%s\n", f.c_str());
    return kOk;
  }
  std::vector<nlohmann::json> summaries;
  for (const auto& dir : run_dirs) {
    std::ifstream in(dir + "/summary.json");
    nlohmann::json s = nlohmann::json::parse(in, nullptr, false);
    if (s.is_discarded()) return Fail(dir + "/summary.json: not valid JSON");
    summaries.push_back(std::move(s));
  }
  if (!PlotFolder(o.target, run_dirs, summaries, o)) return kFailed;
  std::printf("figures: %s/*/plots/ and %s/plots/\n", o.target.c_str(), o.target.c_str());
  return kOk;
}

// `compare A B...`: the table, then the regressions; exit 1 if there are any.
int CompareResults(const Options& o) {
  CompareOptions options;
  for (const auto& m : o.max_regression) {
    if (auto s = ParseMaxRegression(m, options); !s) return Fail(s.error().message);
  }
  std::vector<ResultSet> sets;
  for (const auto& folder : o.compare) {
    auto set = LoadResultSet(folder);
    if (!set) return Fail(set.error().message);
    sets.push_back(std::move(*set));
  }
  const Comparison c = Compare(sets, options);
  std::printf("%s", c.table.c_str());
  if (c.regressions.empty()) {
    if (!options.max_regression.empty()) std::printf("\nno regression past the thresholds\n");
    return kOk;
  }
  std::printf("\nregressions:\n");
  for (const auto& r : c.regressions) std::printf("  %s\n", r.c_str());
  return kFailed;
}

// `groupsets`: the paper's group-set experiment (Fig 5-6) on the GMS's partitioner.
int GroupSets(const Options& o) {
  const std::string dir = o.out.empty() ? "results/" + Timestamp() + "-groupsets" : o.out;
  auto rows = RunGroupSetExperiment(o.groupsets, dir, o.quiet ? nullptr : stderr);
  if (!rows) return Fail(rows.error().message);
  std::printf("\n%s", GroupSetTable(*rows).c_str());
  if (!o.no_plot) {
    auto drawn = PlotGroupSets(dir, PlotOptionsOf(o));
    if (!drawn) return Fail(drawn.error().message);
  }
  std::printf("\nresults: %s (groupsets.csv, traffic-concentration.csv%s)\n", dir.c_str(),
              o.no_plot ? "" : ", plots/fig05_06.png");
  return kOk;
}

int List(const Options& o) {
  auto describe = [](const fs::path& p) {
    try {
      return YAML::LoadFile(p.string())["description"].as<std::string>("");
    } catch (const YAML::Exception& e) {
      return "(cannot read: " + e.msg + ")";
    }
  };
  std::vector<fs::path> scenarios, suites;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(o.scenarios, ec)) {
    if (e.path().extension() == ".yaml") scenarios.push_back(e.path());
  }
  for (const auto& e : fs::directory_iterator(fs::path(o.scenarios) / "suites", ec)) {
    if (e.path().extension() == ".yaml") suites.push_back(e.path());
  }
  std::sort(scenarios.begin(), scenarios.end());
  std::sort(suites.begin(), suites.end());
  std::printf("scenarios (%s):\n", o.scenarios.c_str());
  for (const auto& p : scenarios) std::printf("  %-28s %s\n", p.stem().c_str(), describe(p).c_str());
  std::printf("suites:\n");
  for (const auto& p : suites) std::printf("  %-28s %s\n", p.stem().c_str(), describe(p).c_str());
  return kOk;
}

// `doctor`: exit 1 if something must be fixed.
int RunDoctor(const Options& o) {
  const char* path = std::getenv("PATH");
  const std::vector<Finding> findings =
      Doctor({.path = path ? path : "/usr/bin:/bin",
              .node_binary = o.node_binary.empty() ? DefaultNodeBinary() : o.node_binary,
              .inventory = o.inventory});
  std::fputs(FormatFindings(findings).c_str(), stdout);
  const bool broken = std::any_of(findings.begin(), findings.end(),
                                  [](const Finding& f) { return f.level == Finding::Level::kFix; });
  return broken ? kFailed : kOk;
}

int WriteReport(const Options& o) {
  auto pages = WriteReports(o.target);
  if (!pages) return Fail(pages.error().message);
  for (const auto& page : *pages) std::printf("%s\n", page.c_str());
  return kOk;
}

int ServeResults(const Options& o) {
  const std::string root = o.target.empty() ? "results" : o.target;
  auto served = Serve({.root = root, .port = o.serve_port}, g_interrupted, [&](uint16_t port) {
    std::printf("serving %s at http://127.0.0.1:%u/ (Ctrl-C stops)\n", root.c_str(), port);
    std::fflush(stdout);
  });
  return served ? kOk : Fail(served.error().message);
}

// `groupsets` and its options.
CLI::App* AddGroupSetsCommand(CLI::App& app, Options& o) {
  CLI::App* groupsets = app.add_subcommand(
      "groupsets", "the group-set experiment (Fig 5-6): partition the paper's Zipf workload, report regions");
  groupsets->add_option("--nodes", o.groupsets.nodes, "node counts")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::Range(2u, 100000u));
  groupsets->add_option("--groups", o.groupsets.groups, "group counts")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::Range(1u, 1000000u));
  groupsets->add_option("--alpha", o.groupsets.alpha, "Zipf popularity exponent")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 10.0));
  groupsets->add_option("--fraction", o.groupsets.fraction, "share of the groups a node joins, on average")
      ->capture_default_str()
      ->check(CLI::Range(0.0001, 1.0));
  groupsets
      ->add_option("--min-region", o.groupsets.min_region_size,
                   "smallest region a group may create when added to a set")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  groupsets->add_option("--seed", o.groupsets.seed, "workload seed")->capture_default_str();
  groupsets->add_option("--out", o.out, "results folder (default: results/TIMESTAMP-groupsets)");
  groupsets->add_flag("--no-plot", o.no_plot, "do not draw Fig 5-6");
  groupsets->add_flag("--quiet", o.quiet, "no progress lines");
  return groupsets;
}

}  // namespace
}  // namespace qsm::harness

int main(int argc, char** argv) {
  using namespace qsm::harness;
  CLI::App app{"qsm-harness: scenarios, faults and delivery checks for the QSM engine"};
  app.set_version_flag("--version", qsm::VersionText("qsm-harness"));
  app.require_subcommand(1);
  Options o;
  app.add_option("--scenarios", o.scenarios, "folder of bundled scenarios")->capture_default_str();
  app.add_option("--plots", o.plots, "folder of the gnuplot scripts")->capture_default_str();
  app.add_option("--format", o.formats, "figure formats: png, svg")
      ->delimiter(',')
      ->check(CLI::IsMember({"png", "svg"}))
      ->capture_default_str();
  auto add_run_options = [&](CLI::App* c) {
    c->add_option("--set", o.set, "override a scenario key: --set nodes=6 --set engine.token_rate=10");
    c->add_option("--out", o.out, "results folder (default: results/TIMESTAMP-NAME)");
    c->add_option("--launcher", o.launcher, "override the scenario's launcher")
        ->check(CLI::IsMember({"local", "netns", "sim", "inventory"}));
    c->add_option("--node-binary", o.node_binary, "the qsm-node to run (default: the one built beside)");
    c->add_option("--inventory", o.inventory, "launcher inventory: the Ansible inventory of the hosts")
        ->check(CLI::ExistingFile);
    c->add_option("--playbooks", o.playbooks, "launcher inventory: the playbooks folder")->capture_default_str();
    c->add_flag("--quiet", o.quiet, "no progress line");
    c->add_flag("--no-plot", o.no_plot, "do not draw figures at the end");
    c->add_flag(
        "--prometheus", o.prometheus,
        "nodes serve /metrics and a Prometheus on 127.0.0.1 scrapes them (data kept in the run's folder)");
  };
  CLI::App* run = app.add_subcommand("run", "run a scenario (file or bundled name)");
  run->add_option("scenario", o.target, "scenario file or bundled name")->required();
  add_run_options(run);
  CLI::App* suite = app.add_subcommand("suite", "run a suite file, or every scenario in a folder");
  suite->add_option("suite", o.target, "suite file, folder, or bundled suite name")->required();
  add_run_options(suite);
  CLI::App* sim = app.add_subcommand("sim", "run a scenario on the simulator (virtual time)");
  sim->add_option("scenario", o.target, "scenario file or bundled name")->required();
  add_run_options(sim);
  CLI::App* check = app.add_subcommand("check", "re-check the deliveries of a results folder");
  check->add_option("results", o.target, "a run's folder or a folder of runs")
      ->required()
      ->check(CLI::ExistingDirectory);
  app.add_subcommand("list", "list the bundled scenarios and suites");
  CLI::App* plot =
      app.add_subcommand("plot", "draw a results folder (a run, or a folder of runs), or overlay runs");
  plot->add_option("results", o.target, "a run's folder or a folder of runs");
  plot->add_option("--overlay", o.overlay, "run folders to overlay, the reference first")
      ->check(CLI::ExistingDirectory);
  plot->add_option("--out", o.out, "with --overlay: output path prefix (default: overlay)");
  CLI::App* compare = app.add_subcommand(
      "compare", "results folders side by side, run by run, with ratios against the first (A)");
  compare->add_option("results", o.compare, "results folders (of runs, or one run's), the reference first")
      ->required()
      ->expected(2, 1000)
      ->check(CLI::ExistingDirectory);
  std::string metric_keys;
  for (const auto& m : CompareMetrics()) metric_keys += std::string(metric_keys.empty() ? "" : ", ") + m.key;
  compare->add_option("--max-regression", o.max_regression,
                      "METRIC=FRACTION or METRIC=PERCENT%: exit 1 if a run is worse than in A by more (metrics: " +
                          metric_keys + "); a delivery check that passed in A and fails later always counts");
  CLI::App* report = app.add_subcommand("report", "write the HTML report (index.html) of a results folder again");
  report->add_option("results", o.target, "a run's folder or a folder of runs")
      ->required()
      ->check(CLI::ExistingDirectory);
  CLI::App* serve = app.add_subcommand(
      "serve", "serve a folder of results folders on 127.0.0.1 for a browser (Ctrl-C stops)");
  serve->add_option("root", o.target, "the folder of results folders (default: results)")
      ->capture_default_str()
      ->check(CLI::ExistingDirectory);
  serve->add_option("--port", o.serve_port, "TCP port on 127.0.0.1 (0: any free one)")->capture_default_str();
  CLI::App* doctor = app.add_subcommand("doctor", "what this machine (and an inventory's hosts) lacks, and what to do");
  doctor->add_option("--inventory", o.inventory, "also check these hosts' clocks (through Ansible)")
      ->check(CLI::ExistingFile);
  doctor->add_option("--node-binary", o.node_binary, "the qsm-node to check (default: the one built beside)");
  CLI::App* groupsets = AddGroupSetsCommand(app, o);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kOk : kBadInput;  // --help exits 0; a wrong flag exits 2
  }

  std::signal(SIGINT, OnInterrupt);
  std::signal(SIGTERM, OnInterrupt);
  if (check->parsed()) return Check(o.target);
  if (app.got_subcommand("list")) return List(o);
  if (plot->parsed()) return Plot(o);
  if (compare->parsed()) return CompareResults(o);
  if (doctor->parsed()) return RunDoctor(o);
  if (report->parsed()) return WriteReport(o);
  if (serve->parsed()) return ServeResults(o);
  if (groupsets->parsed()) return GroupSets(o);
  if (sim->parsed()) o.launcher = "sim";
  if (suite->parsed()) {
    auto path = ResolveBundled(o.target, o.scenarios);
    if (!path)
      return Fail("no suite '" + o.target + "' (not a file or folder, not bundled; see: qsm-harness list)");
    auto loaded = LoadSuite(*path);
    if (!loaded) return Fail(loaded.error().message);
    std::vector<std::pair<std::string, Overrides>> entries;
    for (const auto& e : loaded->runs) entries.emplace_back(e.path, e.overrides);
    return RunScenarios(entries, loaded->name, o);
  }
  return RunScenarios({{o.target, {}}}, fs::path(o.target).stem().string(), o);
}
