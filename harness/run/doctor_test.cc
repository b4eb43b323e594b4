// What doctor finds, on this machine's PATH and with nothing on it, against a /proc of our making.
#include "harness/run/doctor.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "harness/workload/text.h"

namespace qsm::harness {
namespace {

namespace fs = std::filesystem;

const Finding* Named(const std::vector<Finding>& findings, const std::string& check) {
  for (const Finding& f : findings) {
    if (f.check == check) return &f;
  }
  return nullptr;
}

class DoctorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    proc_ = fs::temp_directory_path() / ("qsm-doctor-test-" + std::to_string(getpid()));
    fs::create_directories(proc_ / "sys/net/core");
    ASSERT_TRUE(WriteFile((proc_ / "sys/net/core/rmem_max").string(), "212992\n").has_value());
    ASSERT_TRUE(WriteFile((proc_ / "sys/net/core/wmem_max").string(), "33554432\n").has_value());
  }
  void TearDown() override { fs::remove_all(proc_); }
  fs::path proc_;
};

TEST_F(DoctorTest, NothingOnThePathIsEachSaidWithItsPackage) {
  const auto findings = Doctor({.path = "", .node_binary = "/nonexistent/qsm-node", .proc = proc_.string()});
  const Finding* gnuplot = Named(findings, "gnuplot");
  ASSERT_NE(gnuplot, nullptr);
  EXPECT_EQ(gnuplot->level, Finding::Level::kFix);
  EXPECT_NE(gnuplot->fix.find("apt-get install gnuplot-nox"), std::string::npos) << gnuplot->fix;
  for (const char* check : {"chromium", "prometheus", "promtool", "nft", "ansible-playbook"}) {
    const Finding* f = Named(findings, check);
    ASSERT_NE(f, nullptr) << check;
    EXPECT_EQ(f->level, Finding::Level::kWarn) << check;
    EXPECT_NE(f->fix.find("apt-get install"), std::string::npos) << check;
  }
  const Finding* node = Named(findings, "qsm-node");
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(node->level, Finding::Level::kFix);
  EXPECT_EQ(Named(findings, "netns")->level, Finding::Level::kWarn) << "no ip(8) on an empty PATH";
  const Finding* rmem = Named(findings, "net.core.rmem_max");
  ASSERT_NE(rmem, nullptr);
  if (geteuid() == 0) {
    EXPECT_EQ(rmem->level, Finding::Level::kOk) << "root forces the buffer: " << rmem->detail;
    EXPECT_NE(rmem->detail.find("force"), std::string::npos);
  } else {
    EXPECT_EQ(rmem->level, Finding::Level::kWarn);
    EXPECT_NE(rmem->fix.find("sysctl -w net.core.rmem_max=33554432"), std::string::npos);
  }
  EXPECT_EQ(Named(findings, "net.core.wmem_max")->level, Finding::Level::kOk);
  const std::string text = FormatFindings(findings);
  EXPECT_NE(text.find("FIX   gnuplot"), std::string::npos) << text;
  EXPECT_NE(text.find("-> apt-get install gnuplot-nox"), std::string::npos) << text;
}

TEST_F(DoctorTest, WhatSetupInstallsIsFound) {
  const char* path = std::getenv("PATH");
  const auto findings = Doctor({.path = path ? path : "", .node_binary = "/nonexistent/qsm-node", .proc = proc_.string()});
  for (const char* check : {"gnuplot", "promtool", "chromium", "ansible-playbook"}) {
    const Finding* f = Named(findings, check);
    ASSERT_NE(f, nullptr) << check;
    EXPECT_EQ(f->level, Finding::Level::kOk) << check << ": " << f->detail;
  }
  EXPECT_EQ(Named(findings, "clock"), nullptr) << "no inventory, no clock check";
}

}  // namespace
}  // namespace qsm::harness
