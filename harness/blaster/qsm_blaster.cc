// qsm-blaster: the physical limit the engine is compared against. One sender multicasts numbered
// datagrams as fast as it can (or at --rate) with sendmmsg to K receiver processes on loopback,
// which count what arrives with recvmmsg. No reliability, no engine code: plain sockets.
// Prints messages/s sent, and per receiver messages/s received and loss.
//
// Network safety: the multicast interface must be on 127.0.0.0/8 or 198.18.0.0/15 and is always
// set explicitly (IP_MULTICAST_IF); TTL is 1.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "engine/core/build_info.h"
#include "harness/blaster/blaster.h"

namespace {

using qsm::blaster::ReceiverProcesses;

using Clock = std::chrono::steady_clock;
constexpr uint64_t kEndMarker = ~uint64_t{0};
constexpr size_t kBatch = 64;

struct Options : qsm::blaster::CommonFlags {
  Options() : CommonFlags("239.255.0.2", 7600) {}
  size_t size = 1000;
  std::string rate = "max";
};

struct ReceiverResult {
  uint64_t received = 0;
  uint64_t bytes = 0;
  uint64_t highest = 0;
  uint64_t duplicates_or_reordered = 0;  // arrived with a sequence number not above the highest
};

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "qsm-blaster: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

int ReceiverSocket(const Options& o, in_addr group, in_addr iface) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd < 0) Die("socket");
  int one = 1, zero = 0, rcvbuf = 32 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  }
  ::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof zero);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(o.port);
  sa.sin_addr = group;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) Die("bind receiver");
  ip_mreq mreq{group, iface};
  if (::setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq) != 0) Die("join group");
  return fd;
}

// Child process: counts datagrams until the end marker or the deadline.
ReceiverResult Receive(int fd, Clock::time_point deadline, size_t size) {
  ReceiverResult r;
  std::vector<std::vector<char>> buffers(kBatch, std::vector<char>(std::max<size_t>(size, 8) + 64));
  std::vector<mmsghdr> headers(kBatch);
  std::vector<iovec> iov(kBatch);
  for (size_t i = 0; i < kBatch; ++i) {
    iov[i] = {buffers[i].data(), buffers[i].size()};
    headers[i].msg_hdr = msghdr{};
    headers[i].msg_hdr.msg_iov = &iov[i];
    headers[i].msg_hdr.msg_iovlen = 1;
  }
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    for (;;) {
      const int n = ::recvmmsg(fd, headers.data(), kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) break;
      for (int i = 0; i < n; ++i) {
        uint64_t seq;
        std::memcpy(&seq, buffers[static_cast<size_t>(i)].data(), 8);
        if (seq == kEndMarker) return r;
        ++r.received;
        r.bytes += headers[static_cast<size_t>(i)].msg_len;
        if (seq <= r.highest) ++r.duplicates_or_reordered;
        r.highest = std::max(r.highest, seq);
      }
    }
  }
  return r;
}

// The flags, checked: rate 0 means "max".
struct Plan {
  Options o;
  double rate = 0;
  in_addr group{}, iface{};
};

// Returns the exit code on a bad flag (2) or --help (0).
std::variant<Plan, int> ParseFlags(int argc, char** argv) {
  Plan plan;
  Options& o = plan.o;
  CLI::App app{"qsm-blaster: raw unreliable UDP multicast, 1 sender to K receiver processes on loopback"};
  app.set_version_flag("--version", qsm::VersionText("qsm-blaster"));
  qsm::blaster::AddCommonFlags(app, o);
  app.add_option("-s,--size", o.size, "datagram bytes")->capture_default_str()->check(CLI::Range(8, 65000));
  app.add_option("-r,--rate", o.rate, "datagrams/s, or max")->capture_default_str();
  if (auto code = qsm::blaster::ParseFlags(app, argc, argv, "qsm-blaster", o, plan.group, plan.iface)) return *code;
  if (o.rate != "max") {
    try {
      plan.rate = std::stod(o.rate);
    } catch (...) {
      plan.rate = -1;
    }
    if (!(plan.rate > 0)) {
      std::fprintf(stderr, "qsm-blaster: --rate must be a positive number or 'max', not '%s'\n",
                   o.rate.c_str());
      return 2;
    }
  }
  return plan;
}

// Forks the receivers. Sockets are opened before fork so every receiver is joined before sending starts.
void StartReceivers(const Plan& plan, Clock::time_point deadline, ReceiverProcesses<ReceiverResult>& receivers) {
  for (int k = 0; k < plan.o.receivers; ++k) {
    const int fd = ReceiverSocket(plan.o, plan.group, plan.iface);
    receivers.Fork([&] { return Receive(fd, deadline, plan.o.size); });
    ::close(fd);
  }
}

// The sender: multicasts numbered datagrams in sendmmsg batches for the duration, then the end
// marker a few times.
class Sender {
 public:
  explicit Sender(const Plan& plan) : plan_(plan), payloads_(kBatch, std::vector<char>(plan.o.size, 'q')) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    if (fd_ < 0) Die("socket");
    const unsigned char ttl = 1, loop = 1;
    int sndbuf = 4 << 20;
    if (::setsockopt(fd_, IPPROTO_IP, IP_MULTICAST_IF, &plan.iface, sizeof plan.iface) != 0)
      Die("set IP_MULTICAST_IF");
    ::setsockopt(fd_, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
    ::setsockopt(fd_, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    to_.sin_family = AF_INET;
    to_.sin_port = htons(plan.o.port);
    to_.sin_addr = plan.group;
    for (size_t i = 0; i < kBatch; ++i) {
      iov_[i] = {payloads_[i].data(), plan.o.size};
      headers_[i].msg_hdr = msghdr{};
      headers_[i].msg_hdr.msg_name = &to_;
      headers_[i].msg_hdr.msg_namelen = sizeof to_;
      headers_[i].msg_hdr.msg_iov = &iov_[i];
      headers_[i].msg_hdr.msg_iovlen = 1;
    }
  }
  Sender(const Sender&) = delete;
  Sender& operator=(const Sender&) = delete;
  ~Sender() { ::close(fd_); }

  // Sends for `duration`; returns the seconds it took. sent() is the datagrams sent.
  double Blast(Clock::duration duration) {
    const auto start = Clock::now();
    const auto end = start + duration;
    for (auto now = start; now < end; now = Clock::now()) {
      size_t batch = kBatch;
      if (plan_.rate > 0) {
        const auto due =
            static_cast<uint64_t>(std::chrono::duration<double>(now - start).count() * plan_.rate);
        if (due <= seq_) {
          std::this_thread::sleep_for(std::chrono::microseconds(100));
          continue;
        }
        batch = std::min<uint64_t>(kBatch, due - seq_);
      }
      for (size_t i = 0; i < batch; ++i) {
        const uint64_t s = seq_ + i + 1;
        std::memcpy(payloads_[i].data(), &s, 8);
      }
      const int n = ::sendmmsg(fd_, headers_.data(), static_cast<unsigned>(batch), 0);
      if (n > 0) seq_ += static_cast<uint64_t>(n);
    }
    return std::chrono::duration<double>(Clock::now() - start).count();
  }

  void SendEndMarkers() {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let receivers drain
    for (int i = 0; i < 5; ++i) {
      std::memcpy(payloads_[0].data(), &kEndMarker, 8);
      ::sendto(fd_, payloads_[0].data(), plan_.o.size, 0, reinterpret_cast<sockaddr*>(&to_), sizeof to_);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  uint64_t sent() const { return seq_; }

 private:
  const Plan& plan_;
  int fd_ = -1;
  sockaddr_in to_{};
  std::vector<std::vector<char>> payloads_;
  std::array<mmsghdr, kBatch> headers_{};
  std::array<iovec, kBatch> iov_{};
  uint64_t seq_ = 0;
};

void Print(const Plan& plan, uint64_t sent, double elapsed, const std::vector<ReceiverResult>& results) {
  const Options& o = plan.o;
  const double sent_rate = static_cast<double>(sent) / elapsed;
  auto loss = [sent](const ReceiverResult& r) {
    return sent ? 1.0 - static_cast<double>(r.received) / static_cast<double>(sent) : 0.0;
  };
  if (o.json) {
    std::printf(
        R"({"size":%zu,"receivers":%d,"duration_s":%.3f,"sent":%llu,"sent_per_s":%.0f,"received":[)",
        o.size, o.receivers, elapsed, static_cast<unsigned long long>(sent), sent_rate);
    for (size_t k = 0; k < results.size(); ++k) {
      std::printf(R"(%s{"received":%llu,"per_s":%.0f,"loss":%.6f})", k ? "," : "",
                  static_cast<unsigned long long>(results[k].received),
                  static_cast<double>(results[k].received) / elapsed, loss(results[k]));
    }
    std::printf("]}\n");
    return;
  }
  std::printf("qsm-blaster: 1 sender -> %d receiver(s), %zu-byte datagrams, %.1f s, rate %s, %s:%u via %s\n",
              o.receivers, o.size, elapsed, o.rate.c_str(), o.group.c_str(), o.port, o.interface.c_str());
  std::printf("  sender       %10llu sent      %9.0f msgs/s  %7.1f MB/s\n",
              static_cast<unsigned long long>(sent), sent_rate,
              sent_rate * static_cast<double>(o.size) / 1e6);
  for (size_t k = 0; k < results.size(); ++k) {
    const double r = static_cast<double>(results[k].received) / elapsed;
    std::printf("  receiver %-3zu %10llu received  %9.0f msgs/s  %7.1f MB/s  loss %5.2f%%\n", k + 1,
                static_cast<unsigned long long>(results[k].received), r,
                r * static_cast<double>(o.size) / 1e6, 100.0 * loss(results[k]));
  }
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = ParseFlags(argc, argv);
  if (const int* code = std::get_if<int>(&parsed)) return *code;
  const Plan& plan = std::get<Plan>(parsed);
  const auto duration =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(plan.o.duration_s));
  ReceiverProcesses<ReceiverResult> receivers("qsm-blaster");
  StartReceivers(plan, Clock::now() + duration + std::chrono::seconds(5), receivers);
  Sender sender(plan);
  const double elapsed = sender.Blast(duration);
  sender.SendEndMarkers();
  Print(plan, sender.sent(), elapsed, receivers.Collect());
  return 0;
}
