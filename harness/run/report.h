// The HTML report of a results folder, for a browser: RUN/index.html for every run (its figures,
// the delivery check, the fault windows, the scenario, the build, links to every raw file) and
// DIR/index.html for a folder of runs (each run's line linking to its page, the engines side by
// side, the folder's figures). The pages stand alone and work offline: inline CSS, the figures
// as the run's own SVG files by relative path, no scripts, fonts or styles from elsewhere. A small
// inline script marks each figure once it has loaded (data-loaded), which the browser test reads.
// The pages are made from summary.json and the files beside it, so `qsm-harness report DIR`
// makes them again for any results folder.
// Threading: none.
#pragma once

#include <string>
#include <vector>

#include "engine/core/status.h"

namespace qsm::harness {

// Writes RUN/index.html.
Status WriteRunReport(const std::string& run_dir);
// Writes DIR/index.html for the runs `run_dirs` (folders inside DIR, in suite order).
Status WriteFolderReport(const std::string& dir, const std::vector<std::string>& run_dirs);
// Both, for a results folder of runs or one run's folder. Returns the pages written.
Result<std::vector<std::string>> WriteReports(const std::string& dir);

// The page `qsm-harness serve` shows at the top of a results root: every results folder in it,
// newest first, with its runs' verdicts, linking to its index.html.
std::string RootListing(const std::string& root);

// `text` with &, <, >, " and ' escaped for HTML.
std::string HtmlEscape(const std::string& text);

}  // namespace qsm::harness
