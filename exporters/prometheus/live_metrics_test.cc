// A live qsm-node's /metrics, scraped over HTTP while it runs, passes `promtool check metrics`
// and carries the DESIGN.md metric names; so does a live qsm-gms's, with two nodes registered.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <regex>
#include <string>
#include <thread>

namespace {

// GET http://127.0.0.1:port/metrics; "" if nothing answers.
std::string Scrape(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    (void)!write(fd, request.data(), request.size());
    char buffer[8192];
    for (ssize_t n; (n = read(fd, buffer, sizeof buffer)) > 0;)
      response.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

pid_t Start(const std::vector<std::string>& args, const char* binary = QSM_NODE_BINARY) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv{const_cast<char*>(binary)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    freopen("/dev/null", "w", stdout);
    execv(binary, argv.data());
    _exit(127);
  }
  return pid;
}

void ExpectPromtoolAccepts(const std::string& body) {
  std::FILE* promtool = popen("promtool check metrics > /tmp/qsm-promtool-out 2>&1", "w");
  ASSERT_NE(promtool, nullptr);
  std::fwrite(body.data(), 1, body.size(), promtool);
  EXPECT_EQ(pclose(promtool), 0) << "promtool check metrics complained; see /tmp/qsm-promtool-out";
}

TEST(LiveMetricsTest, ARunningNodesMetricsPassPromtool) {
  const std::vector<std::string> members{"--member", "1=127.0.0.1:7461", "--member", "2=127.0.0.1:7462"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"run"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), members.begin(), members.end());
    return args;
  };
  const pid_t receiver = Start(with({"--node-id", "1", "--duration", "6", "--metrics", "127.0.0.1:9471"}));
  const pid_t sender = Start(with({"--node-id", "2", "--duration", "6", "--count", "20000", "--rate", "5000",
                                   "--metrics", "127.0.0.1:9472", "--metrics-label", "role=sender"}));
  std::string text;
  for (int i = 0; i < 40 && text.find("qsm_messages_delivered_total") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    text = Scrape(9471);
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));  // a few updates with traffic
  text = Scrape(9471);
  const std::string sender_text = Scrape(9472);
  for (const char* name :
       {"qsm_token_rtt_seconds_bucket", "qsm_pending_ack_messages", "qsm_pending_ack_bytes",
        "qsm_cache_bytes", "qsm_delivery_latency_seconds_bucket", "qsm_messages_sent_total",
        "qsm_messages_delivered_total", "qsm_bytes_delivered_total", "qsm_recovery_packets_total",
        "qsm_packets_dropped_total", "qsm_core_queue_depth", "qsm_timer_lateness_seconds_bucket",
        "qsm_regions", "qsm_groups", "qsm_view_changes_total"}) {
    EXPECT_NE(text.find(name), std::string::npos) << name;
  }
  // Labels only as asked (--metrics-label): the scrape config names the target.
  EXPECT_NE(sender_text.find("qsm_pending_ack_bytes{role=\"sender\"}"), std::string::npos) << sender_text;
  EXPECT_EQ(text.find("node=\""), std::string::npos) << "a node label baked into the receiver's series";
  EXPECT_NE(text.find("\nqsm_pending_ack_bytes "), std::string::npos) << text;
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(\nqsm_build_info\{[^}]*program="qsm-node"[^}]*\} 1\n)")))
      << text;
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(qsm_build_info\{build_type="[A-Za-z]+",)"))) << text;
  ExpectPromtoolAccepts(text);
  ExpectPromtoolAccepts(sender_text);
  int status = 0;
  waitpid(receiver, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  waitpid(sender, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(LiveMetricsTest, ARunningGmsMetricsPassPromtoolAndCountItsNodes) {
  const std::string state = "/tmp/qsm-live-gms-" + std::to_string(getpid()) + ".state";
  const pid_t gms =
      Start({"--listen", "127.0.0.1:7480", "--state", state, "--metrics", "127.0.0.1:9480"}, QSM_GMS_BINARY);
  std::vector<pid_t> nodes;
  for (const char* id : {"1", "2"}) {
    nodes.push_back(Start({"run", "--node-id", id, "--gms", "127.0.0.1:7480", "--bind",
                           std::string("127.0.0.1:748") + id, "--heartbeat", "0.2", "--duration", "5"}));
  }
  std::string text;
  for (int i = 0; i < 50 && text.find("qsm_gms_nodes 2") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    text = Scrape(9480);
  }
  EXPECT_NE(text.find("qsm_gms_nodes 2"), std::string::npos) << text;
  EXPECT_NE(text.find("qsm_gms_regions 1"), std::string::npos) << text;
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(\nqsm_build_info\{[^}]*program="qsm-gms"[^}]*\} 1\n)")))
      << text;
  for (const char* name : {"qsm_gms_epoch", "qsm_gms_commits_total", "qsm_gms_registrations_total",
                           "qsm_gms_failures_total", "qsm_gms_view_updates_sent_total",
                           "qsm_gms_packets_dropped_total{reason=\"auth\"}"}) {
    EXPECT_NE(text.find(name), std::string::npos) << name;
  }
  ExpectPromtoolAccepts(text);
  int status = 0;
  for (pid_t node : nodes) {
    waitpid(node, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  kill(gms, SIGTERM);
  waitpid(gms, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::remove(state.c_str());
}

}  // namespace
