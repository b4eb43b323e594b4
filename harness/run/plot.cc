#include "harness/run/plot.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "harness/process.h"
#include "harness/run/summary.h"
#include "harness/workload/text.h"

namespace qsm::harness {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> SplitCsvLine(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  for (std::string cell; std::getline(ss, cell, ',');) out.push_back(cell);
  if (!line.empty() && line.back() == ',') out.emplace_back();
  return out;
}

// The header of a CSV file.
Result<std::vector<std::string>> Header(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line))
    return MakeError(ErrorCode::kInvalidArgument, path + ": missing or empty");
  return SplitCsvLine(line);
}

// "# needs: FILE col col ..." lines of a script: FILE (a name in the run folder, or a glob such
// as sweep-*.csv) -> columns.
std::vector<std::pair<std::string, std::vector<std::string>>> Needs(const std::string& script) {
  std::vector<std::pair<std::string, std::vector<std::string>>> needs;
  std::ifstream in(script);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# needs:", 0) != 0) continue;
    std::stringstream words(line.substr(8));
    std::string file;
    words >> file;
    std::vector<std::string> columns;
    for (std::string c; words >> c;) columns.push_back(c);
    needs.emplace_back(file, columns);
  }
  return needs;
}

// Checks that each of `files` has the columns `script` needs from a file of its kind.
Status CheckColumns(const std::string& script, const std::vector<std::string>& files) {
  for (const auto& [kind, columns] : Needs(script)) {
    for (const std::string& file : files) {
      const std::string name = fs::path(file).filename().string();
      const bool matches = kind.find('*') != std::string::npos
                               ? name.rfind(kind.substr(0, kind.find('*')), 0) == 0
                               : name == kind;
      if (!matches) continue;
      auto header = Header(file);
      if (!header) return std::unexpected(header.error());
      for (const std::string& c : columns) {
        if (std::find(header->begin(), header->end(), c) == header->end()) {
          return MakeError(ErrorCode::kInvalidArgument, file + ": column '" + c + "' is missing (" +
                                                            fs::path(script).filename().string() +
                                                            " needs it)");
        }
      }
    }
  }
  return {};
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

// Whether the run's engine has a token ring to plot.
bool HasTokenRing(const nlohmann::json& summary) { return EngineKindOf(summary) == "qsm"; }

// Runs gnuplot on `script` with `params` (name -> gnuplot expression) and checks that every series
// it reports has data.
Status Gnuplot(const std::string& script, const std::map<std::string, std::string>& params) {
  std::string e;
  for (const auto& [k, v] : params) e += k + "=" + v + "; ";
  auto finished = RunToEnd({"gnuplot", "-e", e, script});
  if (!finished) return std::unexpected(finished.error());
  if (finished->exit_code == 127) {
    return MakeError(ErrorCode::kUnavailable,
                     "gnuplot is not installed (Debian: gnuplot-nox; scripts/setup.sh installs it)");
  }
  const std::string& output = finished->output;
  std::vector<std::string> errors, empty;
  std::stringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("series ", 0) == 0) {
      const auto space = line.rfind(' ');
      if (line.substr(space + 1) == "0") empty.push_back(line.substr(7, space - 7));
    } else if (line.find("rror") != std::string::npos) {
      errors.push_back(line);
    }
  }
  const std::string name = fs::path(script).filename().string();
  if (!empty.empty()) {  // first: with no data, gnuplot also fails, less clearly
    std::string list;
    for (const auto& s : empty) Append(list, s, ", ");
    return MakeError(ErrorCode::kInvalidArgument, name + ": no data to plot for " + list);
  }
  if (finished->exit_code != 0 || !errors.empty()) {
    return MakeError(ErrorCode::kIo,
                     name + ": gnuplot failed: " + (errors.empty() ? output : errors.front()));
  }
  return {};
}

Status Draw(const std::string& script, std::map<std::string, std::string> params,
            const std::string& out_prefix, const PlotOptions& o, std::vector<std::string>& drawn) {
  params["dir_plots"] = Quote(o.scripts_dir);
  params["out"] = Quote(out_prefix);
  for (const std::string& fmt : o.formats) {
    params["fmt"] = Quote(fmt);
    if (auto s = Gnuplot(script, params); !s) return s;
    drawn.push_back(out_prefix + "." + fmt);
  }
  return {};
}

}  // namespace

std::string FigureFor(const std::string& x_key, bool with_faults) {
  if (x_key == "nodes") return with_faults ? "fig21_23.gp" : "fig14_15.gp";
  if (x_key == "engine.token_rate") return "fig17_18.gp";
  if (x_key == "engine.replication") return "fig19_20.gp";
  if (x_key == "rate") return "fig24_26.gp";
  if (x_key == "groups") return "fig27_29.gp";
  return "fig_generic.gp";
}

Result<std::vector<std::string>> PlotRun(const std::string& run_dir, const PlotOptions& o) {
  std::ifstream in(run_dir + "/summary.json");
  if (!in) return MakeError(ErrorCode::kInvalidArgument, run_dir + ": no summary.json (not a run folder)");
  const nlohmann::json summary = nlohmann::json::parse(in, nullptr, false);
  if (summary.is_discarded() || !summary.contains("scenario")) {
    return MakeError(ErrorCode::kInvalidArgument, run_dir + "/summary.json: not a run summary");
  }
  std::vector<std::string> drawn;
  const std::string plots = run_dir + "/plots";
  fs::create_directories(plots);
  const std::string timeseries = o.scripts_dir + "/run.gp", latency = o.scripts_dir + "/latency.gp";
  for (const auto& [script, files] :
       {std::pair{timeseries, std::vector<std::string>{run_dir + "/timeseries.csv", run_dir + "/cluster.csv",
                                                       run_dir + "/faults.csv"}},
        std::pair{latency, std::vector<std::string>{run_dir + "/latency_percentiles.csv"}}}) {
    if (auto s = CheckColumns(script, files); !s) return std::unexpected(s.error());
  }
  const std::string name = summary["scenario"]["name"].get<std::string>();
  if (auto s = Draw(timeseries,
                    {{"dir", Quote(run_dir)},
                     {"nodes", std::to_string(summary["scenario"]["nodes"].get<int>())},
                     {"title", Quote(name)},
                     {"token", HasTokenRing(summary) ? "1" : "0"}},
                    plots + "/timeseries", o, drawn);
      !s) {
    return std::unexpected(s.error());
  }
  if (auto s =
          Draw(latency, {{"runs", Quote(run_dir)}, {"titles", Quote(name)}}, plots + "/latency", o, drawn);
      !s) {
    return std::unexpected(s.error());
  }
  return drawn;
}

Result<std::vector<std::string>> PlotSweeps(const std::string& dir, const PlotOptions& o) {
  // figure script -> (table, title) in name order
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> figures;
  std::vector<fs::path> tables;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("sweep-", 0) == 0 && e.path().extension() == ".csv") tables.push_back(e.path());
  }
  std::sort(tables.begin(), tables.end());
  for (const fs::path& table : tables) {
    auto header = Header(table.string());
    if (!header) return std::unexpected(header.error());
    for (const char* needed : {"x_key", "faults"}) {
      if (std::find(header->begin(), header->end(), needed) == header->end()) {
        return MakeError(ErrorCode::kInvalidArgument,
                         table.string() + ": column '" + needed + "' is missing");
      }
    }
    const size_t key_at = std::find(header->begin(), header->end(), "x_key") - header->begin();
    const size_t faults_at = std::find(header->begin(), header->end(), "faults") - header->begin();
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);
    std::string x_key;
    bool with_faults = false;
    while (std::getline(in, line)) {
      const auto cells = SplitCsvLine(line);
      if (cells.size() > key_at) x_key = cells[key_at];
      if (cells.size() > faults_at && !cells[faults_at].empty()) with_faults = true;
    }
    const std::string title = table.stem().string().substr(6);  // after "sweep-"
    figures[FigureFor(x_key, with_faults)].emplace_back(table.string(), title);
    if (x_key == "nodes" && !with_faults)
      figures["fig21_23.gp"].emplace_back(table.string(), title);  // the baseline
  }
  std::vector<std::string> drawn;
  fs::create_directories(dir + "/plots");
  for (auto& [script, tables_of] : figures) {
    if (script == "fig21_23.gp" && tables_of.size() < 2) continue;  // only a baseline: fig14_15 has it
    std::string files, titles;
    std::vector<std::string> paths;
    for (const auto& [path, title] : tables_of) {
      Append(files, path, " ");
      Append(titles, title, " ");
      paths.push_back(path);
    }
    const std::string path = o.scripts_dir + "/" + script;
    if (auto s = CheckColumns(path, paths); !s) return std::unexpected(s.error());
    const std::string out = dir + "/plots/" + fs::path(script).stem().string();
    if (auto s = Draw(path, {{"files", Quote(files)}, {"titles", Quote(titles)}}, out, o, drawn); !s) {
      return std::unexpected(s.error());
    }
  }
  return drawn;
}

Result<std::vector<std::string>> PlotTables(const std::string& script, const std::vector<std::string>& tables,
                                            const std::string& out_prefix, const PlotOptions& o) {
  if (auto s = CheckColumns(script, tables); !s) return std::unexpected(s.error());
  std::map<std::string, std::string> params;
  for (size_t i = 0; i < tables.size(); ++i) params["table" + std::to_string(i + 1)] = Quote(tables[i]);
  std::error_code ec;
  fs::create_directories(fs::path(out_prefix).parent_path(), ec);
  std::vector<std::string> drawn;
  if (auto s = Draw(script, params, out_prefix, o, drawn); !s) return std::unexpected(s.error());
  return drawn;
}

Result<std::vector<std::string>> PlotOverlay(const std::vector<std::string>& run_dirs,
                                             const std::string& out_prefix, const PlotOptions& o) {
  if (run_dirs.size() < 2)
    return MakeError(ErrorCode::kInvalidArgument, "an overlay needs at least two runs");
  std::string runs, titles;
  std::vector<std::string> cluster_files, latency_files;
  for (const std::string& d : run_dirs) {
    if (d.find_first_of(" '") != std::string::npos) {
      return MakeError(ErrorCode::kInvalidArgument,
                       d + ": run folders with spaces or quotes cannot be overlaid");
    }
    Append(runs, d, " ");
    Append(titles, fs::path(d).filename().string(), " ");
    cluster_files.push_back(d + "/cluster.csv");
    cluster_files.push_back(d + "/faults.csv");
    latency_files.push_back(d + "/latency_percentiles.csv");
  }
  const std::string overlay = o.scripts_dir + "/overlay.gp", latency = o.scripts_dir + "/latency.gp";
  if (auto s = CheckColumns(overlay, cluster_files); !s) return std::unexpected(s.error());
  if (auto s = CheckColumns(latency, latency_files); !s) return std::unexpected(s.error());
  fs::create_directories(fs::path(out_prefix).parent_path());
  std::vector<std::string> drawn;
  for (const auto& [script, suffix] : {std::pair{overlay, "-timeseries"}, std::pair{latency, "-latency"}}) {
    if (auto s =
            Draw(script, {{"runs", Quote(runs)}, {"titles", Quote(titles)}}, out_prefix + suffix, o, drawn);
        !s) {
      return std::unexpected(s.error());
    }
  }
  return drawn;
}

}  // namespace qsm::harness
