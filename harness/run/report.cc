#include "harness/run/report.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "harness/run/summary.h"
#include "harness/workload/text.h"

namespace qsm::harness {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kStyle = R"(
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1200px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
p.description { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f0f0f0; } td.text, th.text { text-align: left; }
.ok { color: #176b1d; font-weight: bold; } .failed { color: #b00020; font-weight: bold; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.85em; color: #555; }
pre { background: #f7f7f7; border: 1px solid #ddd; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
ul.files { columns: 3; font-size: 0.85em; }
)";

// Marks every figure with data-loaded="yes" or "no" once the page has loaded (read by the browser
// test from the DOM), and the body with data-ready.
constexpr const char* kScript = R"(
window.addEventListener('load', function () {
  document.querySelectorAll('img[data-figure]').forEach(function (img) {
    img.dataset.loaded = img.complete && img.naturalWidth > 0 ? 'yes' : 'no';
  });
  document.body.dataset.ready = 'yes';
});
)";

// Members of a summary that may be missing or of another type in a file written elsewhere.
const json& At(const json& j, std::initializer_list<const char*> path) {
  static const json kNull;
  const json* p = &j;
  for (const char* key : path) {
    if (!p->is_object() || !p->contains(key)) return kNull;
    p = &(*p)[key];
  }
  return *p;
}
double Num(const json& j) { return j.is_number() ? j.get<double>() : 0.0; }
std::string Text(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  return j.is_null() ? "" : j.dump();
}
std::string Fixed(double v, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, v);
  return text;
}

std::string Page(const std::string& title, const std::string& body) {
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + HtmlEscape(title) +
         "</title>\n<style>" + kStyle + "</style>\n<script>" + kScript + "</script>\n</head>\n<body>\n" + body +
         "</body>\n</html>\n";
}

std::string Verdict(bool ok) { return ok ? "<span class=\"ok\">OK</span>" : "<span class=\"failed\">FAILED</span>"; }

std::string Row(const std::vector<std::string>& cells, const char* tag = "td") {
  std::string row = "<tr>";
  for (size_t i = 0; i < cells.size(); ++i) {
    row += std::string("<") + tag + (i == 0 ? " class=\"text\"" : "") + ">" + cells[i] + "</" + tag + ">";
  }
  return row + "</tr>\n";
}

// The figures in DIR/plots (SVG, or PNG where a figure has no SVG), as <figure>s with paths
// relative to DIR.
std::string Figures(const std::string& dir, const std::string& if_none) {
  std::map<std::string, std::string> figures;  // stem -> file, SVG first
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(dir) / "plots", ec)) {
    const std::string ext = e.path().extension().string();
    if (ext != ".svg" && ext != ".png") continue;
    auto [it, fresh] = figures.try_emplace(e.path().stem().string(), e.path().filename().string());
    if (!fresh && ext == ".svg") it->second = e.path().filename().string();
  }
  if (figures.empty()) return "<p>" + if_none + "</p>\n";
  std::string out;
  for (const auto& [stem, file] : figures) {
    out += "<figure><img src=\"plots/" + HtmlEscape(file) + "\" alt=\"" + HtmlEscape(stem) + "\" data-figure=\"" +
           HtmlEscape(stem) + "\"><figcaption>" + HtmlEscape(stem);
    for (const char* ext : {".svg", ".png"}) {
      if (fs::exists(fs::path(dir) / "plots" / (stem + ext))) {
        out += std::string(" <a href=\"plots/") + HtmlEscape(stem) + ext + "\">" + (ext + 1) + "</a>";
      }
    }
    out += "</figcaption></figure>\n";
  }
  return out;
}

std::string RawFiles(const std::string& run_dir) {
  std::vector<std::pair<std::string, uintmax_t>> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(run_dir, ec); it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (ec) break;
    if (!it->is_regular_file()) continue;
    const std::string rel = fs::relative(it->path(), run_dir).generic_string();
    if (rel != "index.html") files.emplace_back(rel, it->file_size());
  }
  std::sort(files.begin(), files.end());
  std::string out = "<ul class=\"files\">\n";
  for (const auto& [rel, size] : files) {
    out += "<li><a href=\"" + HtmlEscape(rel) + "\">" + HtmlEscape(rel) + "</a> (" + std::to_string(size) +
           " B)</li>\n";
  }
  return out + "</ul>\n";
}

std::string Quantiles(const json& h) {
  return Fixed(Num(At(h, {"p50_ms"})), 2) + " / " + Fixed(Num(At(h, {"p99_ms"})), 2) + " / " +
         Fixed(Num(At(h, {"p999_ms"})), 2) + " / " + Fixed(Num(At(h, {"max_ms"})), 2);
}

std::string RunSummaryTable(const json& s) {
  const json& sc = At(s, {"scenario"});
  const json& m = At(s, {"messages"});
  const json& t = At(s, {"throughput", "msgs_per_s"});
  std::string out = "<table id=\"summary\">\n";
  const auto line = [&](const std::string& key, const std::string& value) { out += Row({HtmlEscape(key), value}); };
  line("engine", HtmlEscape(EngineKindOf(s)));
  line("launcher, nodes, senders", HtmlEscape(Text(At(sc, {"launcher"}))) + ", " + Text(At(sc, {"nodes"})) + ", " +
                                       Text(At(sc, {"senders"})));
  line("message size, rate per sender", Text(At(sc, {"message_size"})) + " B, " + HtmlEscape(Text(At(sc, {"rate"}))));
  line("load, warmup", Fixed(Num(At(sc, {"duration_s"})), 1) + " s, " + Fixed(Num(At(sc, {"warmup_s"})), 1) + " s");
  line("msgs/s per receiver (min / median / max)", Fixed(Num(At(t, {"min"})), 0) + " / " +
                                                        Fixed(Num(At(t, {"median"})), 0) + " / " +
                                                        Fixed(Num(At(t, {"max"})), 0));
  line("sent, delivered / expected", Text(At(m, {"sent"})) + ", " + Text(At(m, {"delivered"})) + " / " +
                                         Text(At(m, {"expected"})));
  line("lost, behind, duplicates, out of order", Text(At(m, {"lost"})) + ", " + Text(At(m, {"behind"})) + ", " +
                                                     Text(At(m, {"duplicates"})) + ", " +
                                                     Text(At(m, {"out_of_order"})));
  line("latency p50 / p99 / p99.9 / max, ms", Quantiles(At(s, {"latency"})));
  line("region token RTT p50 / p99 / p99.9 / max, ms", Quantiles(At(s, {"token_rtt", "region"})));
  line("peak pending ACK", Fixed(Num(At(s, {"peak_pending_ack", "bytes"})) / 1e6, 1) + " MB, " +
                               Text(At(s, {"peak_pending_ack", "messages"})) + " messages");
  line("CPU (senders / receivers, mean)", Fixed(Num(At(s, {"cpu_percent", "senders_mean"})), 0) + "% / " +
                                              Fixed(Num(At(s, {"cpu_percent", "receivers_mean"})), 0) + "%");
  line("started, wall time", HtmlEscape(Text(At(s, {"started_at"}))) + ", " +
                                 Fixed(Num(At(s, {"wall_seconds"})), 1) + " s");
  const json& build = At(s, {"build", "harness"});
  line("build (harness)", HtmlEscape(Text(At(build, {"revision"})) + ", " + Text(At(build, {"build_type"})) +
                                     ", sanitizers: " + Text(At(build, {"sanitizers"}))));
  return out + "</table>\n";
}

std::string List(const json& items, const std::string& id) {
  if (!items.is_array() || items.empty()) return "";
  std::string out = "<ul id=\"" + id + "\">\n";
  for (const json& i : items) out += "<li>" + HtmlEscape(Text(i)) + "</li>\n";
  return out + "</ul>\n";
}

std::string FaultTable(const json& windows) {
  if (!windows.is_array() || windows.empty()) return "<p>No faults.</p>\n";
  std::string out = "<table id=\"faults\">\n" + Row({"type", "nodes", "from, s", "to, s", "via"}, "th");
  for (const json& w : windows) {
    out += Row({HtmlEscape(Text(At(w, {"type"}))), HtmlEscape(Text(At(w, {"nodes"}))),
                Fixed(Num(At(w, {"start_s"})), 2), Fixed(Num(At(w, {"end_s"})), 2), HtmlEscape(Text(At(w, {"via"})))});
  }
  return out + "</table>\n";
}

std::string RunPage(const std::string& run_dir, const json& s) {
  const std::string name = Text(At(s, {"scenario", "name"}));
  const json& check = At(s, {"check"});
  const bool ok = At(check, {"ok"}).is_boolean() && At(check, {"ok"}).get<bool>();
  std::string body = "<p><a href=\"../index.html\">all runs</a></p>\n<h1>" + HtmlEscape(name) + " " + Verdict(ok) +
                     "</h1>\n<p class=\"description\">" + HtmlEscape(Text(At(s, {"scenario", "description"}))) +
                     "</p>\n<h2>Summary</h2>\n" + RunSummaryTable(s);
  body += "<h2>Delivery check</h2>\n<p id=\"verdict\">" + Verdict(ok) + "</p>\n";
  body += List(At(s, {"incidents"}), "incidents") + List(At(check, {"violations"}), "violations") +
          List(At(check, {"notes"}), "notes");
  body += "<h2>Figures</h2>\n" + Figures(run_dir,
                                          "No figures (made with --no-plot? <code>qsm-harness plot</code> draws "
                                          "them, then <code>qsm-harness report</code>).");
  body += "<h2>Fault windows</h2>\n" + FaultTable(At(s, {"fault_windows"}));
  auto scenario = ReadFile(run_dir + "/scenario.yaml");
  body += "<h2>Scenario</h2>\n<pre id=\"scenario\">" + HtmlEscape(scenario ? *scenario : "(no scenario.yaml)") +
          "</pre>\n";
  body += "<h2>Files</h2>\n" + RawFiles(run_dir);
  return Page(name, body);
}

std::string FolderPage(const std::string& dir, const std::vector<std::string>& run_dirs,
                       const std::vector<json>& summaries) {
  const std::string title = fs::path(dir).filename().string();
  size_t passed = 0;
  std::string rows;
  for (size_t i = 0; i < summaries.size(); ++i) {
    const json& s = summaries[i];
    const bool ok = At(s, {"check", "ok"}).is_boolean() && At(s, {"check", "ok"}).get<bool>();
    passed += ok ? 1 : 0;
    const std::string folder = fs::path(run_dirs[i]).filename().string();
    rows += Row({"<a href=\"" + HtmlEscape(folder) + "/index.html\">" + HtmlEscape(Text(At(s, {"scenario", "name"}))) +
                     "</a>",
                 HtmlEscape(EngineKindOf(s)), Text(At(s, {"scenario", "nodes"})),
                 Fixed(Num(At(s, {"throughput", "msgs_per_s", "min"})), 0),
                 Text(At(s, {"messages", "delivered"})) + " / " + Text(At(s, {"messages", "expected"})),
                 Fixed(Num(At(s, {"latency", "p50_ms"})), 2) + " / " + Fixed(Num(At(s, {"latency", "p99_ms"})), 2),
                 Fixed(Num(At(s, {"token_rtt", "region", "p50_ms"})), 2) + " / " +
                     Fixed(Num(At(s, {"token_rtt", "region", "p99_ms"})), 2),
                 Fixed(Num(At(s, {"peak_pending_ack", "bytes"})) / 1e6, 1), Verdict(ok)});
  }
  std::string body = "<h1>" + HtmlEscape(title) + "</h1>\n<p class=\"description\">" + std::to_string(summaries.size()) +
                     " run(s), " + std::to_string(passed) + " passed the delivery check.</p>\n<h2>Runs</h2>\n" +
                     "<table id=\"runs\">\n" +
                     Row({"run", "engine", "nodes", "min msgs/s", "delivered / expected", "latency p50 / p99, ms",
                          "token RTT p50 / p99, ms", "peak pending, MB", "check"},
                         "th") +
                     rows + "</table>\n";
  if (const std::vector<std::string> engines = EnginesTable(summaries); !engines.empty()) {
    body += "<h2>Engines side by side</h2>\n<pre id=\"engines\">";
    for (const std::string& line : engines) body += HtmlEscape(line) + "\n";
    body += "</pre>\n";
  }
  body += "<h2>Figures</h2>\n" +
          Figures(dir, "None for the folder as a whole (sweeps and overlays over a baseline run have them); each "
                       "run's page has its own.");
  return Page(title, body);
}

}  // namespace

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

Status WriteRunReport(const std::string& run_dir) {
  auto s = ReadSummary(run_dir);
  if (!s) return std::unexpected(s.error());
  return WriteFile(run_dir + "/index.html", RunPage(run_dir, *s));
}

Status WriteFolderReport(const std::string& dir, const std::vector<std::string>& run_dirs) {
  std::vector<json> summaries;
  for (const std::string& run : run_dirs) {
    auto s = ReadSummary(run);
    if (!s) return std::unexpected(s.error());
    summaries.push_back(std::move(*s));
  }
  return WriteFile(dir + "/index.html", FolderPage(dir, run_dirs, summaries));
}

Result<std::vector<std::string>> WriteReports(const std::string& dir) {
  auto runs = RunFolders(dir);
  if (!runs) return std::unexpected(runs.error());
  std::vector<std::string> written;
  for (const std::string& run : *runs) {
    if (auto s = WriteRunReport(run); !s) return std::unexpected(s.error());
    written.push_back(run + "/index.html");
  }
  if (!(runs->size() == 1 && (*runs)[0] == dir)) {
    if (auto s = WriteFolderReport(dir, *runs); !s) return std::unexpected(s.error());
    written.push_back(dir + "/index.html");
  }
  return written;
}

std::string RootListing(const std::string& root) {
  struct Entry {
    std::string name;
    fs::file_time_type time;
    size_t runs = 0, passed = 0;
  };
  std::vector<Entry> entries;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    if (!e.is_directory()) continue;
    auto runs = RunFolders(e.path().string());
    if (!runs) continue;  // not a results folder
    Entry entry{.name = e.path().filename().string(), .time = e.last_write_time(ec)};
    for (const std::string& run : *runs) {
      auto s = ReadSummary(run);
      ++entry.runs;
      if (s && At(*s, {"check", "ok"}).is_boolean() && At(*s, {"check", "ok"}).get<bool>()) ++entry.passed;
    }
    entries.push_back(std::move(entry));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.time > b.time; });
  std::string rows;
  for (const Entry& e : entries) {
    rows += Row({"<a href=\"" + HtmlEscape(e.name) + "/index.html\">" + HtmlEscape(e.name) + "</a>",
                 std::to_string(e.runs), std::to_string(e.passed),
                 e.passed == e.runs ? Verdict(true) : Verdict(false)});
  }
  std::string body = "<h1>Results in " + HtmlEscape(root) + "</h1>\n<table id=\"results\">\n" +
                     Row({"results folder", "runs", "passed", "check"}, "th") + rows + "</table>\n";
  if (entries.empty()) body += "<p>No results folders here yet.</p>\n";
  return Page("QSM results", body);
}

}  // namespace qsm::harness
