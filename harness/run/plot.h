// Drawing a results folder with gnuplot (the scripts in plots/): per run, the time series and the
// latency spectrum; per sweep, the paper's figure for the swept key; and overlays of several
// runs (a perturbed run over its baseline). Before gnuplot runs, every column a script declares
// ("# needs: FILE col ...") is checked in the files it will read, so a results folder with a
// missing column gets an error naming the file and the column. After, every series the script
// reports ("series NAME N") must have data.
// Threading: none; runs gnuplot as a child process.
#pragma once

#include <string>
#include <vector>

#include "engine/core/status.h"

namespace qsm::harness {

struct PlotOptions {
  std::string scripts_dir;                         // plots/
  std::vector<std::string> formats{"png", "svg"};  // gnuplot terminals pngcairo and svg
};

// Draws RUN/plots/timeseries.{png,svg} and RUN/plots/latency.{png,svg}. Returns the files.
Result<std::vector<std::string>> PlotRun(const std::string& run_dir, const PlotOptions& options);
// Draws DIR/plots/figNN_MM.{png,svg} from DIR/sweep-*.csv, one figure per kind of sweep.
Result<std::vector<std::string>> PlotSweeps(const std::string& dir, const PlotOptions& options);
// Overlays runs (first = reference) into OUT_PREFIX-timeseries and OUT_PREFIX-latency.
Result<std::vector<std::string>> PlotOverlay(const std::vector<std::string>& run_dirs,
                                             const std::string& out_prefix, const PlotOptions& options);

// Draws `script` over `tables` (given to it as table1, table2, ...) into OUT_PREFIX.{png,svg},
// after checking the columns it declares.
Result<std::vector<std::string>> PlotTables(const std::string& script, const std::vector<std::string>& tables,
                                            const std::string& out_prefix, const PlotOptions& options);

// The figure script for a sweep table: by its swept key and whether its runs had faults.
std::string FigureFor(const std::string& x_key, bool with_faults);

}  // namespace qsm::harness
