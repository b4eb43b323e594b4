// The report's pages from summaries on disk (escaping, refusals), and what `serve` answers to
// each kind of request; the rendering in a real browser is scripts/report-browser-test.py.
#include "harness/run/report.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "harness/run/serve.h"
#include "harness/workload/text.h"

namespace qsm::harness {
namespace {

namespace fs = std::filesystem;

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("qsm-report-test-" + std::to_string(getpid()));
    fs::create_directories(root_ / "suite" / "1-a<b>" / "plots");
    const nlohmann::json summary = {
        {"format", "qsm-run-summary/1"},
        {"scenario", {{"name", "a<b>"}, {"description", "x & \"y\""}, {"nodes", 4}, {"engine", {{"kind", "udp"}}}}},
        {"check", {{"ok", false}, {"violations", {"node 2 lost 3 <messages>"}}, {"notes", nlohmann::json::array()}}},
        {"fault_windows", {{{"type", "sleep"}, {"nodes", {3}}, {"start_s", 1.0}, {"end_s", 1.5}, {"via", "process"}}}},
        {"messages", {{"sent", 10}, {"delivered", 27}, {"expected", 30}}}};
    ASSERT_TRUE(WriteFile((root_ / "suite" / "1-a<b>" / "summary.json").string(), summary.dump()).has_value());
    ASSERT_TRUE(WriteFile((root_ / "suite" / "1-a<b>" / "plots" / "latency.svg").string(), "<svg/>").has_value());
    ASSERT_TRUE(WriteFile((root_ / "suite" / "1-a<b>" / "scenario.yaml").string(), "name: a<b>\n").has_value());
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string Get(const std::string& path) { return Respond(root_.string(), "GET " + path + " HTTP/1.1\r\n\r\n"); }

  fs::path root_;
};

TEST_F(ReportTest, PagesEscapeWhatTheyShowAndLinkTheRunsAndFiles) {
  auto pages = WriteReports((root_ / "suite").string());
  ASSERT_TRUE(pages.has_value()) << pages.error().message;
  ASSERT_EQ(pages->size(), 2u);
  const std::string run = ReadFile((root_ / "suite" / "1-a<b>" / "index.html").string()).value_or("");
  EXPECT_NE(run.find("<h1>a&lt;b&gt; <span class=\"failed\">FAILED</span></h1>"), std::string::npos) << run;
  EXPECT_NE(run.find("x &amp; &quot;y&quot;"), std::string::npos);
  EXPECT_NE(run.find("<li>node 2 lost 3 &lt;messages&gt;</li>"), std::string::npos);
  EXPECT_NE(run.find("<img src=\"plots/latency.svg\""), std::string::npos);
  EXPECT_NE(run.find("<pre id=\"scenario\">name: a&lt;b&gt;"), std::string::npos);
  EXPECT_NE(run.find("<a href=\"summary.json\">"), std::string::npos);
  EXPECT_EQ(run.find("http://"), std::string::npos) << "nothing from elsewhere";
  EXPECT_EQ(run.find("https://"), std::string::npos);
  const std::string folder = ReadFile((root_ / "suite" / "index.html").string()).value_or("");
  EXPECT_NE(folder.find("<a href=\"1-a&lt;b&gt;/index.html\">a&lt;b&gt;</a>"), std::string::npos) << folder;
  EXPECT_NE(folder.find("27 / 30"), std::string::npos);
  EXPECT_NE(folder.find("0 passed"), std::string::npos);
}

TEST_F(ReportTest, ASummaryOfAnotherFormatIsRefused) {
  ASSERT_TRUE(WriteFile((root_ / "suite" / "1-a<b>" / "summary.json").string(),
                        R"({"format": "qsm-run-summary/2", "scenario": {}})")
                  .has_value());
  auto pages = WriteReports((root_ / "suite").string());
  ASSERT_FALSE(pages.has_value());
  EXPECT_NE(pages.error().message.find("format 'qsm-run-summary/2'"), std::string::npos) << pages.error().message;
}

TEST_F(ReportTest, ServeAnswersFilesFoldersAndTheListingAndNothingOutsideTheRoot) {
  ASSERT_TRUE(WriteReports((root_ / "suite").string()).has_value());
  const std::string listing = Get("/");
  EXPECT_EQ(listing.rfind("HTTP/1.1 200 OK\r\nContent-Type: text/html", 0), 0u) << listing;
  EXPECT_NE(listing.find("<a href=\"suite/index.html\">suite</a>"), std::string::npos) << listing;
  EXPECT_NE(Get("/suite/").find("<table id=\"runs\">"), std::string::npos);
  const std::string svg = Get("/suite/1-a%3Cb%3E/plots/latency.svg");
  EXPECT_EQ(svg.rfind("HTTP/1.1 200 OK\r\nContent-Type: image/svg+xml", 0), 0u) << svg;
  EXPECT_NE(svg.find("\r\n\r\n<svg/>"), std::string::npos);
  fs::create_directory_symlink("/etc", root_ / "suite" / "etc");
  for (const char* path : {"/../etc/passwd", "/suite/../../etc/passwd", "/%2e%2e/etc/passwd", "/suite/etc/passwd",
                           "/missing", "/suite/1-a%3Cb%3E/plots"}) {
    EXPECT_EQ(Get(path).rfind("HTTP/1.1 404", 0), 0u) << path;
  }
  EXPECT_EQ(Get("/%zz").rfind("HTTP/1.1 400", 0), 0u);
  EXPECT_EQ(Get("/%00").rfind("HTTP/1.1 400", 0), 0u);
  EXPECT_EQ(Respond(root_.string(), "DELETE / HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405", 0), 0u);
  EXPECT_EQ(Respond(root_.string(), "GET noslash HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
  const std::string head = Respond(root_.string(), "HEAD /suite/index.html HTTP/1.1\r\n\r\n");
  EXPECT_EQ(head.rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_EQ(head.substr(head.find("\r\n\r\n") + 4), "") << "HEAD has no body";
}

}  // namespace
}  // namespace qsm::harness
